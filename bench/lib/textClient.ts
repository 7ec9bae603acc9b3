// Minimal raw-socket memcache text protocol pieces for the benches: request builders,
// a connect helper and a streaming, allocation-light reply parser.

import { createConnection, type Socket } from 'node:net';

/** Kinds of reply a memcache text server sends. Numbers, so comparisons stay cheap. */
export const Reply = {
  STORED: 0,
  NOT_STORED: 1,
  EXISTS: 2,
  NOT_FOUND: 3,
  DELETED: 4,
  /** `END` alone: a get that found nothing (an empty queue). */
  END: 5,
  /** One or more `VALUE` blocks followed by `END`. */
  VALUE: 6,
  ERROR: 7,
  CLIENT_ERROR: 8,
  SERVER_ERROR: 9,
  /** Any other single line (e.g. `OK`, a number from incr, ...). */
  OTHER: 10,
} as const;
export type ReplyKind = (typeof Reply)[keyof typeof Reply];

export const REPLY_NAMES: readonly string[] = [
  'STORED',
  'NOT_STORED',
  'EXISTS',
  'NOT_FOUND',
  'DELETED',
  'END',
  'VALUE',
  'ERROR',
  'CLIENT_ERROR',
  'SERVER_ERROR',
  'OTHER',
];

/** Receives what a ReplyParser finds. */
export interface ReplySink {
  /**
   * One complete reply. `values` is the number of VALUE blocks (VALUE kind only).
   * `line` is the reply line as text for the kinds other than STORED, END and VALUE
   * (those are the hot path and allocate nothing), else null.
   */
  onReply(kind: ReplyKind, values: number, line: string | null): void;
  /** The byte stream cannot be framed (bad VALUE header, missing CRLF, ...). The parser stops. */
  onProtocolError(message: string): void;
}

/** `set <key> <flags> <exptime> <bytes>\r\n<payload>\r\n` as one reusable buffer. */
export function buildSet(key: string, payload: Buffer, flags = 0, exptime = 0): Buffer {
  const head = Buffer.from(`set ${key} ${flags} ${exptime} ${payload.length}\r\n`, 'latin1');
  return Buffer.concat([head, payload, CRLF]);
}

/** `get <key>\r\n` as one reusable buffer. */
export function buildGet(key: string): Buffer {
  return Buffer.from(`get ${key}\r\n`, 'latin1');
}

/** A printable payload of `size` bytes (a repeating a-z pattern). */
export function makePayload(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = 97 + (i % 26);
  return b;
}

/** Opens a TCP connection with Nagle off; rejects on error or after timeoutMs. */
export function connectSocket(host: string, port: number, timeoutMs = 5000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

const CRLF = Buffer.from('\r\n', 'latin1');
const CR = 13;
const LF = 10;
const SPACE = 32;

const B_STORED = Buffer.from('STORED', 'latin1');
const B_END = Buffer.from('END', 'latin1');
const B_VALUE_SP = Buffer.from('VALUE ', 'latin1');
const B_NOT_STORED = Buffer.from('NOT_STORED', 'latin1');
const B_EXISTS = Buffer.from('EXISTS', 'latin1');
const B_NOT_FOUND = Buffer.from('NOT_FOUND', 'latin1');
const B_DELETED = Buffer.from('DELETED', 'latin1');
const B_ERROR = Buffer.from('ERROR', 'latin1');
const B_CLIENT_ERROR = Buffer.from('CLIENT_ERROR', 'latin1');
const B_SERVER_ERROR = Buffer.from('SERVER_ERROR', 'latin1');

/** Longest reply line accepted without a LF before the stream is declared broken. */
const MAX_LINE = 8192;
/** Largest VALUE data block accepted. */
const MAX_VALUE_BYTES = 1 << 30;

const ST_LINE = 0;
const ST_DATA = 1;
const ST_DATA_CR = 2;
const ST_DATA_LF = 3;

function startsWith(buf: Buffer, start: number, end: number, lit: Buffer): boolean {
  const n = lit.length;
  if (end - start < n) return false;
  for (let i = 0; i < n; i++) if (buf[start + i] !== lit[i]) return false;
  return true;
}

function equals(buf: Buffer, start: number, end: number, lit: Buffer): boolean {
  return end - start === lit.length && startsWith(buf, start, end, lit);
}

/**
 * Streaming parser of memcache text replies. Feed it socket chunks in order; replies may be
 * split anywhere across chunks. VALUE data blocks are skipped by count, never buffered, so a
 * large value costs no copies; only a reply line split across chunks is copied (it is short).
 */
export class ReplyParser {
  private state = ST_LINE;
  /** Data bytes still to skip in ST_DATA. */
  private remaining = 0;
  /** Inside a get reply: VALUE blocks seen so far, waiting for END. */
  private inGet = false;
  private values = 0;
  /** An incomplete line carried over from the previous chunk. */
  private partial: Buffer | null = null;
  private stopped = false;

  constructor(private readonly sink: ReplySink) {}

  /** Stops dispatching, also for the rest of a chunk being parsed (e.g. when resetting a connection). */
  stop(): void {
    this.stopped = true;
    this.partial = null;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** True when no reply is partly received. */
  get idle(): boolean {
    return this.state === ST_LINE && !this.inGet && this.partial === null;
  }

  feed(chunk: Buffer): void {
    if (this.stopped) return;
    let buf = chunk;
    if (this.partial !== null) {
      buf = Buffer.concat([this.partial, chunk]);
      this.partial = null;
    }
    const len = buf.length;
    let pos = 0;
    while (pos < len) {
      const st = this.state;
      if (st === ST_DATA) {
        const avail = len - pos;
        if (avail < this.remaining) {
          this.remaining -= avail;
          return;
        }
        pos += this.remaining;
        this.remaining = 0;
        this.state = ST_DATA_CR;
        continue;
      }
      if (st === ST_DATA_CR) {
        if (buf[pos] !== CR) return this.fail('VALUE data block is longer than announced');
        pos++;
        this.state = ST_DATA_LF;
        continue;
      }
      if (st === ST_DATA_LF) {
        if (buf[pos] !== LF) return this.fail('VALUE data block not followed by CRLF');
        pos++;
        this.state = ST_LINE;
        continue;
      }
      const nl = buf.indexOf(LF, pos);
      if (nl === -1) {
        if (len - pos > MAX_LINE) return this.fail(`reply line longer than ${MAX_LINE} bytes`);
        this.partial = Buffer.from(buf.subarray(pos)); // copy: the chunk is not ours to keep
        return;
      }
      if (nl === pos || buf[nl - 1] !== CR) return this.fail('reply line not terminated by CRLF');
      const start = pos;
      pos = nl + 1;
      this.line(buf, start, nl - 1);
      if (this.stopped) return;
    }
  }

  private line(buf: Buffer, start: number, end: number): void {
    if (this.inGet) {
      if (equals(buf, start, end, B_END)) {
        const n = this.values;
        this.inGet = false;
        this.values = 0;
        this.sink.onReply(Reply.VALUE, n, null);
      } else if (startsWith(buf, start, end, B_VALUE_SP)) {
        this.valueHeader(buf, start, end);
      } else {
        this.fail(`expected VALUE or END inside a get reply, got ${JSON.stringify(buf.toString('latin1', start, end))}`);
      }
      return;
    }
    if (equals(buf, start, end, B_STORED)) return this.sink.onReply(Reply.STORED, 0, null);
    if (equals(buf, start, end, B_END)) return this.sink.onReply(Reply.END, 0, null);
    if (startsWith(buf, start, end, B_VALUE_SP)) {
      this.inGet = true;
      this.values = 0;
      this.valueHeader(buf, start, end);
      return;
    }
    let kind: ReplyKind = Reply.OTHER;
    if (equals(buf, start, end, B_NOT_STORED)) kind = Reply.NOT_STORED;
    else if (equals(buf, start, end, B_EXISTS)) kind = Reply.EXISTS;
    else if (equals(buf, start, end, B_NOT_FOUND)) kind = Reply.NOT_FOUND;
    else if (equals(buf, start, end, B_DELETED)) kind = Reply.DELETED;
    else if (startsWith(buf, start, end, B_CLIENT_ERROR)) kind = Reply.CLIENT_ERROR;
    else if (startsWith(buf, start, end, B_SERVER_ERROR)) kind = Reply.SERVER_ERROR;
    else if (startsWith(buf, start, end, B_ERROR)) kind = Reply.ERROR;
    this.sink.onReply(kind, 0, buf.toString('latin1', start, end));
  }

  /** `VALUE <key> <flags> <bytes>[ <cas>]`: switch to skipping <bytes> data bytes. */
  private valueHeader(buf: Buffer, start: number, end: number): void {
    let p = start + B_VALUE_SP.length;
    // Skip <key> and <flags>: two non-empty fields, each followed by one space.
    for (let field = 0; field < 2; field++) {
      const fieldStart = p;
      while (p < end && buf[p] !== SPACE) p++;
      if (p === fieldStart || p === end) return this.badValue(buf, start, end);
      p++;
    }
    let bytes = 0;
    const digitsStart = p;
    while (p < end) {
      const c = buf[p]!;
      if (c === SPACE) break;
      if (c < 48 || c > 57) return this.badValue(buf, start, end);
      bytes = bytes * 10 + (c - 48);
      if (bytes > MAX_VALUE_BYTES) return this.badValue(buf, start, end);
      p++;
    }
    if (p === digitsStart) return this.badValue(buf, start, end);
    this.values++;
    this.remaining = bytes;
    this.state = ST_DATA;
  }

  private badValue(buf: Buffer, start: number, end: number): void {
    this.fail(`malformed VALUE line ${JSON.stringify(buf.toString('latin1', start, end))}`);
  }

  private fail(message: string): void {
    this.stop();
    this.sink.onProtocolError(message);
  }
}

export type { Socket };
