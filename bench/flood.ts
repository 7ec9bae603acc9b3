// flood: closed-loop throughput/latency load client for memcache-text queue servers.
//
// For each connection count, N connections each keep exactly one request in flight,
// alternating `set flood<i> 0 0 <size>` and `get flood<i>` (i = connection index mod --queues),
// for --warmup seconds (not counted) and then --seconds measured seconds. Prints one table
// row per connection count and writes everything to a JSON file.
//
// Only loopback hosts are accepted: load traffic must not leave this machine.
// The load pattern itself lives in lib/floodRunner.ts (shared with fsync.ts and packing.ts).

import { Args, runLoadMain, UsageError } from './lib/cli.js';
import { runFloodLevel, type FloodParams } from './lib/floodRunner.js';
import { runLoadBench } from './lib/loadRun.js';
import { defaultResultsPath } from './lib/results.js';

const TOOL = 'flood';
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

interface Options extends FloodParams {
  host: string;
  /** Connection counts, one run each. */
  connections: number[];
  json: string;
}

function parseArgs(argv: string[]): Options | null {
  const a = new Args(argv, ['host', 'port', 'connections', 'queues', 'value-size', 'seconds', 'warmup', 'timeout', 'label', 'pid', 'json']);
  if (a.help) return null;

  const connList = a.str('connections', '1,10,100');
  const connections = connList.split(',').map((s) => {
    const t = s.trim();
    if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 10_000) {
      throw new UsageError(`--connections must be a comma-separated list of integers 1..10000, got ${JSON.stringify(connList)}`);
    }
    return Number(t);
  });

  const label = a.label('siberite');
  const pid = a.optInt('pid', 1, 2 ** 31 - 1);

  return {
    host: a.str('host', '127.0.0.1'),
    port: a.int('port', 22133, 1, 65535),
    connections,
    queues: a.int('queues', 10, 1, 100_000),
    valueSize: a.int('value-size', 64, 0, 64 * 1024 * 1024),
    seconds: a.num('seconds', 5, 0.1, 3600),
    warmup: a.num('warmup', 1, 0, 3600),
    timeoutMs: a.num('timeout', 2, 0.01, 600) * 1000,
    label,
    pid,
    json: a.str('json', defaultResultsPath(TOOL, label)),
  };
}

/** Runs the bench against `host` (the loopback address opts.host resolved to). */
async function main(opts: Options, host: string): Promise<number> {
  return runLoadBench(TOOL, opts, host, {
    options: { connections: opts.connections },
    intro:
      `${TOOL} ${opts.label} @ ${host}:${opts.port}: queues=${opts.queues} value=${opts.valueSize}B ` +
      `warmup=${opts.warmup}s measure=${opts.seconds}s per level, 1 request in flight per connection (set/get alternating)\n\n`,
    columns: [{ title: 'conns', width: 5 }],
    cells: (r) => [String(r.connections)],
    levels: opts.connections,
    run: (n: number) => runFloodLevel(opts, host, n),
  });
}

runLoadMain(TOOL, USAGE, parseArgs, main);
