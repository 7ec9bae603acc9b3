// rss: does the server's resident memory stay bounded while a queue holds a long backlog?
//
// For each scenario (default: 1,000,000 x 1 KiB, then 10,000,000 x 64 B — the design table) it
// fills one queue with pipelined sets, sampling the server's RSS (VmRSS of --pid) every
// --sample-every items, then drains it with pipelined gets, sampling likewise, then waits
// --settle seconds and samples once more. A 250 ms sampler also records the peak in between.
// Design target: < 100 MB after 1 M x 1 KiB queued then drained (judged on the settled sample:
// the server compacts a drained queue and trims its heap within ~2 s), and < 100 MB with
// 10 M x 64 B queued.
//
// siberite only: memcached keeps every value in memory by design, so its RSS grows with the
// data and there is nothing to compare.
// Only loopback hosts are accepted: load traffic must not leave this machine.

import { performance } from 'node:perf_hooks';

import { Args, runWithOptions, sleep, UsageError } from './lib/cli.js';
import { deleteQueue, identifyServer, serverStats } from './lib/commands.js';
import { resolveLoopbackHost } from './lib/loopback.js';
import { PipelinePool, repeatedRequest } from './lib/pipeline.js';
import { bytesToMB, readRssBytes } from './lib/proc.js';
import { defaultResultsPath, writeResults } from './lib/results.js';
import { formatInt, round, TablePrinter } from './lib/stats.js';
import { buildGet, buildSet, makePayload } from './lib/textClient.js';

const TOOL = 'rss';
const TARGET_MB = 100;
const DEFAULT_SCENARIOS = '1000000x1024,10000000x64';
const USAGE = `usage: node dist/bench/rss.js --pid <server pid> [options]

  --host <addr>          loopback server address (127.0.0.0/8, ::1, localhost)  [127.0.0.1]
  --port <n>             server port                                            [22133]
  --pid <pid>            server process id (required): its RSS is what is measured
  --label <name>         name for the table and the results file                [siberite]
  --scenarios <list>     comma-separated <items>x<value bytes>, run in order     [${DEFAULT_SCENARIOS}]
  --items <n>            one scenario of n items (with --value-size)
  --value-size <bytes>   item size of that scenario                             [1024]
  --sample-every <n>     items between RSS samples                              [items / 10]
  --connections <n>      connections for the pipelined fill and drain           [4]
  --window <n>           requests in flight per connection                      [256]
  --settle <s>           wait after the drain before the last sample            [3]
  --queue <name>         queue to use (deleted before and after each scenario)  [rss]
  --time-limit <s>       give up (and clean up) after this long                 [3600]
  --json <file>          results file                       [bench/results/rss-<label>.json]
  --help                 this text`;

interface Scenario {
  items: number;
  valueSize: number;
}

interface Options {
  host: string;
  port: number;
  pid: number;
  label: string;
  scenarios: Scenario[];
  sampleEvery: number | null;
  connections: number;
  window: number;
  settleS: number;
  queue: string;
  timeLimitS: number;
  json: string;
}

function parseScenarios(list: string): Scenario[] {
  return list.split(',').map((s) => {
    const m = /^\s*([\d_]+)\s*x\s*(\d+)\s*$/i.exec(s);
    if (!m) throw new UsageError(`--scenarios: bad entry ${JSON.stringify(s)} (want <items>x<bytes>, e.g. 1000000x1024)`);
    const items = Number(m[1]!.replace(/_/g, ''));
    const valueSize = Number(m[2]);
    if (items < 1 || items > 1_000_000_000 || valueSize > 1024 * 1024)
      throw new UsageError(`--scenarios: ${JSON.stringify(s)} out of range`);
    return { items, valueSize };
  });
}

function parseOptions(argv: string[]): Options | null {
  const a = new Args(argv, [
    'host',
    'port',
    'pid',
    'label',
    'scenarios',
    'items',
    'value-size',
    'sample-every',
    'connections',
    'window',
    'settle',
    'queue',
    'time-limit',
    'json',
  ]);
  if (a.help) return null;
  const label = a.label('siberite');
  const pid = a.optInt('pid', 1, 2 ** 31 - 1);
  if (pid === null) throw new UsageError('--pid is required: the server RSS is what this bench measures');
  let scenarios: Scenario[];
  if (a.has('items')) {
    if (a.has('scenarios')) throw new UsageError('give either --scenarios or --items/--value-size');
    scenarios = [{ items: a.int('items', 0, 1, 1_000_000_000), valueSize: a.int('value-size', 1024, 0, 1024 * 1024) }];
  } else {
    if (a.has('value-size')) throw new UsageError('--value-size needs --items');
    scenarios = parseScenarios(a.str('scenarios', DEFAULT_SCENARIOS));
  }
  const queue = a.str('queue', 'rss');
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(queue)) throw new UsageError('--queue may only contain letters, digits, "_" and "-"');
  return {
    host: a.str('host', '127.0.0.1'),
    port: a.int('port', 22133, 1, 65535),
    pid,
    label,
    scenarios,
    sampleEvery: a.optInt('sample-every', 1, 1_000_000_000),
    connections: a.int('connections', 4, 1, 256),
    window: a.int('window', 256, 1, 4096),
    settleS: a.num('settle', 3, 0, 600),
    queue,
    timeLimitS: a.num('time-limit', 3600, 1, 86_400),
    json: a.str('json', defaultResultsPath(TOOL, label)),
  };
}

interface Sample {
  phase: 'start' | 'fill' | 'drain' | 'settled';
  backlog: number;
  rssMB: number | null;
  /** Highest RSS sampled (250 ms) since the previous sample. */
  peakMB: number | null;
  /** Pipelined ops/s of the segment that led here. */
  opsPerSec: number | null;
  /** The server's head window for the queue (siberite stats), if reported. */
  memItems: number | null;
  memMB: number | null;
}

interface ScenarioResult extends Scenario {
  name: string;
  samples: Sample[];
  fillSeconds: number | null;
  drainSeconds: number | null;
  summary: {
    startMB: number | null;
    maxWhileFillingMB: number | null;
    atFullBacklogMB: number | null;
    maxWhileDrainingMB: number | null;
    afterDrainMB: number | null;
    settledMB: number | null;
    peakMB: number | null;
    /** The design's measure for this scenario: after the drain (1 KiB) / at full backlog (64 B). */
    targetMeasure: 'afterDrain' | 'atFullBacklog';
    targetMB: number;
    pass: boolean | null;
  };
}

function scenarioName(s: Scenario): string {
  const items = s.items % 1_000_000 === 0 ? `${s.items / 1_000_000}M` : s.items % 1000 === 0 ? `${s.items / 1000}k` : String(s.items);
  const size = s.valueSize % 1024 === 0 && s.valueSize > 0 ? `${s.valueSize / 1024}KiB` : `${s.valueSize}B`;
  return `${items}x${size}`;
}

async function main(opts: Options): Promise<number> {
  const host = await resolveLoopbackHost(opts.host).catch((err: Error) => {
    throw new UsageError(err.message);
  });
  const pid = opts.pid;
  if (readRssBytes(pid) === null) throw new UsageError(`cannot read VmRSS from /proc/${pid}/status (no such process?)`);
  let ident;
  try {
    ident = await identifyServer(host, opts.port);
  } catch (err) {
    process.stderr.write(`${TOOL}: cannot reach ${host}:${opts.port}: ${(err as Error).message} (is the server running?)\n`);
    return 1;
  }
  if (!ident.siberite) {
    process.stderr.write(
      `${TOOL}: ${host}:${opts.port} is not siberite (version ${ident.version}); this bench needs a queue server (see bench/README.md)\n`,
    );
    return 2;
  }

  const rss = (): number | null => {
    const b = readRssBytes(pid);
    return b === null ? null : round(bytesToMB(b));
  };
  const startedAt = new Date();
  const deadline = performance.now() + opts.timeLimitS * 1000;
  process.stdout.write(
    `${TOOL} ${opts.label} @ ${host}:${opts.port} (${ident.version}), pid ${pid}: queue "${opts.queue}", scenarios ` +
      `${opts.scenarios.map(scenarioName).join(', ')}; pipelined fill/drain over ${opts.connections} connections x ${opts.window}\n\n`,
  );

  const table = new TablePrinter([
    { title: 'scenario', width: 11, align: 'left' },
    { title: 'phase', width: 7, align: 'left' },
    { title: 'backlog', width: 11 },
    { title: 'RSS MB', width: 7 },
    { title: 'peak MB', width: 7 },
    { title: 'ops/s', width: 8 },
    { title: 'mem items', width: 9 },
    { title: 'mem MB', width: 6 },
  ]);
  table.header();

  let peak = 0;
  const sampler = setInterval(() => {
    const r = rss();
    if (r !== null && r > peak) peak = r;
  }, 250);
  const takePeak = (): number | null => {
    const r = rss();
    const p = Math.max(peak, r ?? 0);
    peak = 0;
    return p > 0 ? p : null;
  };

  const results: ScenarioResult[] = [];
  let failure: string | null = null;
  const pool = await PipelinePool.open(host, opts.port, opts.connections, opts.window).catch((err: Error) => {
    clearInterval(sampler);
    throw err;
  });
  try {
    for (const sc of opts.scenarios) {
      const name = scenarioName(sc);
      const every = opts.sampleEvery ?? Math.max(1, Math.ceil(sc.items / 10));
      const samples: Sample[] = [];
      const res: ScenarioResult = { name, ...sc, samples, fillSeconds: null, drainSeconds: null, summary: null as never };
      results.push(res);

      const sample = async (phase: Sample['phase'], backlog: number, opsPerSec: number | null): Promise<void> => {
        const st = await serverStats(host, opts.port);
        const memItems = st.get(`queue_${opts.queue}_mem_items`);
        const memBytes = st.get(`queue_${opts.queue}_mem_bytes`);
        const s: Sample = {
          phase,
          backlog,
          rssMB: rss(),
          peakMB: takePeak(),
          opsPerSec: opsPerSec === null ? null : Math.round(opsPerSec),
          memItems: memItems === undefined ? null : Number(memItems),
          memMB: memBytes === undefined ? null : round(bytesToMB(Number(memBytes))),
        };
        samples.push(s);
        table.row([
          name,
          phase,
          formatInt(backlog),
          s.rssMB === null ? '-' : s.rssMB.toFixed(1),
          s.peakMB === null ? '-' : s.peakMB.toFixed(1),
          s.opsPerSec === null ? '-' : formatInt(s.opsPerSec),
          s.memItems === null ? '-' : formatInt(s.memItems),
          s.memMB === null ? '-' : s.memMB.toFixed(1),
        ]);
      };

      await deleteQueue(host, opts.port, opts.queue);
      await sleep(500);
      takePeak();
      await sample('start', 0, null);

      const setSource = repeatedRequest(buildSet(opts.queue, makePayload(sc.valueSize)), opts.window);
      const getSource = repeatedRequest(buildGet(opts.queue), opts.window);
      let backlog = 0;
      let t0 = performance.now();
      while (backlog < sc.items) {
        const n = Math.min(every, sc.items - backlog);
        const r = await pool.run(n, setSource, deadline);
        if (r.counts.stored !== n)
          throw new Error(
            `${name} fill: ${n - r.counts.stored} of ${n} sets not STORED (first other reply: ${r.counts.firstOther ?? '-'})`,
          );
        backlog += n;
        await sample('fill', backlog, r.opsPerSec);
      }
      res.fillSeconds = round((performance.now() - t0) / 1000, 2);
      const st = await serverStats(host, opts.port);
      const items = Number(st.get(`queue_${opts.queue}_items`) ?? NaN);
      if (items !== sc.items)
        process.stderr.write(`${TOOL}: warning: server reports ${items} items in ${opts.queue}, expected ${sc.items}\n`);

      t0 = performance.now();
      while (backlog > 0) {
        const n = Math.min(every, backlog);
        const r = await pool.run(n, getSource, deadline);
        if (r.counts.values !== n)
          throw new Error(
            `${name} drain: ${n - r.counts.values} of ${n} gets found nothing (first other reply: ${r.counts.firstOther ?? 'END'})`,
          );
        backlog -= n;
        await sample('drain', backlog, r.opsPerSec);
      }
      res.drainSeconds = round((performance.now() - t0) / 1000, 2);
      const last = await pool.run(1, getSource, deadline);
      if (last.counts.ends !== 1) throw new Error(`${name}: the queue still has items after the drain`);
      if (opts.settleS > 0) {
        await sleep(opts.settleS * 1000);
        await sample('settled', 0, null);
      }
      await deleteQueue(host, opts.port, opts.queue);
    }
  } catch (err) {
    failure = (err as Error).message;
    process.stderr.write(`${TOOL}: ${failure}\n`);
    await deleteQueue(host, opts.port, opts.queue).catch(() => {});
  } finally {
    clearInterval(sampler);
    pool.close();
  }

  process.stdout.write('\n');
  const maxOf = (xs: Array<number | null>): number | null => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length === 0 ? null : Math.max(...v);
  };
  const summaryTable = new TablePrinter([
    { title: 'scenario', width: 11, align: 'left' },
    { title: 'start', width: 6 },
    { title: 'max fill', width: 8 },
    { title: 'full', width: 6 },
    { title: 'max drain', width: 9 },
    { title: 'drained', width: 7 },
    { title: 'settled', width: 7 },
    { title: 'peak', width: 6 },
    { title: 'fill s', width: 7 },
    { title: 'drain s', width: 7 },
    { title: `target < ${TARGET_MB} MB`, width: 26, align: 'left' },
  ]);
  process.stdout.write('RSS MB summary\n');
  summaryTable.header();
  for (const r of results) {
    const s = r.samples;
    const fills = s.filter((x) => x.phase === 'fill');
    const drains = s.filter((x) => x.phase === 'drain');
    const full = fills.length > 0 && fills.at(-1)!.backlog === r.items ? fills.at(-1)!.rssMB : null;
    const afterDrain = drains.length > 0 && drains.at(-1)!.backlog === 0 ? drains.at(-1)!.rssMB : null;
    const settled = s.find((x) => x.phase === 'settled')?.rssMB ?? null;
    const measure = r.valueSize >= 1024 ? 'afterDrain' : 'atFullBacklog';
    // "After drained": once the server has had its housekeeping (--settle) after the last get;
    // without a settle, the sample taken at the last get.
    const measured = measure === 'afterDrain' ? (settled ?? afterDrain) : full;
    const measuredName = measure === 'atFullBacklog' ? 'full' : settled === null ? 'drained' : 'settled';
    r.summary = {
      startMB: s.find((x) => x.phase === 'start')?.rssMB ?? null,
      maxWhileFillingMB: maxOf(fills.map((x) => x.rssMB)),
      atFullBacklogMB: full,
      maxWhileDrainingMB: maxOf(drains.map((x) => x.rssMB)),
      afterDrainMB: afterDrain,
      settledMB: settled,
      peakMB: maxOf(s.map((x) => x.peakMB)),
      targetMeasure: measure,
      targetMB: TARGET_MB,
      pass: measured === null ? null : measured < TARGET_MB,
    };
    const f = (x: number | null): string => (x === null ? '-' : x.toFixed(1));
    summaryTable.row([
      r.name,
      f(r.summary.startMB),
      f(r.summary.maxWhileFillingMB),
      f(full),
      f(r.summary.maxWhileDrainingMB),
      f(afterDrain),
      f(r.summary.settledMB),
      f(r.summary.peakMB),
      r.fillSeconds === null ? '-' : r.fillSeconds.toFixed(1),
      r.drainSeconds === null ? '-' : r.drainSeconds.toFixed(1),
      measured === null ? '-' : `${measuredName} ${measured.toFixed(1)}: ${r.summary.pass ? 'PASS' : 'FAIL'}`,
    ]);
  }

  writeResults(
    opts.json,
    {
      tool: TOOL,
      label: opts.label,
      startedAt,
      failure,
      options: {
        host,
        port: opts.port,
        pid,
        scenarios: opts.scenarios,
        sampleEvery: opts.sampleEvery,
        connections: opts.connections,
        window: opts.window,
        settleSeconds: opts.settleS,
        queue: opts.queue,
        timeLimitSeconds: opts.timeLimitS,
      },
    },
    { server: ident.version, scenarios: results },
  );
  process.stdout.write(`\nresults written to ${opts.json}\n`);
  return failure === null ? 0 : 1;
}

runWithOptions(TOOL, USAGE, parseOptions, main);
