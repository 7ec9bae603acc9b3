// fsync: what does `-fsync always` cost? (Group commit should keep it cheap under concurrency.)
//
// Starts the server twice, one after the other, each on a new temporary data directory:
// `-fsync never`, then `-fsync always`. Against each it runs the flood pattern
// (lib/floodRunner.ts: set/get alternating, --value-size bytes, --queues queues, one request in
// flight per connection) at each of --connections, and prints ops/s and latency per mode and
// the ratio always / never. Design target: ≥ 20 % at 100 connections.
//
// The data directories must be on a real disk for `always` to mean anything: the file-system
// type is printed, and tmpfs is refused unless --allow-tmpfs.

import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { tmpdir } from 'node:os';

import { Args, runWithOptions, UsageError } from './lib/cli.js';
import { runFloodLevel, type LevelResult } from './lib/floodRunner.js';
import { resolveLoopbackHost } from './lib/loopback.js';
import { defaultResultsPath, writeResults } from './lib/results.js';
import { freePort, fsTypeOf, makeScratchDir, ServerProcess, SIBERITE_COMMAND, siberiteCommand } from './lib/server.js';
import { formatInt, round, TablePrinter } from './lib/stats.js';

const TOOL = 'fsync';
const TARGET_PCT = 20;
const MODES = ['never', 'always'] as const;
const USAGE = `usage: node dist/bench/fsync.js [options]

  --cli <path>           the siberite command to start                          [bin/siberite]
  --dir <path>           where to create the temporary data directories          [${tmpdir()}]
  --allow-tmpfs          run even if --dir is on tmpfs (fsync is then free)
  --connections <list>   comma-separated connection counts                       [1,100]
  --queues <n>           queues flood0..flood<n-1>                               [10]
  --value-size <bytes>   payload size of each set                                [64]
  --seconds <s>          measured seconds per connection count                   [5]
  --warmup <s>           warm-up seconds per connection count (not counted)      [1]
  --timeout <s>          reply timeout                                           [2]
  --host <addr>          loopback address for the servers                        [127.0.0.1]
  --label <name>         name for the table and the results file                 [siberite]
  --json <file>          results file                       [bench/results/fsync-<label>.json]
  --help                 this text`;

interface Options {
  cli: string;
  dir: string;
  allowTmpfs: boolean;
  connections: number[];
  queues: number;
  valueSize: number;
  seconds: number;
  warmup: number;
  timeoutMs: number;
  host: string;
  label: string;
  json: string;
}

function parseOptions(argv: string[]): Options | null {
  const a = new Args(
    argv,
    ['cli', 'dir', 'connections', 'queues', 'value-size', 'seconds', 'warmup', 'timeout', 'host', 'label', 'json'],
    ['allow-tmpfs'],
  );
  if (a.help) return null;
  const label = a.label('siberite');
  const cli = siberiteCommand(a.str('cli', SIBERITE_COMMAND));
  const dir = resolvePath(a.str('dir', tmpdir()));
  if (!existsSync(dir)) throw new UsageError(`--dir ${dir} does not exist`);
  return {
    cli,
    dir,
    allowTmpfs: a.flag('allow-tmpfs'),
    connections: a.intList('connections', [1, 100], 1, 10_000),
    queues: a.int('queues', 10, 1, 100_000),
    valueSize: a.int('value-size', 64, 0, 1024 * 1024),
    seconds: a.num('seconds', 5, 0.1, 3600),
    warmup: a.num('warmup', 1, 0, 3600),
    timeoutMs: a.num('timeout', 2, 0.01, 600) * 1000,
    host: a.str('host', '127.0.0.1'),
    label,
    json: a.str('json', defaultResultsPath(TOOL, label)),
  };
}

interface ModeResult {
  fsync: (typeof MODES)[number];
  results: LevelResult[];
}

async function main(opts: Options): Promise<number> {
  const host = await resolveLoopbackHost(opts.host).catch((err: Error) => {
    throw new UsageError(err.message);
  });
  const fsType = fsTypeOf(opts.dir);
  if (fsType === 'tmpfs' && !opts.allowTmpfs) {
    throw new UsageError(`${opts.dir} is on tmpfs, where fsync costs nothing; use --dir on a disk (or --allow-tmpfs)`);
  }

  const startedAt = new Date();
  process.stdout.write(
    `${TOOL} ${opts.label}: ${opts.cli}, data under ${opts.dir} (${fsType ?? 'unknown fs'}); flood pattern: queues=${opts.queues} ` +
      `value=${opts.valueSize}B warmup=${opts.warmup}s measure=${opts.seconds}s per level, 1 request in flight per connection\n\n`,
  );
  const table = new TablePrinter([
    { title: 'fsync', width: 6, align: 'left' },
    { title: 'conns', width: 5 },
    { title: 'ops/s', width: 9 },
    { title: 'p50 us', width: 8 },
    { title: 'p99 us', width: 8 },
    { title: 'p999 us', width: 8 },
    { title: 'errors', width: 6 },
    { title: 'RSS MB', width: 7 },
  ]);
  table.header();

  const modes: ModeResult[] = [];
  let failure: string | null = null;
  for (const fsync of MODES) {
    const scratch = makeScratchDir(`siberite-fsync-${fsync}-`, opts.dir);
    const dataDir = scratch.path;
    const mode: ModeResult = { fsync, results: [] };
    modes.push(mode);
    let server: ServerProcess | null = null;
    try {
      const port = await freePort(host);
      server = ServerProcess.spawn({ command: opts.cli, host, port, dataDir, fsync });
      await server.waitReady(30_000);
      for (const n of opts.connections) {
        const r = await runFloodLevel(
          {
            port,
            queues: opts.queues,
            valueSize: opts.valueSize,
            seconds: opts.seconds,
            warmup: opts.warmup,
            timeoutMs: opts.timeoutMs,
            label: `${opts.label}-${fsync}`,
            pid: server.pid,
            logPrefix: `${TOOL} (${fsync})`,
          },
          host,
          n,
        );
        mode.results.push(r);
        const lat = r.latencyUs.all;
        table.row([
          fsync,
          String(n),
          formatInt(r.opsPerSec),
          formatInt(lat.p50Us),
          formatInt(lat.p99Us),
          formatInt(lat.p999Us),
          String(r.errors + r.warmupErrors),
          r.rssMB === null ? '-' : r.rssMB.toFixed(1),
        ]);
      }
    } catch (err) {
      failure = `fsync ${fsync}: ${(err as Error).message}`;
      process.stderr.write(`${TOOL}: ${failure}\n`);
    } finally {
      if (server !== null) {
        const stop = await server.stop(30_000);
        if (stop.code !== 0 && failure === null)
          process.stderr.write(`${TOOL}: server (fsync ${fsync}) exited with ${stop.signal ?? stop.code}\n`);
      }
      scratch.remove();
    }
    if (failure !== null) break;
  }

  const ratios: Array<{ connections: number; neverOpsPerSec: number; alwaysOpsPerSec: number; pct: number }> = [];
  const never = modes.find((m) => m.fsync === 'never');
  const always = modes.find((m) => m.fsync === 'always');
  if (never && always) {
    process.stdout.write('\n');
    for (const a of always.results) {
      const n = never.results.find((r) => r.connections === a.connections);
      if (!n || n.opsPerSec === 0) continue;
      const pct = round((100 * a.opsPerSec) / n.opsPerSec);
      ratios.push({ connections: a.connections, neverOpsPerSec: n.opsPerSec, alwaysOpsPerSec: a.opsPerSec, pct });
      const target = a.connections === 100 ? `  (design target >= ${TARGET_PCT} %: ${pct >= TARGET_PCT ? 'PASS' : 'FAIL'})` : '';
      process.stdout.write(
        `always / never at ${a.connections} connection${a.connections === 1 ? '' : 's'}: ${formatInt(a.opsPerSec)} / ${formatInt(n.opsPerSec)} = ${pct.toFixed(1)} %${target}\n`,
      );
    }
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
        dir: opts.dir,
        fsType,
        connections: opts.connections,
        queues: opts.queues,
        valueSize: opts.valueSize,
        seconds: opts.seconds,
        warmup: opts.warmup,
        timeoutSeconds: opts.timeoutMs / 1000,
      },
    },
    { modes, ratios, targetPct: TARGET_PCT },
  );
  process.stdout.write(`\nresults written to ${opts.json}\n`);
  return failure === null ? 0 : 1;
}

runWithOptions(TOOL, USAGE, parseOptions, main);
