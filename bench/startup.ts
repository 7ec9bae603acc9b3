// startup: how long does siberite take to accept connections with a long queue on disk?
//
// 1. Fill: starts the server on --data, queues --items items of --value-size bytes into one
//    queue with pipelined sets, and stops it with SIGTERM (skipped with --reuse when --data
//    already holds data).
// 2. Runs --runs times: spawn `<cli> -listen ... -data <dir>`, poll a connect + `version`
//    every --poll-ms until the first reply (that is the start-up time), then `get <queue>/peek`
//    (first item served), read `stats` (the item count must have survived), and stop with SIGTERM.
// Prints one row per run and min / median / max. Design target: < 2 s with 10 M items queued.
// A first start on an empty data directory shows the fixed cost (Node, modules, LevelDB open).
//
// The server is always started by this script on a loopback address; without --data a temporary
// directory is used and removed afterwards (unless --keep).

import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';

import { Args, runWithOptions, UsageError } from './lib/cli.js';
import { rawCommand, serverStats } from './lib/commands.js';
import { resolveLoopbackHost } from './lib/loopback.js';
import { PipelinePool, repeatedRequest } from './lib/pipeline.js';
import { bytesToMB, readRssBytes } from './lib/proc.js';
import { defaultResultsPath, writeResults } from './lib/results.js';
import {
  describeExit,
  freePort,
  makeScratchDir,
  makeTempDir,
  onExit,
  ServerProcess,
  SIBERITE_COMMAND,
  siberiteCommand,
} from './lib/server.js';
import { formatInt, round, TablePrinter } from './lib/stats.js';
import { buildSet, makePayload } from './lib/textClient.js';

const TOOL = 'startup';
const TARGET_MS = 2000;
const USAGE = `usage: node dist/bench/startup.js [options]

  --cli <path>           the siberite command to start                          [bin/siberite]
  --data <dir>           data directory (default: a new temporary directory)
  --reuse                --data already holds data: measure it as it is, no fill
  --keep                 keep the temporary data directory
  --no-baseline          skip the reference start-up on an empty data directory
  --items <n>            items to queue before measuring                         [10000000]
  --value-size <bytes>   item size                                              [64]
  --queue <name>         queue to fill                                          [startup]
  --runs <n>             start-ups to measure                                   [3]
  --poll-ms <ms>         connect/version poll interval                           [5]
  --timeout <s>          longest wait for one start-up                          [120]
  --host <addr>          loopback address to listen on                          [127.0.0.1]
  --port <n>             port to listen on (0: pick a free one)                 [0]
  --fsync <mode>         the server's -fsync for the fill                       [never]
  --connections <n>      fill connections                                       [4]
  --window <n>           fill requests in flight per connection                 [256]
  --fill-time-limit <s>  give up the fill after this long                       [1800]
  --label <name>         name for the table and the results file                [siberite]
  --json <file>          results file                   [bench/results/startup-<label>.json]
  --help                 this text`;

interface Options {
  cli: string;
  data: string | null;
  reuse: boolean;
  keep: boolean;
  baseline: boolean;
  items: number;
  valueSize: number;
  queue: string;
  runs: number;
  pollMs: number;
  timeoutMs: number;
  host: string;
  port: number;
  fsync: string;
  connections: number;
  window: number;
  fillTimeLimitS: number;
  label: string;
  json: string;
}

function parseOptions(argv: string[]): Options | null {
  const a = new Args(
    argv,
    [
      'cli',
      'data',
      'items',
      'value-size',
      'queue',
      'runs',
      'poll-ms',
      'timeout',
      'host',
      'port',
      'fsync',
      'connections',
      'window',
      'fill-time-limit',
      'label',
      'json',
    ],
    ['reuse', 'keep', 'no-baseline'],
  );
  if (a.help) return null;
  const label = a.label('siberite');
  const queue = a.str('queue', 'startup');
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(queue)) throw new UsageError('--queue may only contain letters, digits, "_" and "-"');
  const cli = siberiteCommand(a.str('cli', SIBERITE_COMMAND));
  const data = a.optStr('data');
  if (a.flag('reuse') && data === null) throw new UsageError('--reuse needs --data');
  return {
    cli,
    data: data === null ? null : resolvePath(data),
    reuse: a.flag('reuse'),
    keep: a.flag('keep'),
    baseline: !a.flag('no-baseline'),
    items: a.int('items', 10_000_000, 0, 1_000_000_000),
    valueSize: a.int('value-size', 64, 0, 1024 * 1024),
    queue,
    runs: a.int('runs', 3, 1, 100),
    pollMs: a.int('poll-ms', 5, 1, 1000),
    timeoutMs: a.num('timeout', 120, 1, 3600) * 1000,
    host: a.str('host', '127.0.0.1'),
    port: a.int('port', 0, 0, 65535),
    fsync: a.str('fsync', 'never'),
    connections: a.int('connections', 4, 1, 256),
    window: a.int('window', 256, 1, 4096),
    fillTimeLimitS: a.num('fill-time-limit', 1800, 1, 86_400),
    label,
    json: a.str('json', defaultResultsPath(TOOL, label)),
  };
}

/** Total bytes and file count under `dir`. */
function dirSize(dir: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const s = dirSize(p);
      bytes += s.bytes;
      files += s.files;
    } else if (e.isFile()) {
      bytes += statSync(p).size;
      files++;
    }
  }
  return { bytes, files };
}

interface Run {
  /** 1.., or 0 for the baseline on an empty data directory. */
  run: number;
  readyMs: number;
  firstGetMs: number | null;
  items: number | null;
  rssMB: number | null;
  stopMs: number;
  exit: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(opts: Options): Promise<number> {
  const host = await resolveLoopbackHost(opts.host).catch((err: Error) => {
    throw new UsageError(err.message);
  });
  const port = opts.port === 0 ? await freePort(host) : opts.port;

  let dataDir: string;
  let temporary = false;
  let fill = true;
  if (opts.data === null) {
    dataDir = makeTempDir('siberite-startup-');
    temporary = true;
    // removed at the end unless --keep, and also if the run is interrupted
    if (!opts.keep) onExit(() => rmSync(dataDir, { recursive: true, force: true }));
  } else {
    dataDir = opts.data;
    const nonEmpty = existsSync(dataDir) && readdirSync(dataDir).length > 0;
    if (nonEmpty && !opts.reuse)
      throw new UsageError(`${dataDir} is not empty: pass --reuse to measure it as it is, or give an empty or new directory`);
    if (nonEmpty) fill = false;
  }

  const startedAt = new Date();
  const spawnOpts = { command: opts.cli, host, port, dataDir };
  process.stdout.write(`${TOOL} ${opts.label}: ${opts.cli} on ${host}:${port}, data ${dataDir}${temporary ? ' (temporary)' : ''}\n`);

  let failure: string | null = null;
  const runs: Run[] = [];
  let baseline: Run | null = null;
  let fillInfo: Record<string, unknown> | null = null;
  let dataSize: { bytes: number; files: number } | null = null;
  let server: ServerProcess | null = null;
  try {
    if (fill && opts.items > 0) {
      process.stdout.write(
        `fill: ${formatInt(opts.items)} x ${opts.valueSize} B into "${opts.queue}" (${opts.connections} connections x ${opts.window} pipelined)\n`,
      );
      server = ServerProcess.spawn({ ...spawnOpts, fsync: opts.fsync });
      await server.waitReady(opts.timeoutMs);
      const pool = await PipelinePool.open(host, port, opts.connections, opts.window);
      const t0 = performance.now();
      const deadline = t0 + opts.fillTimeLimitS * 1000;
      try {
        const source = repeatedRequest(buildSet(opts.queue, makePayload(opts.valueSize)), opts.window);
        const step = Math.max(opts.window, Math.ceil(opts.items / 10));
        let done = 0;
        while (done < opts.items) {
          const n = Math.min(step, opts.items - done);
          const r = await pool.run(n, source, deadline);
          if (r.counts.stored !== n)
            throw new Error(`fill: ${n - r.counts.stored} of ${n} sets not STORED (first other reply: ${r.counts.firstOther ?? '-'})`);
          done += n;
          const s = (performance.now() - t0) / 1000;
          process.stdout.write(
            `  ${formatInt(done).padStart(13)} items  ${s.toFixed(1).padStart(7)} s  ${formatInt(r.opsPerSec).padStart(9)} sets/s\n`,
          );
        }
      } finally {
        pool.close();
      }
      const fillS = (performance.now() - t0) / 1000;
      const st = await serverStats(host, port);
      const stop = await server.stop();
      server = null;
      fillInfo = {
        items: opts.items,
        seconds: round(fillS, 2),
        setsPerSec: Math.round(opts.items / fillS),
        serverItems: Number(st.get(`queue_${opts.queue}_items`)),
        stopMs: Math.round(stop.ms),
        stopExit: describeExit(stop),
      };
      process.stdout.write(
        `fill done in ${fillS.toFixed(1)} s (${formatInt(opts.items / fillS)} sets/s); SIGTERM stop took ${Math.round(stop.ms)} ms (${describeExit(stop)})\n`,
      );
    } else if (!fill) {
      process.stdout.write('fill: skipped (--reuse)\n');
    }
    dataSize = dirSize(dataDir);
    process.stdout.write(`data directory: ${bytesToMB(dataSize.bytes).toFixed(1)} MB in ${dataSize.files} files\n\n`);

    const table = new TablePrinter([
      { title: 'run', width: 5, align: 'left' },
      { title: 'ready ms', width: 9 },
      { title: 'first get ms', width: 12 },
      { title: 'items', width: 12 },
      { title: 'RSS MB', width: 7 },
      { title: 'stop ms', width: 8 },
      { title: 'exit', width: 8, align: 'left' },
    ]);
    table.header();
    const measureOnce = async (i: number, dir: string, expectItems: number | null): Promise<void> => {
      const s = ServerProcess.spawn({ ...spawnOpts, dataDir: dir });
      server = s;
      const readyMs = await s.waitReady(opts.timeoutMs, opts.pollMs);
      let firstGetMs: number | null = null;
      const reply = await rawCommand(host, port, `get ${opts.queue}/peek\r\n`, /(^|\r\n)END\r\n$/, opts.timeoutMs);
      if (reply.startsWith('VALUE ')) firstGetMs = performance.now() - s.spawnedAt;
      const rssBytes = readRssBytes(s.pid);
      const st = await serverStats(host, port);
      const itemsStat = st.get(`queue_${opts.queue}_items`);
      const stop = await s.stop();
      server = null;
      const run: Run = {
        run: i,
        readyMs: round(readyMs),
        firstGetMs: firstGetMs === null ? null : round(firstGetMs),
        items: itemsStat === undefined ? 0 : Number(itemsStat),
        rssMB: rssBytes === null ? null : round(bytesToMB(rssBytes)),
        stopMs: Math.round(stop.ms),
        exit: describeExit(stop),
      };
      if (i === 0) baseline = run;
      else runs.push(run);
      table.row([
        i === 0 ? 'empty' : String(i),
        formatInt(run.readyMs),
        run.firstGetMs === null ? '-' : formatInt(run.firstGetMs),
        run.items === null ? '-' : formatInt(run.items),
        run.rssMB === null ? '-' : run.rssMB.toFixed(1),
        formatInt(run.stopMs),
        run.exit,
      ]);
      if (expectItems !== null && run.items !== expectItems) {
        process.stderr.write(`${TOOL}: warning: run ${i} reports ${run.items ?? 'no'} items in ${opts.queue}, expected ${expectItems}\n`);
      }
    };
    if (opts.baseline) {
      const empty = makeScratchDir('siberite-startup-empty-');
      try {
        await measureOnce(0, empty.path, 0);
      } finally {
        empty.remove();
      }
    }
    for (let i = 1; i <= opts.runs; i++) await measureOnce(i, dataDir, fill ? opts.items : null);
  } catch (err) {
    failure = (err as Error).message;
    process.stderr.write(`${TOOL}: ${failure}\n`);
  } finally {
    if (server !== null) await server.stop(10_000);
  }

  let summary: Record<string, unknown> | null = null;
  if (runs.length > 0) {
    const ready = runs.map((r) => r.readyMs);
    const min = Math.min(...ready);
    const med = median(ready);
    const max = Math.max(...ready);
    summary = {
      readyMinMs: round(min),
      readyMedianMs: round(med),
      readyMaxMs: round(max),
      emptyReadyMs: baseline === null ? null : (baseline as Run).readyMs,
      items: runs[0]!.items,
      targetMs: TARGET_MS,
      pass: med < TARGET_MS,
    };
    process.stdout.write(
      `\nstart-up to first version reply with ${formatInt(runs[0]!.items ?? 0)} items: min ${formatInt(min)} ms, median ${formatInt(med)} ms, max ${formatInt(max)} ms ` +
        `(design target < ${TARGET_MS} ms: ${med < TARGET_MS ? 'PASS' : 'FAIL'})` +
        (baseline === null ? '' : `; with an empty data directory: ${formatInt((baseline as Run).readyMs)} ms`) +
        '\n',
    );
  }

  writeResults(
    opts.json,
    {
      tool: TOOL,
      label: opts.label,
      startedAt,
      failure,
      options: {
        cli: opts.cli,
        dataDir,
        temporary,
        reuse: !fill,
        items: opts.items,
        valueSize: opts.valueSize,
        queue: opts.queue,
        runs: opts.runs,
        pollMs: opts.pollMs,
        host,
        port,
      },
    },
    {
      fill: fillInfo,
      dataDir: dataSize === null ? null : { mb: round(bytesToMB(dataSize.bytes)), files: dataSize.files },
      summary,
      baseline,
      runs,
    },
  );
  process.stdout.write(`\nresults written to ${opts.json}\n`);
  if (temporary && !opts.keep) rmSync(dataDir, { recursive: true, force: true });
  else if (temporary) process.stdout.write(`data kept in ${dataDir} (reuse with --data ${dataDir} --reuse)\n`);
  return failure === null ? 0 : 1;
}

runWithOptions(TOOL, USAGE, parseOptions, main);
