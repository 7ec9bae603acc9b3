// The flood load pattern, shared by bench/flood.ts (its CLI) and the benches that run the same
// pattern (fsync.ts, and packing.ts at each checkpoint).
//
// N connections each keep exactly one request in flight, alternating `set <queue> 0 0 <size>`
// and `get <queue>` (connection i uses queue i mod the number of queues), for `warmup` seconds
// (not counted) and then `seconds` measured seconds. Only the reply shape is checked, so the
// same run works against memcached. Moved here unchanged from flood.ts; the only additions are
// the `queueNames` and `logPrefix` parameters.

import { performance } from 'node:perf_hooks';

import { bytesToMB, readRssBytes } from './proc.js';
import { LatencyRecorder, round, type LatencySummary } from './stats.js';
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
} from './textClient.js';

/** What one connection-count run needs to know. */
export interface FloodParams {
  port: number;
  /** Number of queues; connection i uses queue i mod queues. */
  queues: number;
  /** Queue (key) names; default `flood0..flood<queues-1>`. Must have `queues` entries if given. */
  queueNames?: string[];
  valueSize: number;
  seconds: number;
  warmup: number;
  timeoutMs: number;
  label: string;
  /** Server pid, to sample its RSS; null for none. */
  pid: number | null;
  /** Prefix of the error lines printed to stderr (default "flood"). */
  logPrefix?: string;
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
    readonly logPrefix = 'flood',
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
    if (seen <= PRINTED_ERRORS) process.stderr.write(`${this.logPrefix}: ${message}\n`);
    else if (seen === PRINTED_ERRORS + 1) process.stderr.write(`${this.logPrefix}: (further errors not printed)\n`);
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

export interface LevelResult {
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

export function roundSummary(s: LatencySummary): LatencySummary {
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

/**
 * Runs the flood pattern with `connections` connections against host:port and returns the
 * counts and latencies. Rejects only when the connections cannot be opened; errors during the
 * run are counted (and the connection reopened).
 */
export async function runFloodLevel(opts: FloodParams, host: string, connections: number): Promise<LevelResult> {
  const names = opts.queueNames ?? Array.from({ length: opts.queues }, (_, q) => `flood${q}`);
  if (names.length !== opts.queues) throw new Error(`queueNames has ${names.length} names for ${opts.queues} queues`);
  const run = new LevelRun(host, opts.port, connections, opts.timeoutMs, opts.logPrefix);
  const payload = makePayload(opts.valueSize);
  const setRequests: Buffer[] = [];
  const getRequests: Buffer[] = [];
  for (let q = 0; q < opts.queues; q++) {
    setRequests.push(buildSet(names[q]!, payload));
    getRequests.push(buildGet(names[q]!));
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
