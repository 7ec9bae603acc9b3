// The flood load pattern, shared by bench/flood.ts (its CLI) and the benches that run the same
// pattern (fsync.ts, and packing.ts at each checkpoint).
//
// N connections each keep exactly one request in flight, alternating `set <queue> 0 0 <size>`
// and `get <queue>` (connection i uses queue i mod the number of queues), for `warmup` seconds
// (not counted) and then `seconds` measured seconds. Only the reply shape is checked, so the
// same run works against memcached. Moved here unchanged from flood.ts; the only additions are
// the `queueNames` and `logPrefix` parameters. The counters, timers and socket handling it shares
// with pipelined.ts are in loadRun.ts.

import { performance } from 'node:perf_hooks';

import { driveRun, LoadConn, LoadRun, type LoadCounts, type LoadTail } from './loadRun.js';
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

const IDLE = 0;
const SET = 1;
const GET = 2;

/** Shared state and counters of one connection-count run. */
class LevelRun extends LoadRun {
  reconnects = 0;

  constructor(
    readonly host: string,
    readonly port: number,
    connections: number,
    timeoutMs: number,
    logPrefix = 'flood',
  ) {
    super(connections, timeoutMs, logPrefix);
  }
}

/** One connection's request loop: a callback state machine, one request in flight. */
class FloodConn extends LoadConn<LevelRun> implements ReplySink {
  private parser: ReplyParser | null = null;
  private inFlight = IDLE;
  private sentAt = 0;
  private nextIsSet = true;
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(
    run: LevelRun,
    index: number,
    private readonly setRequest: Buffer,
    private readonly getRequest: Buffer,
  ) {
    super(run, index);
  }

  override attach(socket: Socket): void {
    this.watch(socket);
    const parser = new ReplyParser(this);
    this.parser = parser;
    socket.on('data', (chunk: Buffer) => parser.feed(chunk));
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
    this.run.answered(op === SET, kind === Reply.VALUE, this.sentAt, now);
    this.nextIsSet = !this.nextIsSet;
    this.send();
  }

  /** After an error: drops the connection and reconnects shortly if time remains. */
  protected override afterBreak(now: number): void {
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

  protected override stopParsers(): void {
    this.parser?.stop();
    this.parser = null;
  }

  protected override finish(): void {
    if (this.reconnectTimer !== null) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
    super.finish();
  }

  /** Watchdog: a request waiting longer than the timeout counts as an error; reopen the connection. */
  override checkTimeout(now: number): void {
    if (this.done || this.inFlight === IDLE || now - this.sentAt <= this.run.timeoutMs) return;
    this.run.timeouts++;
    this.broken(`no reply within ${this.run.timeoutMs} ms`);
  }

  /** Grace period over: whatever is still waiting for a reply is a timeout. */
  override forceFinish(): void {
    if (this.done) return;
    if (this.inFlight !== IDLE) {
      this.run.timeouts++;
      this.run.noteError(performance.now(), `connection ${this.index}: no reply within ${this.run.timeoutMs} ms after the end`);
      this.inFlight = IDLE;
    }
    this.dropSocket();
    this.finish();
  }
}

export interface LevelResult extends LoadCounts, LoadTail {
  label: string;
  connections: number;
  queues: number;
  valueSize: number;
  warmupSeconds: number;
  seconds: number;
  reconnects: number;
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

  const rss = await driveRun(run, conns, host, opts.port, opts, (c) => c.send());
  return {
    label: opts.label,
    connections,
    queues: opts.queues,
    valueSize: opts.valueSize,
    warmupSeconds: opts.warmup,
    seconds: opts.seconds,
    ...run.counts(opts.seconds),
    reconnects: run.reconnects,
    ...run.tail(rss, opts.seconds),
  };
}
