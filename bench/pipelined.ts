// pipelined: throughput/latency with deep pipelines, memcache binary (default) or text protocol.
//
// N connections each keep --window requests in flight: as each reply arrives, the next request
// is sent (all refills of one incoming chunk go out in one write). Requests alternate
// `set pipelined<q>` (a --value-size payload) and `get pipelined<q>`, q cycling over --queues
// queues (each connection starting at its own index). Replies must come back in request order
// (binary replies are also checked by opaque). --warmup seconds are not counted, then
// --seconds are measured. Latency is from the write of a request to the parse of its reply, so
// it includes the time spent queued behind the rest of the window.
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

const USAGE = `usage: node dist/bench/pipelined.js [options]

  --host <addr>          loopback server address (127.0.0.0/8, ::1, localhost)  [127.0.0.1]
  --port <n>             server port                                            [22133]
  --protocol <p>         binary | text | both (one run each)                     [binary]
  --connections <n>      connections                                            [4]
  --window <n>           requests in flight per connection                      [64]
  --queues <n>           number of queues pipelined0..pipelined<n-1>            [10]
  --value-size <bytes>   payload size of each set                               [64]
  --seconds <s>          measured seconds per run                               [5]
  --warmup <s>           warm-up seconds per run (not counted)                  [1]
  --label <name>         name of the server under test, for the table and file  [siberite]
  --timeout <s>          a request without a reply for this long is an error    [5]
                         (the connection is dropped); also the grace period at the end
  --pid <pid>            server process id: report its RSS (from /proc)
  --json <file>          results file                [bench/results/pipelined-<label>.json]
  --help                 this text`;

type Protocol = 'binary' | 'text';

interface Options {
  host: string;
  port: number;
  protocols: Protocol[];
  connections: number;
  window: number;
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
    'protocol',
    'connections',
    'window',
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

  const protocol = raw.get('protocol') ?? 'binary';
  let protocols: Protocol[];
  if (protocol === 'binary' || protocol === 'text') protocols = [protocol];
  else if (protocol === 'both') protocols = ['binary', 'text'];
  else throw new UsageError(`--protocol must be binary, text or both, got ${JSON.stringify(protocol)}`);

  const label = raw.get('label') ?? 'siberite';
  if (!/^[A-Za-z0-9._-]+$/.test(label)) throw new UsageError('--label may only contain letters, digits, ".", "_" and "-"');

  const pidRaw = raw.get('pid');
  const pid = pidRaw === undefined ? null : int('pid', 0, 1, 2 ** 31 - 1);

  return {
    host: raw.get('host') ?? '127.0.0.1',
    port: int('port', 22133, 1, 65535),
    protocols,
    connections: int('connections', 4, 1, 10_000),
    window: int('window', 64, 1, 100_000),
    queues: int('queues', 10, 1, 100_000),
    valueSize: int('value-size', 64, 0, 64 * 1024 * 1024),
    seconds: num('seconds', 5, 0.1, 3600),
    warmup: num('warmup', 1, 0, 3600),
    timeoutMs: num('timeout', 5, 0.01, 600) * 1000,
    label,
    pid,
    json: raw.get('json') ?? `bench/results/pipelined-${label}.json`,
  };
}

const CONNECT_TIMEOUT_MS = 5000;
const CLOSE_TIMEOUT_MS = 1000;
const RSS_SAMPLE_MS = 250;
const MAX_ERROR_SAMPLES = 10;
const PRINTED_ERRORS = 5;

const SET = 0;
const GET = 1;

// ---- the memcache binary protocol: just what this bench sends and reads ----------------------

const HEADER = 24;
const REQUEST_MAGIC = 0x80;
const RESPONSE_MAGIC = 0x81;
const OP_GET = 0x00;
const OP_SET = 0x01;
const STATUS_OK = 0x0000;
const STATUS_KEY_NOT_FOUND = 0x0001;
/** Largest response body accepted before the stream is declared broken. */
const MAX_BODY = 1 << 30;

/** A request packet with opaque 0; the opaque is patched in at offset 12 per request. */
function binaryRequest(opcode: number, key: string, value: Buffer | null): Buffer {
  const k = Buffer.from(key, 'latin1');
  const extras = opcode === OP_SET ? 8 : 0; // flags 0, exptime 0
  const valueLength = value === null ? 0 : value.length;
  const b = Buffer.alloc(HEADER + extras + k.length + valueLength);
  b[0] = REQUEST_MAGIC;
  b[1] = opcode;
  b.writeUInt16BE(k.length, 2);
  b[4] = extras;
  b.writeUInt32BE(extras + k.length + valueLength, 8);
  k.copy(b, HEADER + extras);
  if (value !== null) value.copy(b, HEADER + extras + k.length);
  return b;
}

/** Receives the responses a BinaryParser finds. */
interface BinarySink {
  onResponse(opcode: number, status: number, opaque: number): void;
  onProtocolError(message: string): void;
}

/** Streaming parser of binary response headers; bodies are skipped by count, never copied. */
class BinaryParser {
  /** Bytes of an incomplete header carried over from the previous chunk. */
  private partial: Buffer | null = null;
  /** Body bytes still to skip. */
  private skip = 0;
  private stopped = false;

  constructor(private readonly sink: BinarySink) {}

  stop(): void {
    this.stopped = true;
    this.partial = null;
  }

  feed(chunk: Buffer): void {
    if (this.stopped) return;
    let buf = chunk;
    let pos = 0;
    if (this.skip > 0) {
      const n = Math.min(this.skip, buf.length);
      this.skip -= n;
      pos = n;
      if (pos === buf.length) return;
    }
    if (this.partial !== null) {
      buf = Buffer.concat([this.partial, buf.subarray(pos)]);
      this.partial = null;
      pos = 0;
    }
    const len = buf.length;
    while (pos < len) {
      if (len - pos < HEADER) {
        this.partial = Buffer.from(buf.subarray(pos)); // copy: the chunk is not ours to keep
        return;
      }
      if (buf[pos] !== RESPONSE_MAGIC) return this.fail(`bad response magic 0x${buf[pos]!.toString(16)}`);
      const body = buf.readUInt32BE(pos + 8);
      if (body > MAX_BODY) return this.fail(`response body of ${body} bytes`);
      const opcode = buf[pos + 1]!;
      const status = buf.readUInt16BE(pos + 6);
      const opaque = buf.readUInt32BE(pos + 12);
      pos += HEADER;
      const avail = len - pos;
      if (avail < body) {
        this.skip = body - avail;
        pos = len;
      } else {
        pos += body;
      }
      this.sink.onResponse(opcode, status, opaque);
      if (this.stopped) return;
    }
  }

  private fail(message: string): void {
    this.stop();
    this.sink.onProtocolError(message);
  }
}

// ---- one run ------------------------------------------------------------------------------------

/** Shared state and counters of one run. */
class Run {
  warmupEnd = Number.POSITIVE_INFINITY;
  measureEnd = Number.POSITIVE_INFINITY;

  sets = 0;
  gets = 0;
  getHits = 0;
  getMisses = 0;
  errors = 0;
  warmupErrors = 0;
  timeouts = 0;
  brokenConnections = 0;
  readonly setLatency = new LatencyRecorder();
  readonly getLatency = new LatencyRecorder();
  readonly errorSamples: string[] = [];

  private remaining: number;
  private onAllDone: () => void = () => {};
  readonly allDone: Promise<void>;

  constructor(
    readonly connections: number,
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
    if (seen <= PRINTED_ERRORS) process.stderr.write(`pipelined: ${message}\n`);
    else if (seen === PRINTED_ERRORS + 1) process.stderr.write('pipelined: (further errors not printed)\n');
  }

  connDone(): void {
    if (--this.remaining === 0) this.onAllDone();
  }
}

/** Request templates for one protocol: set and get per queue. */
interface Templates {
  set: Buffer[];
  get: Buffer[];
}

/**
 * One connection: a ring of the requests in flight (their op and send time), refilled to
 * --window as replies arrive. Replies are matched to requests in order.
 */
class PipeConn implements BinarySink, ReplySink {
  private socket: Socket | null = null;
  private binaryParser: BinaryParser | null = null;
  private textParser: ReplyParser | null = null;
  private readonly ops: Uint8Array;
  private readonly sentAt: Float64Array;
  private readonly opaques: Uint32Array;
  private head = 0;
  private inFlight = 0;
  /** Requests sent so far: picks set/get and the queue of the next one. */
  private seq = 0;
  private done = false;
  private closing = false;
  /** Inside a data event: refills wait for its end, to go out in one write. */
  private inChunk = false;

  constructor(
    private readonly run: Run,
    readonly index: number,
    private readonly protocol: Protocol,
    private readonly window: number,
    private readonly templates: Templates,
  ) {
    this.ops = new Uint8Array(window);
    this.sentAt = new Float64Array(window);
    this.opaques = new Uint32Array(window);
  }

  attach(socket: Socket): void {
    this.socket = socket;
    if (this.protocol === 'binary') this.binaryParser = new BinaryParser(this);
    else this.textParser = new ReplyParser(this);
    socket.on('data', (chunk: Buffer) => {
      this.inChunk = true;
      if (this.binaryParser) this.binaryParser.feed(chunk);
      else this.textParser?.feed(chunk);
      this.inChunk = false;
      if (!this.done) this.fill();
    });
    socket.on('error', (err: Error) => {
      if (this.socket === socket && !this.closing) this.broken(`socket error: ${err.message}`);
    });
    socket.on('close', () => {
      if (this.socket === socket && !this.closing) this.broken('connection closed by the server');
    });
  }

  /** Sends requests until the window is full (none once the measured period is over). */
  fill(): void {
    const socket = this.socket;
    if (socket === null || this.done) return;
    const now = performance.now();
    if (now >= this.run.measureEnd) {
      if (this.inFlight === 0) this.finish();
      return;
    }
    const n = this.window - this.inFlight;
    if (n <= 0) return;
    const { set, get } = this.templates;
    const queues = set.length;
    const binary = this.protocol === 'binary';
    const parts: Buffer[] = new Array<Buffer>(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const s = this.seq++;
      const op = (s & 1) === 0 ? SET : GET;
      const q = (this.index + Math.floor(s / 2)) % queues;
      const req = op === SET ? set[q]! : get[q]!;
      const slot = (this.head + this.inFlight) % this.window;
      parts[i] = req;
      total += req.length;
      this.ops[slot] = op;
      this.sentAt[slot] = now;
      this.opaques[slot] = s >>> 0;
      this.inFlight++;
    }
    // One write: the templates copied back to back, each binary request with its own opaque.
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    let slot = (this.head + this.inFlight - n) % this.window;
    for (let i = 0; i < n; i++) {
      const req = parts[i]!;
      req.copy(out, at);
      if (binary) out.writeUInt32BE(this.opaques[slot]!, at + 12);
      at += req.length;
      slot = (slot + 1) % this.window;
    }
    socket.write(out);
  }

  /** The oldest request in flight got its reply; `ok` says whether it was the expected kind. */
  private complete(ok: (op: number) => boolean, hit: boolean, describe: () => string): boolean {
    const now = performance.now();
    if (this.inFlight === 0) {
      this.broken(`unsolicited reply ${describe()}`);
      return false;
    }
    const slot = this.head;
    const op = this.ops[slot]!;
    const sentAt = this.sentAt[slot]!;
    this.head = (this.head + 1) % this.window;
    this.inFlight--;
    const run = this.run;
    if (!ok(op)) {
      run.noteError(now, `connection ${this.index}: unexpected reply to ${op === SET ? 'set' : 'get'}: ${describe()}`);
    } else if (sentAt >= run.warmupEnd && now <= run.measureEnd) {
      const us = (now - sentAt) * 1000;
      if (op === SET) {
        run.sets++;
        run.setLatency.record(us);
      } else {
        run.gets++;
        if (hit) run.getHits++;
        else run.getMisses++;
        run.getLatency.record(us);
      }
    }
    if (!this.inChunk) this.fill();
    return true;
  }

  onResponse(opcode: number, status: number, opaque: number): void {
    if (this.inFlight > 0 && opaque !== this.opaques[this.head]) {
      this.broken(`reply opaque ${opaque} out of order (expected ${this.opaques[this.head]})`);
      return;
    }
    this.complete(
      (op) =>
        op === SET
          ? opcode === OP_SET && status === STATUS_OK
          : opcode === OP_GET && (status === STATUS_OK || status === STATUS_KEY_NOT_FOUND),
      status === STATUS_OK,
      () => `opcode 0x${opcode.toString(16)} status 0x${status.toString(16).padStart(4, '0')}`,
    );
  }

  onReply(kind: ReplyKind, values: number, line: string | null): void {
    this.complete(
      (op) => (op === SET ? kind === Reply.STORED : kind === Reply.END || (kind === Reply.VALUE && values === 1)),
      kind === Reply.VALUE,
      () => (kind === Reply.VALUE ? `${values} VALUE blocks` : (line ?? REPLY_NAMES[kind]!)),
    );
  }

  onProtocolError(message: string): void {
    this.broken(`protocol error: ${message}`);
  }

  /** Counts an error and gives this connection up (its in-flight requests are lost). */
  private broken(reason: string): void {
    if (this.done) {
      this.dropSocket();
      return;
    }
    this.run.noteError(performance.now(), `connection ${this.index}: ${reason}`);
    this.run.brokenConnections++;
    this.inFlight = 0;
    this.dropSocket();
    this.finish();
  }

  private dropSocket(): void {
    this.binaryParser?.stop();
    this.textParser?.stop();
    const s = this.socket;
    this.socket = null;
    s?.destroy();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.run.connDone();
  }

  /** Watchdog: the oldest request waiting longer than the timeout breaks the connection. */
  checkTimeout(now: number): void {
    if (this.done || this.inFlight === 0 || now - this.sentAt[this.head]! <= this.run.timeoutMs) return;
    this.run.timeouts++;
    this.broken(`no reply within ${this.run.timeoutMs} ms (${this.inFlight} requests in flight)`);
  }

  /** Grace period over: whatever is still waiting for a reply is a timeout. */
  forceFinish(): void {
    if (this.done) return;
    if (this.inFlight > 0) {
      this.run.timeouts++;
      this.run.noteError(performance.now(), `connection ${this.index}: ${this.inFlight} replies missing after the end`);
      this.inFlight = 0;
      this.dropSocket();
    }
    this.finish();
  }

  /** Half-closes cleanly and waits for the server to close, destroying after a timeout. */
  close(): Promise<void> {
    const socket = this.socket;
    if (socket === null) return Promise.resolve();
    this.closing = true;
    this.binaryParser?.stop();
    this.textParser?.stop();
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

interface RunResult {
  label: string;
  protocol: Protocol;
  connections: number;
  window: number;
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
  brokenConnections: number;
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

function templatesFor(protocol: Protocol, queues: number, payload: Buffer): Templates {
  const t: Templates = { set: [], get: [] };
  for (let q = 0; q < queues; q++) {
    const key = `pipelined${q}`;
    if (protocol === 'binary') {
      t.set.push(binaryRequest(OP_SET, key, payload));
      t.get.push(binaryRequest(OP_GET, key, null));
    } else {
      t.set.push(buildSet(key, payload));
      t.get.push(buildGet(key));
    }
  }
  return t;
}

async function runOnce(opts: Options, host: string, protocol: Protocol): Promise<RunResult> {
  const run = new Run(opts.connections, opts.timeoutMs);
  const templates = templatesFor(protocol, opts.queues, makePayload(opts.valueSize));
  const conns: PipeConn[] = [];
  for (let i = 0; i < opts.connections; i++) conns.push(new PipeConn(run, i, protocol, opts.window, templates));

  const settled = await Promise.allSettled(conns.map(() => connectSocket(host, opts.port, CONNECT_TIMEOUT_MS)));
  const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed.length > 0) {
    for (const s of settled) if (s.status === 'fulfilled') s.value.destroy();
    const reason = failed[0]!.reason as Error;
    throw new Error(
      `could not open ${failed.length} of ${opts.connections} connections to ${host}:${opts.port}: ${reason.message}` +
        (failed.length === opts.connections ? ' (is the server running?)' : ''),
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
  // A connection whose window drained exactly at the end gets no more data events: check it.
  const ender = setTimeout(
    () => {
      for (const c of conns) c.fill();
    },
    run.measureEnd - performance.now() + 1,
  );

  for (const c of conns) c.fill();
  await run.allDone;

  clearTimeout(grace);
  clearTimeout(ender);
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
    protocol,
    connections: opts.connections,
    window: opts.window,
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
    brokenConnections: run.brokenConnections,
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

function writeJson(path: string, opts: Options, host: string, startedAt: Date, results: RunResult[], failure: string | null): void {
  const file = resolvePath(path);
  mkdirSync(dirname(file), { recursive: true });
  const doc = {
    tool: 'pipelined',
    label: opts.label,
    host,
    port: opts.port,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    node: process.version,
    options: {
      protocols: opts.protocols,
      connections: opts.connections,
      window: opts.window,
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
      process.stderr.write(`pipelined: ${err.message}\n\n${USAGE}\n`);
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
    process.stderr.write(`pipelined: ${(err as Error).message}\n`);
    return 2;
  }
  if (opts.pid !== null && readRssBytes(opts.pid) === null) {
    process.stderr.write(`pipelined: cannot read VmRSS from /proc/${opts.pid}/status (no such process?)\n`);
    return 2;
  }

  const startedAt = new Date();
  process.stdout.write(
    `pipelined ${opts.label} @ ${host}:${opts.port}: ${opts.connections} connections x ${opts.window} in flight, ` +
      `queues=${opts.queues} value=${opts.valueSize}B warmup=${opts.warmup}s measure=${opts.seconds}s (set/get alternating)\n\n`,
  );
  const withRss = opts.pid !== null;
  const table = new TablePrinter([
    { title: 'label', width: Math.max(5, opts.label.length), align: 'left' },
    { title: 'proto', width: 6, align: 'left' },
    { title: 'conns', width: 5 },
    { title: 'window', width: 6 },
    { title: 'ops/s', width: 9 },
    { title: 'p50 us', width: 8 },
    { title: 'p99 us', width: 8 },
    { title: 'p999 us', width: 8 },
    { title: 'max us', width: 9 },
    { title: 'errors', width: 6 },
    ...(withRss ? [{ title: 'RSS MB', width: 7 }] : []),
  ]);
  table.header();

  const results: RunResult[] = [];
  let failure: string | null = null;
  for (const protocol of opts.protocols) {
    let r: RunResult;
    try {
      r = await runOnce(opts, host, protocol);
    } catch (err) {
      failure = (err as Error).message;
      process.stderr.write(`pipelined: ${failure}\n`);
      break;
    }
    results.push(r);
    const lat = r.latencyUs.all;
    table.row([
      r.label,
      r.protocol,
      String(r.connections),
      String(r.window),
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
      process.stderr.write('pipelined: open handles remain after the run; exiting\n');
      process.exit(code);
    }, 3000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`pipelined: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
