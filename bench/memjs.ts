// memjs: the flood pattern through a real binary-protocol client library, pipelined.
//
// --connections memjs clients (one TCP connection each); on each, --window workers loop
// `set memjs<q>` then `get memjs<q>` with await, so up to --window requests are in flight per
// connection and memjs pipelines them (it matches replies by opaque). --warmup seconds are not
// counted, then --seconds are measured. Only loopback hosts are accepted.

import memjs from 'memjs';
import { performance } from 'node:perf_hooks';

import { Args, runLoadMain, sleep } from './lib/cli.js';
import { bytesToMB, readRssBytes } from './lib/proc.js';
import { defaultResultsPath, writeResults } from './lib/results.js';
import { LatencyRecorder, LoadTable, roundSummary } from './lib/stats.js';

const TOOL = 'memjs';
const USAGE = `usage: node dist/bench/memjs.js [options]

  --host <addr>          loopback server address (127.0.0.0/8, ::1, localhost)  [127.0.0.1]
  --port <n>             server port                                            [22133]
  --connections <n>      memjs clients (one connection each)                    [4]
  --window <n>           requests in flight per connection                      [64]
  --queues <n>           number of queues memjs0..memjs<n-1>                    [10]
  --value-size <bytes>   payload size of each set                               [64]
  --seconds <s>          measured seconds                                       [5]
  --warmup <s>           warm-up seconds (not counted)                          [1]
  --label <name>         name of the server under test, for the table and file  [siberite]
  --pid <pid>            server process id: report its RSS (from /proc)
  --json <file>          results file                    [bench/results/memjs-<label>.json]
  --help                 this text`;

interface Options {
  host: string;
  port: number;
  connections: number;
  window: number;
  queues: number;
  valueSize: number;
  seconds: number;
  warmup: number;
  label: string;
  pid: number | null;
  json: string;
}

function parse(argv: string[]): Options | null {
  const a = new Args(argv, ['host', 'port', 'connections', 'window', 'queues', 'value-size', 'seconds', 'warmup', 'label', 'pid', 'json']);
  if (a.help) return null;
  const label = a.label('siberite');
  return {
    host: a.str('host', '127.0.0.1'),
    port: a.int('port', 22133, 1, 65535),
    connections: a.int('connections', 4, 1, 1000),
    window: a.int('window', 64, 1, 4096),
    queues: a.int('queues', 10, 1, 1000),
    valueSize: a.int('value-size', 64, 0, 1 << 20),
    seconds: a.num('seconds', 5, 0.1, 3600),
    warmup: a.num('warmup', 1, 0, 600),
    label,
    pid: a.has('pid') ? a.int('pid', 0, 1, 2 ** 31) : null,
    json: a.str('json', defaultResultsPath(TOOL, label)),
  };
}

async function main(opts: Options, host: string): Promise<number> {
  const startedAt = new Date();
  const value = Buffer.alloc(opts.valueSize, 0x61);
  const latency = new LatencyRecorder();
  let ops = 0;
  let errors = 0;
  let measuring = false;
  let stop = false;
  const clients = Array.from({ length: opts.connections }, () =>
    // Timeout above any stall we expect; one retry, as memjs users configure it.
    memjs.Client.create(`${host}:${opts.port}`, { timeout: 5, retries: 1, logger: { log() {} } }),
  );

  const worker = async (client: memjs.Client, n: number): Promise<void> => {
    const key = `memjs${n % opts.queues}`;
    while (!stop) {
      for (const op of ['set', 'get'] as const) {
        const t0 = performance.now();
        try {
          if (op === 'set') await client.set(key, value, {});
          else await client.get(key);
          if (measuring) {
            latency.record((performance.now() - t0) * 1000);
            ops++;
          }
        } catch {
          if (measuring) errors++;
        }
      }
    }
  };

  const workers = clients.flatMap((client, c) => Array.from({ length: opts.window }, (_, w) => worker(client, c * opts.window + w)));
  await sleep(opts.warmup * 1000);
  measuring = true;
  const t0 = performance.now();
  await sleep(opts.seconds * 1000);
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.race([Promise.all(workers), sleep(10_000)]); // bounded: every worker ends its loop
  for (const client of clients) client.close();

  const summary = roundSummary(latency.summary());
  const rss = opts.pid === null ? null : readRssBytes(opts.pid);
  const opsPerSec = Math.round(ops / elapsed);
  const rssMB = rss === null ? null : bytesToMB(rss);
  const table = new LoadTable(
    opts.label,
    [
      { title: 'conns', width: 5 },
      { title: 'window', width: 6 },
    ],
    opts.pid !== null,
  );
  table.header();
  table.row({ label: opts.label, opsPerSec, latencyUs: { all: summary }, errors, warmupErrors: 0, rssMB }, [
    String(opts.connections),
    String(opts.window),
  ]);
  writeResults(
    opts.json,
    { tool: TOOL, label: opts.label, host, port: opts.port, startedAt, failure: null, options: { ...opts } },
    { ops, opsPerSec, errors, latencyUs: summary, rssMB },
  );
  process.stdout.write(`\nresults written to ${opts.json}\n`);
  return 0;
}

runLoadMain(TOOL, USAGE, parse, main);
