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

import { performance } from 'node:perf_hooks';

import { Args, runLoadMain, UsageError } from './lib/cli.js';
import { driveRun, LoadConn, LoadRun, runLoadBench, type LoadCounts, type LoadOptions, type LoadTail } from './lib/loadRun.js';
import { defaultResultsPath } from './lib/results.js';
import {
  buildGet,
  buildSet,
  makePayload,
  Reply,
  REPLY_NAMES,
  ReplyParser,
  type ReplyKind,
  type ReplySink,
  type Socket,
} from './lib/textClient.js';

const TOOL = 'pipelined';
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

interface Options extends LoadOptions {
  host: string;
  protocols: Protocol[];
  connections: number;
  window: number;
}

function parseArgs(argv: string[]): Options | null {
  const a = new Args(argv, [
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
  if (a.help) return null;

  const protocol = a.str('protocol', 'binary');
  let protocols: Protocol[];
  if (protocol === 'binary' || protocol === 'text') protocols = [protocol];
  else if (protocol === 'both') protocols = ['binary', 'text'];
  else throw new UsageError(`--protocol must be binary, text or both, got ${JSON.stringify(protocol)}`);

  const label = a.label('siberite');
  const pid = a.optInt('pid', 1, 2 ** 31 - 1);

  return {
    host: a.str('host', '127.0.0.1'),
    port: a.int('port', 22133, 1, 65535),
    protocols,
    connections: a.int('connections', 4, 1, 10_000),
    window: a.int('window', 64, 1, 100_000),
    queues: a.int('queues', 10, 1, 100_000),
    valueSize: a.int('value-size', 64, 0, 64 * 1024 * 1024),
    seconds: a.num('seconds', 5, 0.1, 3600),
    warmup: a.num('warmup', 1, 0, 3600),
    timeoutMs: a.num('timeout', 5, 0.01, 600) * 1000,
    label,
    pid,
    json: a.str('json', defaultResultsPath(TOOL, label)),
  };
}

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
class Run extends LoadRun {
  brokenConnections = 0;

  constructor(connections: number, timeoutMs: number) {
    super(connections, timeoutMs, TOOL);
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
class PipeConn extends LoadConn<Run> implements BinarySink, ReplySink {
  private binaryParser: BinaryParser | null = null;
  private textParser: ReplyParser | null = null;
  private readonly ops: Uint8Array;
  private readonly sentAt: Float64Array;
  private readonly opaques: Uint32Array;
  private head = 0;
  private inFlight = 0;
  /** Requests sent so far: picks set/get and the queue of the next one. */
  private seq = 0;
  /** Inside a data event: refills wait for its end, to go out in one write. */
  private inChunk = false;

  constructor(
    run: Run,
    index: number,
    private readonly protocol: Protocol,
    private readonly window: number,
    private readonly templates: Templates,
  ) {
    super(run, index);
    this.ops = new Uint8Array(window);
    this.sentAt = new Float64Array(window);
    this.opaques = new Uint32Array(window);
  }

  override attach(socket: Socket): void {
    this.watch(socket);
    if (this.protocol === 'binary') this.binaryParser = new BinaryParser(this);
    else this.textParser = new ReplyParser(this);
    socket.on('data', (chunk: Buffer) => {
      this.inChunk = true;
      if (this.binaryParser) this.binaryParser.feed(chunk);
      else this.textParser?.feed(chunk);
      this.inChunk = false;
      if (!this.done) this.fill();
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
    if (!ok(op)) {
      this.run.noteError(now, `connection ${this.index}: unexpected reply to ${op === SET ? 'set' : 'get'}: ${describe()}`);
    } else {
      this.run.answered(op === SET, hit, sentAt, now);
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

  /** After an error: gives this connection up (its in-flight requests are lost). */
  protected override afterBreak(): void {
    this.run.brokenConnections++;
    this.inFlight = 0;
    this.dropSocket();
    this.finish();
  }

  protected override stopParsers(): void {
    this.binaryParser?.stop();
    this.textParser?.stop();
  }

  /** Watchdog: the oldest request waiting longer than the timeout breaks the connection. */
  override checkTimeout(now: number): void {
    if (this.done || this.inFlight === 0 || now - this.sentAt[this.head]! <= this.run.timeoutMs) return;
    this.run.timeouts++;
    this.broken(`no reply within ${this.run.timeoutMs} ms (${this.inFlight} requests in flight)`);
  }

  /** Grace period over: whatever is still waiting for a reply is a timeout. */
  override forceFinish(): void {
    if (this.done) return;
    if (this.inFlight > 0) {
      this.run.timeouts++;
      this.run.noteError(performance.now(), `connection ${this.index}: ${this.inFlight} replies missing after the end`);
      this.inFlight = 0;
      this.dropSocket();
    }
    this.finish();
  }
}

interface RunResult extends LoadCounts, LoadTail {
  label: string;
  protocol: Protocol;
  connections: number;
  window: number;
  queues: number;
  valueSize: number;
  warmupSeconds: number;
  seconds: number;
  brokenConnections: number;
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

  const rss = await driveRun(
    run,
    conns,
    host,
    opts.port,
    opts,
    (c) => c.fill(),
    // A connection whose window drained exactly at the end gets no more data events: check it.
    () => {
      for (const c of conns) c.fill();
    },
  );
  return {
    label: opts.label,
    protocol,
    connections: opts.connections,
    window: opts.window,
    queues: opts.queues,
    valueSize: opts.valueSize,
    warmupSeconds: opts.warmup,
    seconds: opts.seconds,
    ...run.counts(opts.seconds),
    brokenConnections: run.brokenConnections,
    ...run.tail(rss, opts.seconds),
  };
}

/** Runs the bench against `host` (the loopback address opts.host resolved to). */
async function main(opts: Options, host: string): Promise<number> {
  return runLoadBench(TOOL, opts, host, {
    options: { protocols: opts.protocols, connections: opts.connections, window: opts.window },
    intro:
      `${TOOL} ${opts.label} @ ${host}:${opts.port}: ${opts.connections} connections x ${opts.window} in flight, ` +
      `queues=${opts.queues} value=${opts.valueSize}B warmup=${opts.warmup}s measure=${opts.seconds}s (set/get alternating)\n\n`,
    columns: [
      { title: 'proto', width: 6, align: 'left' },
      { title: 'conns', width: 5 },
      { title: 'window', width: 6 },
    ],
    cells: (r) => [r.protocol, String(r.connections), String(r.window)],
    levels: opts.protocols,
    run: (protocol: Protocol) => runOnce(opts, host, protocol),
  });
}

runLoadMain(TOOL, USAGE, parseArgs, main);
