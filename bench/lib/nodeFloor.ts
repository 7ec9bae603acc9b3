// The "node floor" of the side-by-side comparison (bench/compare.ts): the least a Node.js server
// can do per request on this machine. It answers the flood workload's Kestrel text requests
// (set, get, version) from plain in-memory arrays, with no storage, no durability, no stats and
// no limits beyond the two below, so what it reaches is the per-request cost of Node's net stack
// and event loop alone. siberite's ratio to it says how much of the gap to Redis is Node itself.
// Not a server for users: it loses everything on exit and keeps every queue name it has seen.
//
//   node dist/bench/lib/nodeFloor.js -listen 127.0.0.1:PORT
//
// It runs on plain `node` with default flags (not bin/siberite's runtime tuning). Replies of one
// 'data' event are gathered and written once, deferred with setImmediate: on this machine that is
// the fastest idiom (~58-67k ops/s at 10 connections vs ~47k writing inside the data handler).
// Bounds: a line longer than 64 KiB without a newline, or a value over 1 MiB, closes the connection.

import { createServer, type Socket } from 'node:net';

import { isLoopbackAddress } from './loopback.js';

const MAX_LINE = 64 * 1024;
const MAX_VALUE = 1024 * 1024;
const CR = 13;
const LF = 10;
/** Drop the consumed front of a queue's array once it is this long and half the array. */
const COMPACT_AT = 1024;

const STORED = Buffer.from('STORED\r\n');
const END = Buffer.from('END\r\n');
const ERROR = Buffer.from('ERROR\r\n');
const VERSION = Buffer.from('VERSION floor\r\n');
const VALUE_TRAILER = Buffer.from('\r\nEND\r\n');

/** One queue: an array read from `head`, so taking the oldest item does not shift the array. */
class FloorQueue {
  private items: Array<Buffer | undefined> = [];
  private head = 0;

  push(value: Buffer): void {
    this.items.push(value);
  }

  shift(): Buffer | undefined {
    if (this.head === this.items.length) return undefined;
    const value = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AT && this.head * 2 >= this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return value;
  }
}

/** Queues by name; an emptied queue keeps its entry (the bench uses a few dozen names per round). */
class FloorQueues {
  private readonly byName = new Map<string, FloorQueue>();

  push(name: string, value: Buffer): void {
    let q = this.byName.get(name);
    if (q === undefined) this.byName.set(name, (q = new FloorQueue()));
    q.push(value);
  }

  shift(name: string): Buffer | undefined {
    return this.byName.get(name)?.shift();
  }
}

/** One client: parses its requests across reads and answers each read's requests in one write. */
class FloorConnection {
  /** Unparsed bytes of earlier reads (a partial line or value). */
  private pending: Buffer | null = null;
  /** The set whose value is being read. */
  private set: { queue: string; bytes: number } | null = null;
  private replies: Buffer[] = [];
  private flushQueued = false;

  constructor(
    private readonly socket: Socket,
    private readonly queues: FloorQueues,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => socket.resume());
    socket.on('error', () => socket.destroy());
  }

  private onData(chunk: Buffer): void {
    // A concatenation is a fresh copy the values may point into; a read chunk is copied per value.
    const owned = this.pending !== null;
    const buf = owned ? Buffer.concat([this.pending!, chunk]) : chunk;
    this.pending = null;
    const used = this.consume(buf, owned);
    if (used < 0) {
      this.socket.destroy();
      return;
    }
    if (used < buf.length) this.pending = buf.subarray(used);
    if (this.replies.length > 0 && !this.flushQueued) {
      this.flushQueued = true;
      setImmediate(this.flush);
    }
  }

  /** Executes every complete request in `buf`; the offset of the first unparsed byte, or -1 to close. */
  private consume(buf: Buffer, owned: boolean): number {
    let pos = 0;
    while (pos < buf.length) {
      if (this.set !== null) {
        const end = pos + this.set.bytes;
        if (buf.length < end + 2) return pos;
        const data = buf.subarray(pos, end);
        this.finishSet(owned ? data : Buffer.from(data), buf[end] === CR && buf[end + 1] === LF);
        pos = end + 2;
        continue;
      }
      const nl = buf.indexOf(LF, pos);
      if (nl < 0) return buf.length - pos > MAX_LINE ? -1 : pos;
      if (nl - pos > MAX_LINE) return -1;
      const lineEnd = nl > pos && buf[nl - 1] === CR ? nl - 1 : nl;
      if (!this.command(buf.toString('latin1', pos, lineEnd))) return -1;
      pos = nl + 1;
    }
    return pos;
  }

  /** Runs one command line; false when the connection must close. */
  private command(line: string): boolean {
    const words = line.split(' ');
    switch (words[0]) {
      case 'set':
        return this.beginSet(words);
      case 'get':
        this.get(words);
        return true;
      case 'version':
        this.replies.push(VERSION);
        return true;
      default:
        this.replies.push(ERROR);
        return true;
    }
  }

  /** `set <q> <flags> <exp> <bytes>`: the value follows; false when it is over the bound. */
  private beginSet(words: string[]): boolean {
    const [, queue, , , bytes] = words;
    if (words.length !== 5 || !queue || !/^\d{1,10}$/.test(bytes!)) {
      this.replies.push(ERROR);
      return true;
    }
    const n = Number(bytes);
    if (n > MAX_VALUE) return false;
    this.set = { queue, bytes: n };
    return true;
  }

  private finishSet(value: Buffer, terminated: boolean): void {
    const { queue } = this.set!;
    this.set = null;
    if (!terminated) {
      this.replies.push(ERROR);
      return;
    }
    this.queues.push(queue, value);
    this.replies.push(STORED);
  }

  /** `get <q>[/options]`: the oldest item of q, or END; the options are ignored. */
  private get(words: string[]): void {
    const key = words[1];
    if (words.length !== 2 || !key) {
      this.replies.push(ERROR);
      return;
    }
    const slash = key.indexOf('/');
    const queue = slash < 0 ? key : key.slice(0, slash);
    const value = this.queues.shift(queue);
    if (value === undefined) {
      this.replies.push(END);
      return;
    }
    this.replies.push(Buffer.from(`VALUE ${queue} 0 ${value.length}\r\n`, 'latin1'), value, VALUE_TRAILER);
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    const parts = this.replies;
    this.replies = [];
    if (this.socket.destroyed) return;
    // A client that sends without reading stops being read until its replies drain.
    if (!this.socket.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts))) this.socket.pause();
  };
}

function parseListen(argv: readonly string[]): { host: string; port: number } {
  const i = argv.indexOf('-listen');
  const m = i < 0 ? null : /^(.+):(\d+)$/.exec(argv[i + 1] ?? '');
  if (m === null) throw new Error('usage: node dist/bench/lib/nodeFloor.js -listen 127.0.0.1:PORT');
  const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
  if (!isLoopbackAddress(host)) throw new Error(`refusing ${host}: the floor server listens on loopback only`);
  return { host, port: Number(m[2]) };
}

function main(): void {
  const { host, port } = parseListen(process.argv.slice(2));
  const queues = new FloorQueues();
  const server = createServer((socket) => new FloorConnection(socket, queues));
  server.on('error', (err) => {
    process.stderr.write(`nodeFloor: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(port, host);
}

try {
  main();
} catch (err) {
  process.stderr.write(`nodeFloor: ${(err as Error).message}\n`);
  process.exit(2);
}
