// packing: does throughput hold up when a queue has a long backlog?
//
// Phase 1 (fill) grows the backlog with pipelined sets of --value-size bytes (--fill-connections
// connections, --window requests in flight on each) up to --items. At each checkpoint (default
// backlog 0, 10 %, 25 %, 50 %, 100 % of --items) it runs the same fixed mix for --seconds:
// --connections connections, one request in flight each, set/get alternating on the backlogged
// queue (the flood pattern of lib/floodRunner.ts), and reports ops/s and latency at that backlog.
// Phase 2 (drain) consumes the backlog with pipelined gets back down through the same
// checkpoints to 0, measuring likewise. The mix itself keeps the backlog steady (each connection
// alternates set and get), so a checkpoint's gets are served from the old head of the queue.
//
// The headline is throughput at the largest backlog / throughput with an empty queue
// (design target ≥ 90 %); the ratio of "empty after the drain" to "empty at the start" shows
// whether consumed history (tombstones) slows a queue down.
//
// Against memcached (no queues: `get` returns a key's value, `set` overwrites it) the script runs
// in keys mode: the backlog is --items distinct keys <queue>:<n> (set while filling, deleted
// while draining) and the mix does set/get on the key <queue>. That is not a queue, but it is
// the same client doing the same work per request at the same resident data size, so it gives
// the load client's and the protocol's ceiling for each checkpoint. The mode is chosen from the
// server's `stats` (siberite → queue mode) unless --mode says otherwise. Keys mode refuses to run
// against siberite, where every key would be a queue of its own.
//
// Only loopback hosts are accepted: load traffic must not leave this machine.

import { performance } from 'node:perf_hooks';

import { Args, runWithOptions, UsageError } from './lib/cli.js';
import { deleteQueue, identifyServer, queueItems, rawCommand } from './lib/commands.js';
import { runFloodLevel, type LevelResult } from './lib/floodRunner.js';
import { resolveLoopbackHost } from './lib/loopback.js';
import { PipelinePool, roundRobinRequests, type BatchSource, type PipelineResult } from './lib/pipeline.js';
import { bytesToMB, readRssBytes } from './lib/proc.js';
import { defaultResultsPath, writeResults } from './lib/results.js';
import { formatInt, round, TablePrinter } from './lib/stats.js';
import { buildGet, buildSet, makePayload } from './lib/textClient.js';

const TOOL = 'packing';
const USAGE = `usage: node dist/bench/packing.js [options]

  --host <addr>            loopback server address (127.0.0.0/8, ::1, localhost)  [127.0.0.1]
  --port <n>               server port                                            [22133]
  --pid <pid>              server process id: report its RSS (from /proc)
  --label <name>           name for the table and the results file                [siberite]
  --items <n>              largest backlog                                        [1000000]
  --value-size <bytes>     item size                                              [1024]
  --queues <n>             spread the backlog (and the mix) over n queues          [1]
  --queue <name>           queue name (or prefix with --queues > 1)               [packing]
  --checkpoints <list>     backlogs to measure at, ascending                       [0,10%,25%,50%,100% of --items]
  --connections <n>        mix connections, one request in flight each            [10]
  --seconds <s>            measured seconds of the mix per checkpoint             [2]
  --warmup <s>             unmeasured seconds of the mix before each checkpoint    [0.25]
  --first-warmup <s>       ... before the first checkpoint (server JIT warm-up)    [2]
  --timeout <s>            mix reply timeout                                      [2]
  --fill-connections <n>   connections for pipelined fill/drain                   [4]
  --window <n>             requests in flight per fill/drain connection           [256]
  --mode <m>               auto | queue | keys (keys: backlog = distinct keys,     [auto]
                           for memcached; auto: queue if the server is siberite)
  --time-limit <s>         give up (and clean up) after this long                 [1800]
  --keep                   leave the queue (queue mode) as it is at the end
  --json <file>            results file                   [bench/results/packing-<label>.json]
  --help                   this text

The queue(s) are deleted before the run and after it (queue mode), so runs are repeatable.`;

interface Options {
  host: string;
  port: number;
  pid: number | null;
  label: string;
  items: number;
  valueSize: number;
  queues: number;
  queue: string;
  checkpoints: number[];
  connections: number;
  seconds: number;
  warmup: number;
  firstWarmup: number;
  timeoutMs: number;
  fillConnections: number;
  window: number;
  mode: 'auto' | 'queue' | 'keys';
  timeLimitS: number;
  keep: boolean;
  json: string;
}

function parseOptions(argv: string[]): Options | null {
  const a = new Args(
    argv,
    [
      'host',
      'port',
      'pid',
      'label',
      'items',
      'value-size',
      'queues',
      'queue',
      'checkpoints',
      'connections',
      'seconds',
      'warmup',
      'first-warmup',
      'timeout',
      'fill-connections',
      'window',
      'mode',
      'time-limit',
      'json',
    ],
    ['keep'],
  );
  if (a.help) return null;
  const label = a.label('siberite');
  const items = a.int('items', 1_000_000, 1, 1_000_000_000);
  const queue = a.str('queue', 'packing');
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(queue)) throw new UsageError('--queue may only contain letters, digits, "_" and "-"');
  let checkpoints: number[];
  const cpRaw = a.optStr('checkpoints');
  if (cpRaw === null) {
    checkpoints = [...new Set([0, 0.1, 0.25, 0.5, 1].map((f) => Math.round(f * items)))];
  } else {
    checkpoints = cpRaw.split(',').map((s) => {
      const t = s.trim();
      const pct = /^(\d+(?:\.\d+)?)%$/.exec(t);
      if (pct) return Math.round((Number(pct[1]) / 100) * items);
      const n = Number(t.replace(/_/g, ''));
      if (!/^[\d_]+$/.test(t) || !Number.isSafeInteger(n)) throw new UsageError(`--checkpoints: bad entry ${JSON.stringify(t)}`);
      return n;
    });
    for (let i = 1; i < checkpoints.length; i++) {
      if (checkpoints[i]! <= checkpoints[i - 1]!) throw new UsageError('--checkpoints must be strictly ascending');
    }
    if (checkpoints.length === 0) throw new UsageError('--checkpoints must not be empty');
  }
  const pid = a.optInt('pid', 1, 2 ** 31 - 1);
  return {
    host: a.str('host', '127.0.0.1'),
    port: a.int('port', 22133, 1, 65535),
    pid,
    label,
    items,
    valueSize: a.int('value-size', 1024, 0, 1024 * 1024),
    queues: a.int('queues', 1, 1, 1000),
    queue,
    checkpoints,
    connections: a.int('connections', 10, 1, 10_000),
    seconds: a.num('seconds', 2, 0.1, 600),
    warmup: a.num('warmup', 0.25, 0, 600),
    firstWarmup: a.num('first-warmup', 2, 0, 600),
    timeoutMs: a.num('timeout', 2, 0.01, 600) * 1000,
    fillConnections: a.int('fill-connections', 4, 1, 256),
    window: a.int('window', 256, 1, 4096),
    mode: a.choice('mode', 'auto', ['auto', 'queue', 'keys'] as const),
    timeLimitS: a.num('time-limit', 1800, 1, 86_400),
    keep: a.flag('keep'),
    json: a.str('json', defaultResultsPath(TOOL, label)),
  };
}

interface Checkpoint {
  phase: 'fill' | 'drain';
  /** Items in the backlog when the mix started (queue mode: from the server's stats). */
  backlog: number;
  /** The checkpoint asked for. */
  target: number;
  opsPerSec: number;
  latencyUs: { p50: number; p99: number; p999: number; max: number };
  errors: number;
  getHits: number;
  getMisses: number;
  rssMB: number | null;
  /** The pipelined fill or drain that led to this checkpoint. */
  load: { requests: number; seconds: number; opsPerSec: number } | null;
  mix: LevelResult;
}

async function main(opts: Options): Promise<number> {
  const host = await resolveLoopbackHost(opts.host).catch((err: Error) => {
    throw new UsageError(err.message);
  });
  if (opts.pid !== null && readRssBytes(opts.pid) === null)
    throw new UsageError(`cannot read VmRSS from /proc/${opts.pid}/status (no such process?)`);

  let version: string;
  let siberite: boolean;
  try {
    ({ version, siberite } = await identifyServer(host, opts.port));
  } catch (err) {
    process.stderr.write(`${TOOL}: cannot reach ${host}:${opts.port}: ${(err as Error).message} (is the server running?)\n`);
    return 1;
  }
  const mode: 'queue' | 'keys' = opts.mode === 'auto' ? (siberite ? 'queue' : 'keys') : opts.mode;
  if (mode === 'keys' && siberite) {
    process.stderr.write(`${TOOL}: keys mode against siberite would create ${formatInt(opts.items)} queues; use --mode queue\n`);
    return 2;
  }
  const names = opts.queues === 1 ? [opts.queue] : Array.from({ length: opts.queues }, (_, i) => `${opts.queue}${i}`);
  const rss = (): number | null => {
    const b = opts.pid === null ? null : readRssBytes(opts.pid);
    return b === null ? null : round(bytesToMB(b));
  };

  const startedAt = new Date();
  process.stdout.write(
    `${TOOL} ${opts.label} @ ${host}:${opts.port} (${version}), ${mode} mode: backlog of up to ${formatInt(opts.items)} x ${opts.valueSize} B ` +
      `in ${names.length === 1 ? `queue "${names[0]}"` : `${names.length} queues ${names[0]}..${names.at(-1)}`}` +
      `${mode === 'keys' ? ' (as distinct keys)' : ''}\n` +
      `checkpoints ${opts.checkpoints.map(formatInt).join(', ')}: ${opts.connections} connections x 1 in flight, set/get alternating, ` +
      `${opts.warmup}s warm-up + ${opts.seconds}s measured; fill/drain pipelined over ${opts.fillConnections} connections x ${opts.window}\n\n`,
  );

  if (mode === 'queue') for (const q of names) await deleteQueue(host, opts.port, q);

  const withRss = opts.pid !== null;
  const table = new TablePrinter([
    { title: 'phase', width: 5, align: 'left' },
    { title: 'backlog', width: 10 },
    { title: 'ops/s', width: 8 },
    { title: 'p50 us', width: 7 },
    { title: 'p99 us', width: 7 },
    { title: 'p999 us', width: 8 },
    { title: 'errors', width: 6 },
    ...(withRss
      ? [
          { title: 'RSS MB', width: 7 },
          { title: 'srv CPU %', width: 9 },
          { title: 'CPU us/op', width: 9 },
        ]
      : []),
    { title: 'fill/drain ops/s', width: 16 },
  ]);
  table.header();

  const payload = makePayload(opts.valueSize);
  const queueSets = roundRobinRequests(
    names.map((q) => buildSet(q, payload)),
    opts.window,
  );
  const queueGets = roundRobinRequests(
    names.map((q) => buildGet(q)),
    opts.window,
  );
  // keys mode: request i of a run addresses key <queue>:<base + i>
  const keySets =
    (base: number): BatchSource =>
    (start, n) => {
      const parts: Buffer[] = [];
      for (let k = 0; k < n; k++) parts.push(buildSet(`${opts.queue}:${base + start + k}`, payload));
      return Buffer.concat(parts);
    };
  const keyDeletes =
    (base: number): BatchSource =>
    (start, n) =>
      Buffer.from(Array.from({ length: n }, (_, k) => `delete ${opts.queue}:${base + start + k}\r\n`).join(''), 'latin1');

  const rows: Checkpoint[] = [];
  let failure: string | null = null;
  let nominal = 0; // keys mode: keys 0..nominal-1 exist
  let rssPeak = rss() ?? 0;
  const rssBefore = rss();
  const sampler = withRss
    ? setInterval(() => {
        const r = rss();
        if (r !== null && r > rssPeak) rssPeak = r;
      }, 250)
    : null;

  const deadline = performance.now() + opts.timeLimitS * 1000;
  const backlogNow = async (): Promise<number> => (mode === 'queue' ? queueItems(host, opts.port, names) : nominal);

  let pool: PipelinePool | null = null;
  try {
    pool = await PipelinePool.open(host, opts.port, opts.fillConnections, opts.window);
    const p = pool;

    const grow = async (to: number): Promise<PipelineResult | null> => {
      const have = await backlogNow();
      if (to <= have) return null;
      const n = to - have;
      const r = await p.run(n, mode === 'queue' ? queueSets : keySets(nominal), deadline);
      if (r.counts.stored !== n)
        throw new Error(`fill: ${n - r.counts.stored} of ${n} sets not STORED (first other reply: ${r.counts.firstOther ?? '-'})`);
      if (mode === 'keys') nominal += n;
      return r;
    };

    const shrink = async (to: number): Promise<PipelineResult | null> => {
      if (mode === 'keys') {
        if (to >= nominal) return null;
        const n = nominal - to;
        const r = await p.run(n, keyDeletes(to), deadline);
        if (r.counts.deleted + r.counts.notFound !== n)
          throw new Error(`drain: ${r.counts.other} deletes failed (first: ${r.counts.firstOther ?? '-'})`);
        nominal = to;
        return r;
      }
      // queue mode: gets until the server reports `to` items; a get may miss when its queue of
      // several ran dry first, so go round again (bounded).
      let total: PipelineResult | null = null;
      for (let round = 0; round < 20; round++) {
        const have = await backlogNow();
        if (have <= to) break;
        const r = await p.run(have - to, queueGets, deadline);
        if (r.counts.other > 0) throw new Error(`drain: ${r.counts.other} gets failed (first: ${r.counts.firstOther ?? '-'})`);
        total =
          total === null
            ? r
            : {
                ...r,
                requests: total.requests + r.requests,
                ms: total.ms + r.ms,
                opsPerSec: ((total.requests + r.requests) * 1000) / (total.ms + r.ms),
              };
      }
      return total;
    };

    const measure = async (phase: 'fill' | 'drain', target: number, load: PipelineResult | null): Promise<void> => {
      if (performance.now() > deadline) throw new Error(`time limit of ${opts.timeLimitS} s reached`);
      const backlog = await backlogNow();
      const mix = await runFloodLevel(
        {
          port: opts.port,
          queues: names.length,
          queueNames: names,
          valueSize: opts.valueSize,
          seconds: opts.seconds,
          warmup: rows.length === 0 ? Math.max(opts.warmup, opts.firstWarmup) : opts.warmup,
          timeoutMs: opts.timeoutMs,
          label: opts.label,
          pid: opts.pid,
          logPrefix: TOOL,
        },
        host,
        opts.connections,
      );
      const lat = mix.latencyUs.all;
      const row: Checkpoint = {
        phase,
        backlog,
        target,
        opsPerSec: mix.opsPerSec,
        latencyUs: { p50: lat.p50Us, p99: lat.p99Us, p999: lat.p999Us, max: lat.maxUs },
        errors: mix.errors + mix.warmupErrors,
        getHits: mix.getHits,
        getMisses: mix.getMisses,
        rssMB: rss(),
        load: load === null ? null : { requests: load.requests, seconds: round(load.ms / 1000, 2), opsPerSec: Math.round(load.opsPerSec) },
        mix,
      };
      rows.push(row);
      table.row([
        phase,
        formatInt(backlog),
        formatInt(row.opsPerSec),
        formatInt(lat.p50Us),
        formatInt(lat.p99Us),
        formatInt(lat.p999Us),
        String(row.errors),
        ...(withRss
          ? [
              row.rssMB === null ? '-' : row.rssMB.toFixed(1),
              mix.serverCpuPercent === null ? '-' : mix.serverCpuPercent.toFixed(0),
              mix.serverCpuPercent === null || mix.opsPerSec === 0 ? '-' : ((mix.serverCpuPercent * 1e4) / mix.opsPerSec).toFixed(1),
            ]
          : []),
        row.load === null ? '-' : formatInt(row.load.opsPerSec),
      ]);
    };

    for (const cp of opts.checkpoints) {
      const load = await grow(cp);
      await measure('fill', cp, load);
    }
    const down = opts.checkpoints.slice(0, -1).reverse();
    if (!down.includes(0)) down.push(0);
    for (const cp of down) {
      const load = await shrink(cp);
      await measure('drain', cp, load);
    }
  } catch (err) {
    failure = (err as Error).message;
    process.stderr.write(`${TOOL}: ${failure}\n`);
  } finally {
    if (sampler) clearInterval(sampler);
    pool?.close();
  }

  // Clean up what the run left: the queues (queue mode) or the keys (keys mode).
  try {
    if (mode === 'queue' && !opts.keep) for (const q of names) await deleteQueue(host, opts.port, q);
    if (mode === 'keys') {
      const cleanup = await PipelinePool.open(host, opts.port, 1, opts.window);
      try {
        if (nominal > 0) await cleanup.run(nominal, keyDeletes(0));
      } finally {
        cleanup.close();
      }
      await rawCommand(host, opts.port, `delete ${opts.queue}\r\n`, /\r\n$/);
    }
  } catch (err) {
    process.stderr.write(`${TOOL}: cleanup failed: ${(err as Error).message}\n`);
  }

  const fills = rows.filter((r) => r.phase === 'fill');
  const drains = rows.filter((r) => r.phase === 'drain');
  const empty = fills.find((r) => r.target === 0) ?? null;
  const top = fills.length > 0 && fills.at(-1)!.target === opts.checkpoints.at(-1) ? fills.at(-1)! : null;
  const emptyAfter = drains.find((r) => r.target === 0) ?? null;
  const worst = rows.length > 0 ? rows.reduce((w, r) => (r.opsPerSec < w.opsPerSec ? r : w)) : null;
  const pct = (a: Checkpoint | null, b: Checkpoint | null): number | null =>
    a && b && b.opsPerSec > 0 ? round((100 * a.opsPerSec) / b.opsPerSec) : null;
  // Server CPU per operation (µs, all its threads): steadier than ops/s on a shared host.
  const cpuUsPerOp = (r: Checkpoint | null): number | null =>
    r && r.mix.serverCpuPercent !== null && r.opsPerSec > 0 ? round((r.mix.serverCpuPercent * 1e4) / r.opsPerSec, 1) : null;
  const emptyCpu = cpuUsPerOp(empty);
  const topCpu = cpuUsPerOp(top);
  const summary = {
    emptyOpsPerSec: empty?.opsPerSec ?? null,
    topBacklog: top?.backlog ?? null,
    topOpsPerSec: top?.opsPerSec ?? null,
    topVsEmptyPct: pct(top, empty),
    emptyAfterDrainVsEmptyPct: pct(emptyAfter, empty),
    worstVsEmptyPct: pct(worst, empty),
    worstAt: worst === null ? null : { phase: worst.phase, backlog: worst.backlog },
    emptyCpuUsPerOp: emptyCpu,
    topCpuUsPerOp: topCpu,
    /** Empty's CPU per operation / the top backlog's: the throughput ratio if CPU were the only limit. */
    cpuRatioPct: emptyCpu !== null && topCpu !== null && topCpu > 0 ? round((100 * emptyCpu) / topCpu) : null,
    targetPct: 90,
    rssBeforeMB: rssBefore,
    rssPeakMB: withRss ? rssPeak : null,
  };
  process.stdout.write('\n');
  if (summary.topVsEmptyPct !== null) {
    process.stdout.write(
      `throughput at backlog ${formatInt(top!.backlog)} / at empty: ${formatInt(top!.opsPerSec)} / ${formatInt(empty!.opsPerSec)} = ` +
        `${summary.topVsEmptyPct.toFixed(1)} %  (design target >= 90 %${mode === 'keys' ? '; keys mode, reference only' : ''})\n`,
    );
  }
  if (summary.cpuRatioPct !== null) {
    process.stdout.write(
      `server CPU per operation, empty / at backlog ${formatInt(top!.backlog)}: ${emptyCpu!.toFixed(1)} / ${topCpu!.toFixed(1)} us = ` +
        `${summary.cpuRatioPct.toFixed(1)} %  (steadier than ops/s on a shared host)\n`,
    );
  }
  if (summary.emptyAfterDrainVsEmptyPct !== null) {
    process.stdout.write(`empty after the drain / empty at the start: ${summary.emptyAfterDrainVsEmptyPct.toFixed(1)} %\n`);
  }
  if (worst !== null && summary.worstVsEmptyPct !== null) {
    process.stdout.write(
      `slowest checkpoint: ${worst.phase} at ${formatInt(worst.backlog)} = ${summary.worstVsEmptyPct.toFixed(1)} % of empty\n`,
    );
  }
  if (withRss) process.stdout.write(`server RSS MB: before ${rssBefore?.toFixed(1) ?? '-'}, peak sampled (250 ms) ${rssPeak.toFixed(1)}\n`);

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
        pid: opts.pid,
        items: opts.items,
        valueSize: opts.valueSize,
        queues: names,
        checkpoints: opts.checkpoints,
        connections: opts.connections,
        seconds: opts.seconds,
        warmup: opts.warmup,
        firstWarmup: opts.firstWarmup,
        timeoutSeconds: opts.timeoutMs / 1000,
        timeLimitSeconds: opts.timeLimitS,
        fillConnections: opts.fillConnections,
        window: opts.window,
      },
    },
    { server: version, mode, summary, checkpoints: rows },
  );
  process.stdout.write(`\nresults written to ${opts.json}\n`);
  return failure === null ? 0 : 1;
}

runWithOptions(TOOL, USAGE, parseOptions, main);
