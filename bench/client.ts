// client: the TypeScript cluster client (src/client) against one server and against three.
//
// For each cluster size it starts that many servers (fresh data directories, loopback ports) and
// runs three phases of --warmup + --seconds each, with fresh clients:
//   put      --producers loops, each `await client.put('bench', payload)` back to back;
//   consume  --consumers consume() iterators, each with --concurrency items open at most, drain
//            what `put` left; the loop body closes each message without awaiting it (the
//            iterator's back-pressure bounds what is open), as a worker pool would;
//   mixed    both at once, on another queue; msg/s counts closes, the latency is end to end
//            (the payload carries the put's time), so it grows if the consumers fall behind.
// Only what completes in the measured seconds counts. Prints a table and writes
// bench/results/client-<label>.json.
//
//   npx tsc -p tsconfig.json && node dist/bench/client.js [--seconds 5] [--servers 1,3]

import { performance } from 'node:perf_hooks';

import { Client } from '../src/client/index.js';
import { Args, UsageError, runWithOptions, sleep } from './lib/cli.js';
import { defaultResultsPath, writeResults } from './lib/results.js';
import { ServerProcess, freePort, makeScratchDir } from './lib/server.js';
import { LatencyRecorder, type LatencySummary, TablePrinter, formatInt, formatMicros, roundSummary } from './lib/stats.js';

const TOOL = 'client';
const USAGE = `usage: node dist/bench/client.js [options]

  --servers <list>       cluster sizes to run, comma-separated          [1,3]
  --producers <n>        put loops (one request in flight each)          [16]
  --consumers <n>        consume() iterators                             [2]
  --concurrency <n>      items open at most per iterator                 [32]
  --value-size <bytes>   payload size (at least 24: it carries the time) [64]
  --seconds <s>          measured seconds per cluster size               [5]
  --warmup <s>           warm-up seconds (not counted)                   [1]
  --phases <list>        phases to run: put,consume,mixed                [put,consume,mixed]
  --label <name>         name of the run, for the results file           [siberite]
  --json <file>          results file            [bench/results/client-<label>.json]
  --help                 this text`;

interface Options {
  sizes: number[];
  phases: Phase[];
  producers: number;
  consumers: number;
  concurrency: number;
  valueSize: number;
  seconds: number;
  warmup: number;
  label: string;
  json: string;
}

function parse(argv: string[]): Options | null {
  const a = new Args(argv, [
    'servers',
    'phases',
    'producers',
    'consumers',
    'concurrency',
    'value-size',
    'seconds',
    'warmup',
    'label',
    'json',
  ]);
  if (a.help) return null;
  const sizes = a
    .str('servers', '1,3')
    .split(',')
    .map((s) => Number(s));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 8)) throw new UsageError('--servers: cluster sizes from 1 to 8');
  const phases = a.str('phases', PHASES.join(',')).split(',') as Phase[];
  if (phases.some((p) => !PHASES.includes(p))) throw new UsageError(`--phases: a list of ${PHASES.join(', ')}`);
  const label = a.label('siberite');
  return {
    sizes,
    phases,
    producers: a.int('producers', 16, 1, 1000),
    consumers: a.int('consumers', 2, 1, 100),
    concurrency: a.int('concurrency', 32, 1, 1000),
    valueSize: a.int('value-size', 64, 24, 1 << 20),
    seconds: a.num('seconds', 5, 0.5, 3600),
    warmup: a.num('warmup', 1, 0, 600),
    label,
    json: a.str('json', defaultResultsPath(TOOL, label)),
  };
}

type Phase = 'put' | 'consume' | 'mixed';
const PHASES: Phase[] = ['put', 'consume', 'mixed'];
/** What the latency of each phase measures. */
const LATENCY: Record<Phase, string> = {
  put: 'put() called → STORED',
  consume: 'close() called → confirmed',
  mixed: 'put() called → close() confirmed (end to end)',
};

interface Row {
  servers: number;
  phase: Phase;
  messagesPerSec: number;
  latency: LatencySummary;
  errors: number;
}

async function startCluster(n: number): Promise<{ servers: ServerProcess[]; stop: () => Promise<void> }> {
  const dirs = Array.from({ length: n }, () => makeScratchDir('siberite-client-bench-'));
  const servers: ServerProcess[] = [];
  for (const dir of dirs) {
    const s = ServerProcess.spawn({ host: '127.0.0.1', port: await freePort('127.0.0.1'), dataDir: dir.path });
    servers.push(s);
    await s.waitReady(30_000);
  }
  return {
    servers,
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
      for (const d of dirs) d.remove();
    },
  };
}

/**
 * One phase on a running cluster: `put` runs the producers alone (the queue fills), `consume`
 * the consumers alone (they drain what `put` left), `mixed` both at once.
 */
async function runPhase(addresses: string[], phase: Phase, o: Options): Promise<Omit<Row, 'servers'>> {
  const producer = new Client({ servers: addresses, maxConnectionsPerServer: o.producers });
  const consumer = new Client({ servers: addresses, maxConnectionsPerServer: o.consumers * o.concurrency });
  const latency = new LatencyRecorder();
  let count = 0;
  let errors = 0;
  const t0 = performance.now();
  const measureFrom = t0 + o.warmup * 1000;
  const measureTo = measureFrom + o.seconds * 1000;
  const inWindow = (t: number) => t >= measureFrom && t < measureTo;
  const pad = Buffer.alloc(o.valueSize - 24, 0x78).toString('latin1');
  // `consume` drains what `put` left in `bench`; `mixed` starts on an empty queue of its own.
  const queue = phase === 'mixed' ? 'bench-mixed' : 'bench';

  const producing = Array.from({ length: phase === 'consume' ? 0 : o.producers }, async () => {
    while (performance.now() < measureTo) {
      const start = performance.now();
      try {
        await producer.put(queue, `${start.toFixed(3).padStart(23, '0')} ${pad}`);
      } catch {
        errors++;
        continue;
      }
      const end = performance.now();
      if (phase === 'put' && inWindow(end)) {
        count++;
        latency.record((end - start) * 1000);
      }
    }
  });
  const consuming = Array.from({ length: phase === 'put' ? 0 : o.consumers }, async () => {
    for await (const m of consumer.consume(queue, { concurrency: o.concurrency, waitMs: 200 })) {
      const putAt = Number(m.value.toString('latin1', 0, 23));
      const start = performance.now();
      // Not awaited: the iterator's back-pressure bounds what is open, as in a worker pool.
      m.close().then(
        () => {
          const end = performance.now();
          if (!inWindow(end)) return;
          count++;
          latency.record((phase === 'mixed' ? end - putAt : end - start) * 1000);
        },
        () => errors++,
      );
    }
  });
  await Promise.all(producing);
  await sleep(Math.max(0, measureTo - performance.now()));
  await consumer.end();
  await Promise.all(consuming);
  await producer.end();
  return { phase, messagesPerSec: count / o.seconds, latency: roundSummary(latency.summary()), errors };
}

async function main(o: Options): Promise<number> {
  const startedAt = new Date();
  const table = new TablePrinter([
    { title: 'servers', width: 7 },
    { title: 'phase', width: 7, align: 'left' },
    { title: 'msg/s', width: 8 },
    { title: 'p50', width: 8 },
    { title: 'p99', width: 8 },
    { title: 'max', width: 8 },
    { title: 'errors', width: 6 },
  ]);
  process.stdout.write(
    `client: ${o.producers} producers, ${o.consumers} consumers × concurrency ${o.concurrency}, ${o.valueSize} B, ${o.seconds} s (+${o.warmup} s warm-up) per phase\n` +
      o.phases.map((p) => `  ${p}: latency = ${LATENCY[p]}\n`).join(''),
  );
  table.header();
  const rows: Row[] = [];
  let failure: string | null = null;
  try {
    for (const n of o.sizes) {
      const cluster = await startCluster(n);
      try {
        const addresses = cluster.servers.map((s) => `127.0.0.1:${s.port}`);
        for (const phase of o.phases) {
          const r = { servers: n, ...(await runPhase(addresses, phase, o)) };
          rows.push(r);
          const l = r.latency;
          table.row([
            String(n),
            phase,
            formatInt(r.messagesPerSec),
            formatMicros(l.p50Us),
            formatMicros(l.p99Us),
            formatMicros(l.maxUs),
            String(r.errors),
          ]);
        }
      } finally {
        await cluster.stop();
      }
    }
  } catch (err) {
    failure = (err as Error).message;
    process.stderr.write(`client: ${failure}\n`);
  }
  writeResults(o.json, { tool: TOOL, label: o.label, startedAt, options: { ...o }, failure }, { latency: LATENCY, rows });
  process.stdout.write(`results: ${o.json}\n`);
  return failure === null ? 0 : 1;
}

runWithOptions(TOOL, USAGE, parse, main);
