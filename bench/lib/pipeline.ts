// Fast bulk load for filling and draining: a few connections, each keeping up to `window`
// requests in flight (a sliding window refilled in batches once half of it has been answered).
// Used by packing.ts, rss.ts and startup.ts to build and consume backlogs quickly; it is not a
// latency benchmark (see floodRunner.ts for that).

import { performance } from 'node:perf_hooks';

import { connectSocket, Reply, ReplyParser, type ReplyKind, type ReplySink, type Socket } from './textClient.js';

/** Requests number `start` .. `start + n - 1` of a run, as one buffer. n ≤ the pool's window. */
export type BatchSource = (start: number, n: number) => Buffer;

/** The same request over and over: precomputes `max` copies and hands out prefixes. */
export function repeatedRequest(request: Buffer, max: number): BatchSource {
  const all = Buffer.concat(Array.from({ length: max }, () => request));
  return (_start, n) => all.subarray(0, n * request.length);
}

/** Requests from a list, used round-robin by request number (e.g. one set per queue). */
export function roundRobinRequests(requests: readonly Buffer[], max: number): BatchSource {
  if (requests.length === 1) return repeatedRequest(requests[0]!, max);
  return (start, n) => {
    const parts: Buffer[] = new Array(n);
    for (let k = 0; k < n; k++) parts[k] = requests[(start + k) % requests.length]!;
    return Buffer.concat(parts);
  };
}

export interface ReplyCounts {
  stored: number;
  /** VALUE blocks received (get hits). */
  values: number;
  /** `END` alone (get misses). */
  ends: number;
  deleted: number;
  notFound: number;
  /** Anything else (errors, NOT_STORED, ...). */
  other: number;
  firstOther: string | null;
}

export interface PipelineResult {
  requests: number;
  ms: number;
  opsPerSec: number;
  counts: ReplyCounts;
}

const CONNECT_TIMEOUT_MS = 5000;

function zeroCounts(): ReplyCounts {
  return { stored: 0, values: 0, ends: 0, deleted: 0, notFound: 0, other: 0, firstOther: null };
}

interface Job {
  total: number;
  next: number;
  completed: number;
  source: BatchSource;
  /** performance.now() after which the job fails. */
  deadline: number;
  counts: ReplyCounts;
  resolve: () => void;
  reject: (err: Error) => void;
}

class PipeConn implements ReplySink {
  readonly parser = new ReplyParser(this);
  outstanding = 0;

  constructor(
    private readonly pool: PipelinePool,
    readonly socket: Socket,
  ) {
    socket.on('data', (chunk: Buffer) => this.parser.feed(chunk));
    socket.on('close', () => pool.connFailed(new Error('connection closed by the server')));
    socket.on('error', (err: Error) => pool.connFailed(new Error(`socket error: ${err.message}`)));
  }

  onReply(kind: ReplyKind, values: number, line: string | null): void {
    this.outstanding--;
    this.pool.reply(this, kind, values, line);
  }

  onProtocolError(message: string): void {
    this.pool.connFailed(new Error(`protocol error: ${message}`));
  }
}

/** A set of connections running one bulk job at a time. */
export class PipelinePool {
  private job: Job | null = null;
  private lastReplyAt = 0;
  private readonly watchdog: NodeJS.Timeout;
  private closed = false;
  /** Set once a connection failed: the pool cannot run further jobs. */
  private broken: Error | null = null;

  private constructor(
    private readonly conns: PipeConn[],
    readonly window: number,
    /** No reply for this long while requests are outstanding fails the job. */
    private readonly stallMs: number,
  ) {
    this.watchdog = setInterval(() => {
      const job = this.job;
      if (!job) return;
      const now = performance.now();
      if (now - this.lastReplyAt > this.stallMs) {
        this.failJob(new Error(`no reply for ${this.stallMs / 1000} s (${job.completed} of ${job.total} requests answered)`));
      } else if (now > job.deadline) {
        this.failJob(new Error(`time limit reached (${job.completed} of ${job.total} requests answered)`));
      }
    }, 500);
    this.watchdog.unref();
  }

  /** Opens `connections` connections; the pool's jobs keep up to `window` requests in flight on each. */
  static async open(host: string, port: number, connections: number, window: number, stallMs = 60_000): Promise<PipelinePool> {
    const sockets = await Promise.allSettled(Array.from({ length: connections }, () => connectSocket(host, port, CONNECT_TIMEOUT_MS)));
    const failed = sockets.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      for (const s of sockets) if (s.status === 'fulfilled') s.value.destroy();
      throw new Error(`cannot connect to ${host}:${port}: ${(failed.reason as Error).message} (is the server running?)`);
    }
    const pool = new PipelinePool([], window, stallMs);
    for (const s of sockets) pool.conns.push(new PipeConn(pool, (s as PromiseFulfilledResult<Socket>).value));
    return pool;
  }

  /**
   * Sends `total` requests from `source` over all connections; resolves when all are answered.
   * Fails when the server stalls, a connection breaks, or performance.now() passes `deadline`.
   */
  run(total: number, source: BatchSource, deadline = Number.POSITIVE_INFINITY): Promise<PipelineResult> {
    if (this.closed) return Promise.reject(new Error('pipeline pool is closed'));
    if (this.broken) return Promise.reject(this.broken);
    if (this.job) return Promise.reject(new Error('a pipeline job is already running'));
    const start = performance.now();
    const counts = zeroCounts();
    if (total === 0) return Promise.resolve({ requests: 0, ms: 0, opsPerSec: 0, counts });
    return new Promise<void>((resolve, reject) => {
      this.job = { total, next: 0, completed: 0, source, deadline, counts, resolve, reject };
      this.lastReplyAt = performance.now();
      for (const c of this.conns) this.refill(c, true);
    }).then(() => {
      const ms = performance.now() - start;
      return { requests: total, ms, opsPerSec: (total * 1000) / Math.max(ms, 0.001), counts };
    });
  }

  /** @internal */
  reply(conn: PipeConn, kind: ReplyKind, values: number, line: string | null): void {
    const job = this.job;
    if (!job) return;
    this.lastReplyAt = performance.now();
    const c = job.counts;
    switch (kind) {
      case Reply.STORED:
        c.stored++;
        break;
      case Reply.VALUE:
        c.values += values;
        break;
      case Reply.END:
        c.ends++;
        break;
      case Reply.DELETED:
        c.deleted++;
        break;
      case Reply.NOT_FOUND:
        c.notFound++;
        break;
      default:
        c.other++;
        c.firstOther ??= line;
    }
    if (++job.completed === job.total) {
      this.job = null;
      job.resolve();
      return;
    }
    this.refill(conn, false);
  }

  private refill(conn: PipeConn, initial: boolean): void {
    const job = this.job!;
    if (job.next >= job.total) return;
    if (!initial && conn.outstanding > this.window >> 1) return;
    const n = Math.min(this.window - conn.outstanding, job.total - job.next);
    if (n <= 0) return;
    const buf = job.source(job.next, n);
    job.next += n;
    conn.outstanding += n;
    conn.socket.write(buf);
  }

  /** @internal */
  connFailed(err: Error): void {
    if (this.closed) return;
    this.broken ??= err;
    this.failJob(err);
  }

  private failJob(err: Error): void {
    const job = this.job;
    this.job = null;
    job?.reject(err);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    this.failJob(new Error('pipeline pool closed'));
    for (const c of this.conns) {
      c.parser.stop();
      c.socket.destroy();
    }
  }
}
