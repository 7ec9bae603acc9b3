// flood: closed-loop throughput/latency load client for memcache-text queue servers.
//
// For each connection count, N connections each keep exactly one request in flight,
// alternating `set flood<i> 0 0 <size>` and `get flood<i>` (i = connection index mod --queues),
// for --warmup seconds (not counted) and then --seconds measured seconds. Prints one table
// row per connection count and writes everything to a JSON file.
//
// Only loopback hosts are accepted: load traffic must not leave this machine.
// The load pattern itself lives in lib/floodRunner.ts (shared with fsync.ts and packing.ts).

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';

import { runFloodLevel, type LevelResult } from './lib/floodRunner.js';
import { resolveLoopbackHost } from './lib/loopback.js';
import { readRssBytes } from './lib/proc.js';
import { formatInt, TablePrinter } from './lib/stats.js';

const USAGE = `usage: node dist/bench/flood.js [options]

  --host <addr>          loopback server address (127.0.0.0/8, ::1, localhost)  [127.0.0.1]
  --port <n>             server port                                            [22133]
  --connections <list>   comma-separated connection counts, one run each         [1,10,100]
  --queues <n>           number of queues flood0..flood<n-1>                     [10]
  --value-size <bytes>   payload size of each set                                [64]
  --seconds <s>          measured seconds per connection count                   [5]
  --warmup <s>           warm-up seconds per connection count (not counted)      [1]
  --label <name>         name of the server under test, for the table and file   [siberite]
  --timeout <s>          slower replies are errors (connection reopened);        [2]
                         also the grace period for replies at the end
  --pid <pid>            server process id: report its RSS (from /proc)
  --json <file>          results file                    [bench/results/flood-<label>.json]
  --help                 this text`;

interface Options {
  host: string;
  port: number;
  connections: number[];
  queues: number;
  valueSize: number;
  seconds: number;
  warmup: number;
  timeoutMs: number;
  label: string;
  pid: number | null;
  json: string;
}

class UsageError extends Error {}

function parseArgs(argv: string[]): Options | null {
  const raw = new Map<string, string>();
  const known = new Set([
    'host',
    'port',
    'connections',
    'queues',
    'value-size',
    'seconds',
    'warmup',
    'timeout',
    'label',
    'pid',
    'json',
  ]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return null;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    } else {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
    }
    if (!known.has(name)) throw new UsageError(`unknown option --${name}`);
    raw.set(name, value);
  }

  const int = (name: string, def: number, min: number, max: number): number => {
    const v = raw.get(name);
    if (v === undefined) return def;
    if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be an integer, got ${JSON.stringify(v)}`);
    const n = Number(v);
    if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
  const num = (name: string, def: number, min: number, max: number): number => {
    const v = raw.get(name);
    if (v === undefined) return def;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${JSON.stringify(v)}`);
    if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };

  const connList = raw.get('connections') ?? '1,10,100';
  const connections = connList.split(',').map((s) => {
    const t = s.trim();
    if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 10_000) {
      throw new UsageError(`--connections must be a comma-separated list of integers 1..10000, got ${JSON.stringify(connList)}`);
    }
    return Number(t);
  });

  const label = raw.get('label') ?? 'siberite';
  if (!/^[A-Za-z0-9._-]+$/.test(label)) throw new UsageError('--label may only contain letters, digits, ".", "_" and "-"');

  const pidRaw = raw.get('pid');
  const pid = pidRaw === undefined ? null : int('pid', 0, 1, 2 ** 31 - 1);

  return {
    host: raw.get('host') ?? '127.0.0.1',
    port: int('port', 22133, 1, 65535),
    connections,
    queues: int('queues', 10, 1, 100_000),
    valueSize: int('value-size', 64, 0, 64 * 1024 * 1024),
    seconds: num('seconds', 5, 0.1, 3600),
    warmup: num('warmup', 1, 0, 3600),
    timeoutMs: num('timeout', 2, 0.01, 600) * 1000,
    label,
    pid,
    json: raw.get('json') ?? `bench/results/flood-${label}.json`,
  };
}

function writeJson(path: string, opts: Options, host: string, startedAt: Date, results: LevelResult[], failure: string | null): void {
  const file = resolvePath(path);
  mkdirSync(dirname(file), { recursive: true });
  const doc = {
    tool: 'flood',
    label: opts.label,
    host,
    port: opts.port,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    node: process.version,
    options: {
      connections: opts.connections,
      queues: opts.queues,
      valueSize: opts.valueSize,
      seconds: opts.seconds,
      warmup: opts.warmup,
      timeoutSeconds: opts.timeoutMs / 1000,
      pid: opts.pid,
    },
    failure,
    results,
  };
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
}

async function main(argv: string[]): Promise<number> {
  let opts: Options | null;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`flood: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (opts === null) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }

  let host: string;
  try {
    host = await resolveLoopbackHost(opts.host);
  } catch (err) {
    process.stderr.write(`flood: ${(err as Error).message}\n`);
    return 2;
  }
  if (opts.pid !== null && readRssBytes(opts.pid) === null) {
    process.stderr.write(`flood: cannot read VmRSS from /proc/${opts.pid}/status (no such process?)\n`);
    return 2;
  }

  const startedAt = new Date();
  process.stdout.write(
    `flood ${opts.label} @ ${host}:${opts.port}: queues=${opts.queues} value=${opts.valueSize}B ` +
      `warmup=${opts.warmup}s measure=${opts.seconds}s per level, 1 request in flight per connection (set/get alternating)\n\n`,
  );
  const withRss = opts.pid !== null;
  const table = new TablePrinter([
    { title: 'label', width: Math.max(5, opts.label.length), align: 'left' },
    { title: 'conns', width: 5 },
    { title: 'ops/s', width: 9 },
    { title: 'p50 us', width: 8 },
    { title: 'p99 us', width: 8 },
    { title: 'p999 us', width: 8 },
    { title: 'max us', width: 9 },
    { title: 'errors', width: 6 },
    ...(withRss ? [{ title: 'RSS MB', width: 7 }] : []),
  ]);
  table.header();

  const results: LevelResult[] = [];
  let failure: string | null = null;
  for (const n of opts.connections) {
    let r: LevelResult;
    try {
      r = await runFloodLevel(opts, host, n);
    } catch (err) {
      failure = (err as Error).message;
      process.stderr.write(`flood: ${failure}\n`);
      break;
    }
    results.push(r);
    const lat = r.latencyUs.all;
    table.row([
      r.label,
      String(r.connections),
      formatInt(r.opsPerSec),
      formatInt(lat.p50Us),
      formatInt(lat.p99Us),
      formatInt(lat.p999Us),
      formatInt(lat.maxUs),
      String(r.errors + r.warmupErrors),
      ...(withRss ? [r.rssMB === null ? '-' : r.rssMB.toFixed(1)] : []),
    ]);
  }

  writeJson(opts.json, opts, host, startedAt, results, failure);
  process.stdout.write(`\nresults written to ${opts.json}\n`);
  return failure === null ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Everything is closed by now; should a handle still linger, do not hang the caller.
    setTimeout(() => {
      process.stderr.write('flood: open handles remain after the run; exiting\n');
      process.exit(code);
    }, 3000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`flood: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
