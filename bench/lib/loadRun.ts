// What the load benches (flood.ts with floodRunner.ts, pipelined.ts) share: the counters and
// latencies of one run with its error accounting, opening the connections, the reply watchdog,
// the grace period and RSS sampling, the result fields they all report, and the main loop that
// runs the levels, prints the table and writes the results file.

import { performance } from 'node:perf_hooks';

import { bytesToMB, readCpuSeconds, readRssBytes } from './proc.js';
import { writeResults } from './results.js';
import { LatencyRecorder, LoadTable, round, roundSummary, type Column, type LatencySummary, type LoadRow } from './stats.js';
import { connectSocket, type Socket } from './textClient.js';

const CONNECT_TIMEOUT_MS = 5000;
const CLOSE_TIMEOUT_MS = 1000;
const RSS_SAMPLE_MS = 250;
const MAX_ERROR_SAMPLES = 10;
const PRINTED_ERRORS = 5;

/** The counts of a run's result, in the order the results files list them. */
export interface LoadCounts {
  ops: number;
  opsPerSec: number;
  sets: number;
  gets: number;
  getHits: number;
  getMisses: number;
  errors: number;
  warmupErrors: number;
  timeouts: number;
}

/** The fields that end a run's result. */
export interface LoadTail {
  latencyUs: { all: LatencySummary; set: LatencySummary; get: LatencySummary };
  rssMB: number | null;
  rssPeakMB: number | null;
  /** The server's CPU time (all threads) over the measured seconds, in % of one core. */
  serverCpuPercent: number | null;
  errorSamples: string[];
}

/** The server's resident memory at the end of a run, and the peak sampled while it measured. */
export interface RssReading {
  rssEnd: number | null;
  rssPeak: number | null;
  /** Server CPU seconds between the end of the warm-up and the end of the measurement. */
  cpuSeconds: number | null;
}

/** Shared state and counters of one run (`connections` connections). */
export class LoadRun {
  warmupEnd = Number.POSITIVE_INFINITY;
  measureEnd = Number.POSITIVE_INFINITY;

  sets = 0;
  gets = 0;
  getHits = 0;
  getMisses = 0;
  errors = 0;
  warmupErrors = 0;
  timeouts = 0;
  readonly setLatency = new LatencyRecorder();
  readonly getLatency = new LatencyRecorder();
  readonly errorSamples: string[] = [];

  private remaining: number;
  private onAllDone: () => void = () => {};
  /** Resolves once every connection is done. */
  readonly allDone: Promise<void>;

  constructor(
    readonly connections: number,
    /** Longest wait for a reply; also the grace period after measureEnd. */
    readonly timeoutMs: number,
    /** Prefix of the error lines printed to stderr. */
    readonly logPrefix: string,
  ) {
    this.remaining = connections;
    this.allDone = new Promise((res) => {
      this.onAllDone = res;
    });
  }

  /** Starts the clock: `warmup` seconds not counted, then `seconds` measured. */
  start(warmup: number, seconds: number): void {
    this.warmupEnd = performance.now() + warmup * 1000;
    this.measureEnd = this.warmupEnd + seconds * 1000;
  }

  noteError(now: number, message: string): void {
    if (now < this.warmupEnd) this.warmupErrors++;
    else this.errors++;
    const seen = this.errors + this.warmupErrors;
    if (this.errorSamples.length < MAX_ERROR_SAMPLES) this.errorSamples.push(message);
    if (seen <= PRINTED_ERRORS) process.stderr.write(`${this.logPrefix}: ${message}\n`);
    else if (seen === PRINTED_ERRORS + 1) process.stderr.write(`${this.logPrefix}: (further errors not printed)\n`);
  }

  /** A request got the reply it should: counted when sent after the warm-up and answered by the end. */
  answered(isSet: boolean, hit: boolean, sentAt: number, now: number): void {
    if (sentAt < this.warmupEnd || now > this.measureEnd) return;
    const us = (now - sentAt) * 1000;
    if (isSet) {
      this.sets++;
      this.setLatency.record(us);
    } else {
      this.gets++;
      if (hit) this.getHits++;
      else this.getMisses++;
      this.getLatency.record(us);
    }
  }

  connDone(): void {
    if (--this.remaining === 0) this.onAllDone();
  }

  counts(seconds: number): LoadCounts {
    const ops = this.sets + this.gets;
    return {
      ops,
      opsPerSec: Math.round(ops / seconds),
      sets: this.sets,
      gets: this.gets,
      getHits: this.getHits,
      getMisses: this.getMisses,
      errors: this.errors,
      warmupErrors: this.warmupErrors,
      timeouts: this.timeouts,
    };
  }

  tail({ rssEnd, rssPeak, cpuSeconds }: RssReading, seconds: number): LoadTail {
    const all = LatencyRecorder.merge(this.setLatency, this.getLatency);
    return {
      latencyUs: {
        all: roundSummary(all.summary()),
        set: roundSummary(this.setLatency.summary()),
        get: roundSummary(this.getLatency.summary()),
      },
      rssMB: rssEnd === null ? null : round(bytesToMB(rssEnd)),
      rssPeakMB: rssPeak === null ? null : round(bytesToMB(rssPeak)),
      serverCpuPercent: cpuSeconds === null ? null : round((cpuSeconds * 100) / seconds, 1),
      errorSamples: this.errorSamples,
    };
  }
}

/** Opens `connections` connections to host:port at once; unless all open, closes the others and throws. */
async function openConnections(host: string, port: number, connections: number): Promise<Socket[]> {
  const settled = await Promise.allSettled(Array.from({ length: connections }, () => connectSocket(host, port, CONNECT_TIMEOUT_MS)));
  const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed.length > 0) {
    for (const s of settled) if (s.status === 'fulfilled') s.value.destroy();
    const reason = failed[0]!.reason as Error;
    throw new Error(
      `could not open ${failed.length} of ${connections} connections to ${host}:${port}: ${reason.message}` +
        (failed.length === connections ? ' (is the server running?)' : ''),
    );
  }
  return settled.map((s) => (s as PromiseFulfilledResult<Socket>).value);
}

/**
 * The timers of a started run: the reply watchdog, the end of the grace period after the
 * measured seconds, `atEnd` 1 ms after them and, for a server pid, RSS sampling during the
 * measured period.
 */
class RunTimers {
  private rssPeak: number | null = null;
  private readonly sampler: NodeJS.Timeout | null = null;
  private readonly watchdog: NodeJS.Timeout;
  private readonly grace: NodeJS.Timeout;
  private readonly ender: NodeJS.Timeout | null = null;
  private readonly cpuTimers: NodeJS.Timeout[] = [];
  private cpuStart: number | null = null;
  private cpuEnd: number | null = null;

  constructor(
    run: LoadRun,
    conns: readonly LoadConn[],
    private readonly pid: number | null,
    atEnd: (() => void) | undefined,
  ) {
    if (pid !== null) {
      this.sampler = setInterval(() => {
        if (performance.now() < run.warmupEnd) return;
        this.sample();
      }, RSS_SAMPLE_MS);
    }
    this.watchdog = setInterval(
      () => {
        const now = performance.now();
        for (const c of conns) c.checkTimeout(now);
      },
      Math.min(250, Math.max(10, run.timeoutMs / 4)),
    );
    this.grace = setTimeout(
      () => {
        for (const c of conns) c.forceFinish();
      },
      run.measureEnd - performance.now() + run.timeoutMs,
    );
    if (atEnd) this.ender = setTimeout(atEnd, run.measureEnd - performance.now() + 1);
    if (pid !== null) {
      const at = (t: number, read: (cpu: number | null) => void) =>
        this.cpuTimers.push(setTimeout(() => read(readCpuSeconds(pid)), Math.max(0, t - performance.now())));
      at(run.warmupEnd, (cpu) => (this.cpuStart = cpu));
      at(run.measureEnd, (cpu) => (this.cpuEnd = cpu));
    }
  }

  private sample(): number | null {
    const rss = readRssBytes(this.pid!);
    if (rss !== null && (this.rssPeak === null || rss > this.rssPeak)) this.rssPeak = rss;
    return rss;
  }

  /** Stops the timers; reads the server's RSS once more. */
  stop(): RssReading {
    clearTimeout(this.grace);
    if (this.ender !== null) clearTimeout(this.ender);
    clearInterval(this.watchdog);
    if (this.sampler !== null) clearInterval(this.sampler);
    for (const t of this.cpuTimers) clearTimeout(t);
    const rssEnd = this.pid === null ? null : this.sample();
    const cpuSeconds = this.cpuStart === null || this.cpuEnd === null ? null : this.cpuEnd - this.cpuStart;
    return { rssEnd, rssPeak: this.rssPeak, cpuSeconds };
  }
}

/**
 * One load connection's socket: attached, broken by an error or an unexpected close, dropped, or
 * closed cleanly at the end; and its end, counted once by the run.
 */
export abstract class LoadConn<R extends LoadRun = LoadRun> {
  protected socket: Socket | null = null;
  protected done = false;
  private closing = false;

  constructor(
    protected readonly run: R,
    readonly index: number,
  ) {}

  /** Takes `socket`; its errors and the server closing it break the connection. */
  protected watch(socket: Socket): void {
    this.socket = socket;
    socket.on('error', (err: Error) => {
      if (this.socket === socket && !this.closing) this.broken(`socket error: ${err.message}`);
    });
    socket.on('close', () => {
      if (this.socket === socket && !this.closing) this.broken('connection closed by the server');
    });
  }

  onProtocolError(message: string): void {
    this.broken(`protocol error: ${message}`);
  }

  /** Takes a newly opened socket. */
  abstract attach(socket: Socket): void;

  /** Watchdog: gives up a request waiting longer than the timeout. */
  abstract checkTimeout(now: number): void;

  /** The grace period after the end is over: whatever still waits for a reply is a timeout. */
  abstract forceFinish(): void;

  /** The connection failed for `reason`: counted as an error (unless the connection is done), and dropped. */
  protected broken(reason: string): void {
    if (this.done) {
      this.dropSocket();
      return;
    }
    const now = performance.now();
    this.run.noteError(now, `connection ${this.index}: ${reason}`);
    this.afterBreak(now);
  }

  /** What follows a counted break (at `now`): the subclass drops the socket, and reconnects or finishes. */
  protected abstract afterBreak(now: number): void;

  /** Stops parsing replies (the socket is going away). */
  protected abstract stopParsers(): void;

  protected dropSocket(): void {
    this.stopParsers();
    const s = this.socket;
    this.socket = null;
    s?.destroy();
  }

  protected finish(): void {
    if (this.done) return;
    this.done = true;
    this.run.connDone();
  }

  /** Half-closes cleanly and waits for the server to close, destroying after a timeout. */
  async close(): Promise<void> {
    const socket = this.socket;
    if (socket === null) return;
    this.closing = true;
    this.stopParsers();
    await new Promise<void>((res) => {
      const timer = setTimeout(() => socket.destroy(), CLOSE_TIMEOUT_MS);
      socket.once('close', () => {
        clearTimeout(timer);
        res();
      });
      socket.end();
    });
    this.socket = null;
  }
}

/** The options every load bench has. */
export interface LoadOptions {
  label: string;
  port: number;
  /** Server pid: its RSS is reported. */
  pid: number | null;
  queues: number;
  valueSize: number;
  seconds: number;
  warmup: number;
  timeoutMs: number;
  /** The results file. */
  json: string;
}

/** What a load bench runs and prints, beyond its LoadOptions. */
export interface LoadBench<L, R extends LoadRow> {
  /** The bench's own options, listed first in the results file. */
  options: Record<string, unknown>;
  /** The line (and blank line) printed before the table. */
  intro: string;
  /** The table's columns between the label and ops/s, and a result's cells for them. */
  columns: Column[];
  cells(result: R): string[];
  /** Runs one after the other; the first that cannot start ends the bench. */
  levels: readonly L[];
  run(level: L): Promise<R>;
}

/**
 * Runs every level against `host` (a resolved loopback address), printing a table row for each,
 * then writes the results file. Returns the exit status: 0 when every level ran (errors during a
 * run are reported, not fatal), else 1.
 */
export async function runLoadBench<L, R extends LoadRow>(
  tool: string,
  opts: LoadOptions,
  host: string,
  b: LoadBench<L, R>,
): Promise<number> {
  const startedAt = new Date();
  process.stdout.write(b.intro);
  const table = new LoadTable(opts.label, b.columns, opts.pid !== null);
  table.header();

  const results: R[] = [];
  let failure: string | null = null;
  for (const level of b.levels) {
    let r: R;
    try {
      r = await b.run(level);
    } catch (err) {
      failure = (err as Error).message;
      process.stderr.write(`${tool}: ${failure}\n`);
      break;
    }
    results.push(r);
    table.row(r, b.cells(r));
  }

  const options = {
    ...b.options,
    queues: opts.queues,
    valueSize: opts.valueSize,
    seconds: opts.seconds,
    warmup: opts.warmup,
    timeoutSeconds: opts.timeoutMs / 1000,
    pid: opts.pid,
  };
  writeResults(opts.json, { tool, label: opts.label, host, port: opts.port, startedAt, options, failure }, { results });
  process.stdout.write(`\nresults written to ${opts.json}\n`);
  return failure === null ? 0 : 1;
}

/** How long a run lasts, and the server process to sample. */
export interface RunTiming {
  /** Seconds not counted, then seconds measured. */
  warmup: number;
  seconds: number;
  pid: number | null;
}

/**
 * One run of `conns` against host:port: opens all their sockets (or throws), starts the clock and
 * the timers, starts each connection with `kick`, waits until every one is done, then stops the
 * timers and closes the connections. `atEnd`, if given, runs 1 ms after the measured period.
 * Returns the server's RSS at the end and its sampled peak.
 */
export async function driveRun<C extends LoadConn>(
  run: LoadRun,
  conns: C[],
  host: string,
  port: number,
  timing: RunTiming,
  kick: (c: C) => void,
  atEnd?: () => void,
): Promise<RssReading> {
  const sockets = await openConnections(host, port, conns.length);
  sockets.forEach((socket, i) => conns[i]!.attach(socket));

  run.start(timing.warmup, timing.seconds);
  const timers = new RunTimers(run, conns, timing.pid, atEnd);

  for (const c of conns) kick(c);
  await run.allDone;

  const rss = timers.stop();

  await Promise.all(conns.map((c) => c.close()));
  return rss;
}
