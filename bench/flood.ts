// flood: closed-loop throughput/latency load client for memcache-text queue servers.
//
// For each connection count, N connections each keep exactly one request in flight,
// alternating `set flood<i> 0 0 <size>` and `get flood<i>` (i = connection index mod --queues),
// for --warmup seconds (not counted) and then --seconds measured seconds. Prints one table
// row per connection count and writes everything to a JSON file.
//
// Only loopback hosts are accepted: load traffic must not leave this machine.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';

import { resolveLoopbackHost } from './lib/loopback.js';
import { bytesToMB, readRssBytes } from './lib/proc.js';
import { LatencyRecorder, formatInt, round, TablePrinter, type LatencySummary } from './lib/stats.js';
import {
  buildGet,
  buildSet,
  connectSocket,
  makePayload,
  Reply,
  REPLY_NAMES,
  ReplyParser,
  type ReplyKind,
  type ReplySink,
  type Socket,
} from './lib/textClient.js';

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

const CONNECT_TIMEOUT_MS = 5000;
const RECONNECT_DELAY_MS = 100;
const CLOSE_TIMEOUT_MS = 1000;
const RSS_SAMPLE_MS = 250;
const MAX_ERROR_SAMPLES = 10;
const PRINTED_ERRORS = 5;

const IDLE = 0;
const SET = 1;
const GET = 2;

/** Shared state and counters of one connection-count run. */
class LevelRun {
  warmupEnd = Number.POSITIVE_INFINITY;
  measureEnd = Number.POSITIVE_INFINITY;

  sets = 0;
  gets = 0;
  getHits = 0;
  getMisses = 0;
  errors = 0;
  warmupErrors = 0;
  timeouts = 0;
  reconnects = 0;
  readonly setLatency = new LatencyRecorder();
  readonly getLatency = new LatencyRecorder();
  readonly errorSamples: string[] = [];

  private remaining: number;
  private onAllDone: () => void = () => {};
  readonly allDone: Promise<void>;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly connections: number,
    /** Longest wait for a reply; also the grace period after measureEnd. */
    readonly timeoutMs: number,
  ) {
    this.remaining = connections;
    this.allDone = new Promise((res) => {
      this.onAllDone = res;
    });
  }

  noteError(now: number, message: string): void {
    if (now < this.warmupEnd) this.warmupErrors++;
    else this.errors++;
    const seen = this.errors + this.warmupErrors;
    if (this.errorSamples.length < MAX_ERROR_SAMPLES) this.errorSamples.push(message);
    if (seen <= PRINTED_ERRORS) process.stderr.write(`flood: ${message}\n`);
    else if (seen === PRINTED_ERRORS + 1) process.stderr.write('flood: (further errors not printed)\n');
  }

  connDone(): void {
    if (--this.remaining === 0) this.onAllDone();
  }
}

/** One connection's request loop: a callback state machine, one request in flight. */
class FloodConn implements ReplySink {
  private socket: Socket | null = null;
  private parser: ReplyParser | null = null;
  private inFlight = IDLE;
  private sentAt = 0;
  private nextIsSet = true;
  private done = false;
  private closing = false;
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly run: LevelRun,
    readonly index: number,
    private readonly setRequest: Buffer,
    private readonly getRequest: Buffer,
  ) {}

  attach(socket: Socket): void {
    this.socket = socket;
    const parser = new ReplyParser(this);
    this.parser = parser;
    socket.on('data', (chunk: Buffer) => parser.feed(chunk));
    socket.on('error', (err: Error) => {
      if (this.socket === socket && !this.closing) this.broken(`socket error: ${err.message}`);
    });
    socket.on('close', () => {
      if (this.socket === socket && !this.closing) this.broken('connection closed by the server');
    });
  }

  /** Sends the next request, or finishes when the measured period is over. */
  send(): void {
    const now = performance.now();
    if (now >= this.run.measureEnd) {
      this.finish();
      return;
    }
    const socket = this.socket!;
    this.sentAt = now;
    if (this.nextIsSet) {
      this.inFlight = SET;
      socket.write(this.setRequest);
    } else {
      this.inFlight = GET;
      socket.write(this.getRequest);
    }
  }

  onReply(kind: ReplyKind, values: number, line: string | null): void {
    const now = performance.now();
    const op = this.inFlight;
    if (op === IDLE) {
      this.broken(`unsolicited reply ${line ?? REPLY_NAMES[kind]}`);
      return;
    }
    this.inFlight = IDLE;
    const ok = op === SET ? kind === Reply.STORED : kind === Reply.END || (kind === Reply.VALUE && values === 1);
    if (!ok) {
      const what = kind === Reply.VALUE ? `${values} VALUE blocks` : (line ?? REPLY_NAMES[kind]);
      this.broken(`unexpected reply to ${op === SET ? 'set' : 'get'}: ${what}`);
      return;
    }
    const run = this.run;
    if (this.sentAt >= run.warmupEnd && now <= run.measureEnd) {
      const us = (now - this.sentAt) * 1000;
      if (op === SET) {
        run.sets++;
        run.setLatency.record(us);
      } else {
        run.gets++;
        if (kind === Reply.VALUE) run.getHits++;
        else run.getMisses++;
        run.getLatency.record(us);
      }
    }
    this.nextIsSet = !this.nextIsSet;
    this.send();
  }

  onProtocolError(message: string): void {
    this.broken(`protocol error: ${message}`);
  }

  /** Counts an error, drops the connection and reconnects shortly if time remains. */
  private broken(reason: string): void {
    if (this.done) {
      this.dropSocket();
      return;
    }
    const now = performance.now();
    this.run.noteError(now, `connection ${this.index}: ${reason}`);
    this.inFlight = IDLE;
    this.dropSocket();
    if (now + RECONNECT_DELAY_MS >= this.run.measureEnd) {
      this.finish();
      return;
    }
    this.run.reconnects++;
    this.reconnectTimer = setTimeout(() => this.reconnect(), RECONNECT_DELAY_MS);
  }

  private reconnect(): void {
    this.reconnectTimer = null;
    if (this.done) return;
    const now = performance.now();
    if (now >= this.run.measureEnd) {
      this.finish();
      return;
    }
    const timeout = Math.min(CONNECT_TIMEOUT_MS, Math.max(100, this.run.measureEnd - now));
    connectSocket(this.run.host, this.run.port, timeout).then(
      (socket) => {
        if (this.done) {
          socket.destroy();
          return;
        }
        this.attach(socket);
        this.send();
      },
      (err: Error) => this.broken(`reconnect failed: ${err.message}`),
    );
  }

  private dropSocket(): void {
    this.parser?.stop();
    this.parser = null;
    const s = this.socket;
    this.socket = null;
    s?.destroy();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.reconnectTimer !== null) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
    this.run.connDone();
  }

  /** Watchdog: a request waiting longer than the timeout counts as an error; reopen the connection. */
  checkTimeout(now: number): void {
    if (this.done || this.inFlight === IDLE || now - this.sentAt <= this.run.timeoutMs) return;
    this.run.timeouts++;
    this.broken(`no reply within ${this.run.timeoutMs} ms`);
  }

  /** Grace period over: whatever is still waiting for a reply is a timeout. */
  forceFinish(): void {
    if (this.done) return;
    if (this.inFlight !== IDLE) {
      this.run.timeouts++;
      this.run.noteError(performance.now(), `connection ${this.index}: no reply within ${this.run.timeoutMs} ms after the end`);
      this.inFlight = IDLE;
    }
    this.dropSocket();
    this.finish();
  }

  /** Half-closes cleanly and waits for the server to close, destroying after a timeout. */
  close(): Promise<void> {
    const socket = this.socket;
    if (socket === null) return Promise.resolve();
    this.closing = true;
    this.parser?.stop();
    return new Promise((res) => {
      const timer = setTimeout(() => socket.destroy(), CLOSE_TIMEOUT_MS);
      socket.once('close', () => {
        clearTimeout(timer);
        this.socket = null;
        res();
      });
      socket.end();
    });
  }
}

interface LevelResult {
  label: string;
  connections: number;
  queues: number;
  valueSize: number;
  warmupSeconds: number;
  seconds: number;
  ops: number;
  opsPerSec: number;
  sets: number;
  gets: number;
  getHits: number;
  getMisses: number;
  errors: number;
  warmupErrors: number;
  timeouts: number;
  reconnects: number;
  latencyUs: { all: LatencySummary; set: LatencySummary; get: LatencySummary };
  rssMB: number | null;
  rssPeakMB: number | null;
  errorSamples: string[];
}

function roundSummary(s: LatencySummary): LatencySummary {
  return {
    count: s.count,
    meanUs: round(s.meanUs),
    minUs: round(s.minUs),
    p50Us: round(s.p50Us),
    p90Us: round(s.p90Us),
    p99Us: round(s.p99Us),
    p999Us: round(s.p999Us),
    maxUs: round(s.maxUs),
  };
}

async function runLevel(opts: Options, host: string, connections: number): Promise<LevelResult> {
  const run = new LevelRun(host, opts.port, connections, opts.timeoutMs);
  const payload = makePayload(opts.valueSize);
  const setRequests: Buffer[] = [];
  const getRequests: Buffer[] = [];
  for (let q = 0; q < opts.queues; q++) {
    setRequests.push(buildSet(`flood${q}`, payload));
    getRequests.push(buildGet(`flood${q}`));
  }
  const conns: FloodConn[] = [];
  for (let i = 0; i < connections; i++) {
    const q = i % opts.queues;
    conns.push(new FloodConn(run, i, setRequests[q]!, getRequests[q]!));
  }

  const settled = await Promise.allSettled(conns.map(() => connectSocket(host, opts.port, CONNECT_TIMEOUT_MS)));
  const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed.length > 0) {
    for (const s of settled) if (s.status === 'fulfilled') s.value.destroy();
    const reason = failed[0]!.reason as Error;
    throw new Error(
      `could not open ${failed.length} of ${connections} connections to ${host}:${opts.port}: ${reason.message}` +
        (connections === 1 || failed.length === connections ? ' (is the server running?)' : ''),
    );
  }
  settled.forEach((s, i) => conns[i]!.attach((s as PromiseFulfilledResult<Socket>).value));

  const start = performance.now();
  run.warmupEnd = start + opts.warmup * 1000;
  run.measureEnd = run.warmupEnd + opts.seconds * 1000;

  let rssPeak: number | null = null;
  let sampler: NodeJS.Timeout | null = null;
  if (opts.pid !== null) {
    const pid = opts.pid;
    sampler = setInterval(() => {
      if (performance.now() < run.warmupEnd) return;
      const rss = readRssBytes(pid);
      if (rss !== null && (rssPeak === null || rss > rssPeak)) rssPeak = rss;
    }, RSS_SAMPLE_MS);
  }
  const watchdog = setInterval(
    () => {
      const now = performance.now();
      for (const c of conns) c.checkTimeout(now);
    },
    Math.min(250, Math.max(10, opts.timeoutMs / 4)),
  );
  const grace = setTimeout(
    () => {
      for (const c of conns) c.forceFinish();
    },
    run.measureEnd - performance.now() + opts.timeoutMs,
  );

  for (const c of conns) c.send();
  await run.allDone;

  clearTimeout(grace);
  clearInterval(watchdog);
  if (sampler !== null) clearInterval(sampler);
  let rssEnd: number | null = null;
  if (opts.pid !== null) {
    rssEnd = readRssBytes(opts.pid);
    if (rssEnd !== null && (rssPeak === null || rssEnd > rssPeak)) rssPeak = rssEnd;
  }

  await Promise.all(conns.map((c) => c.close()));

  const all = LatencyRecorder.merge(run.setLatency, run.getLatency);
  const ops = run.sets + run.gets;
  return {
    label: opts.label,
    connections,
    queues: opts.queues,
    valueSize: opts.valueSize,
    warmupSeconds: opts.warmup,
    seconds: opts.seconds,
    ops,
    opsPerSec: Math.round(ops / opts.seconds),
    sets: run.sets,
    gets: run.gets,
    getHits: run.getHits,
    getMisses: run.getMisses,
    errors: run.errors,
    warmupErrors: run.warmupErrors,
    timeouts: run.timeouts,
    reconnects: run.reconnects,
    latencyUs: {
      all: roundSummary(all.summary()),
      set: roundSummary(run.setLatency.summary()),
      get: roundSummary(run.getLatency.summary()),
    },
    rssMB: rssEnd === null ? null : round(bytesToMB(rssEnd)),
    rssPeakMB: rssPeak === null ? null : round(bytesToMB(rssPeak)),
    errorSamples: run.errorSamples,
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
      r = await runLevel(opts, host, n);
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
