// The memcache binary protocol (docs/protocol.md#binary-protocol): 24-byte request headers in, Commands out; Replies in,
// response packets out. Keys use exactly the text key syntax (keys.ts). Pure: no sockets, no queues.
//
// Request header (all big-endian):
//   0 magic 0x80 | 1 opcode | 2 key length u16 | 4 extras length u8 | 5 data type | 6 vbucket u16
//   8 total body length u32 | 12 opaque u32 | 16 cas u64
// Body: extras, then key, then value. A response has magic 0x81 and a status u16 where the
// vbucket was, and echoes the request's opcode and opaque.
import { Buffer } from 'node:buffer';
import {
  clientError,
  type Command,
  type ErrorCode,
  type ErrorReply,
  type Framing,
  type Reply,
  type ValueOut,
  tooLarge,
  unknownCommand,
} from './command.js';
import { copyBytes, latin1 } from './bytes.js';
import { type ReplyWriter } from './output.js';
import { RECORD_HEADROOM } from '../store/layout.js';
import { MAX_KEY_BYTES, BAD_NAME, getKeyList, parseQueueRef, setKeyQueues } from './keys.js';

export const REQUEST_MAGIC = 0x80;
export const RESPONSE_MAGIC = 0x81;
export const HEADER_BYTES = 24;
/** Extras a request may carry at most (SET: flags + expiration). */
export const MAX_EXTRAS_BYTES = 8;

export const Opcode = {
  GET: 0x00,
  SET: 0x01,
  DELETE: 0x04,
  QUIT: 0x07,
  FLUSH: 0x08,
  GETQ: 0x09,
  NOOP: 0x0a,
  VERSION: 0x0b,
  GETK: 0x0c,
  GETKQ: 0x0d,
  STAT: 0x10,
  SETQ: 0x11,
  DELETEQ: 0x14,
  QUITQ: 0x17,
  FLUSHQ: 0x18,
  // SASL, as memcached (src/security answers them).
  SASL_LIST_MECHS: 0x20,
  SASL_AUTH: 0x21,
  SASL_STEP: 0x22,
} as const;

export const Status = {
  NO_ERROR: 0x0000,
  KEY_NOT_FOUND: 0x0001,
  KEY_EXISTS: 0x0002,
  VALUE_TOO_LARGE: 0x0003,
  INVALID_ARGUMENTS: 0x0004,
  ITEM_NOT_STORED: 0x0005,
  AUTH_ERROR: 0x0020,
  ACCESS_DENIED: 0x0024, // memcached's EACCESS
  UNKNOWN_COMMAND: 0x0081,
  OUT_OF_MEMORY: 0x0082,
  NOT_SUPPORTED: 0x0083,
  INTERNAL_ERROR: 0x0084,
  BUSY: 0x0085,
} as const;

/** What encode() needs to know about the request a Command came from (stored in `Command.tag`). */
export interface BinaryTag {
  opcode: number;
  opaque: number;
  /** A quiet opcode: GETQ/GETKQ suppress misses; SETQ, DELETEQ, FLUSHQ, QUITQ suppress success. */
  quiet: boolean;
  /** GETK/GETKQ: the response carries the key. */
  withKey: boolean;
  /** The request key, latin1 (echoed by GETK/GETKQ, exactly as sent). */
  key: string;
}

/** Status for each error cause. */
export function errorStatus(code: ErrorCode): number {
  switch (code) {
    case 'unknown_command':
      return Status.UNKNOWN_COMMAND;
    case 'too_large':
      return Status.VALUE_TOO_LARGE;
    case 'not_stored':
      return Status.ITEM_NOT_STORED;
    case 'busy':
      return Status.BUSY;
    case 'server':
      return Status.INTERNAL_ERROR;
    case 'auth':
      return Status.AUTH_ERROR;
    case 'denied':
      return Status.ACCESS_DENIED;
    case 'bad_format':
    case 'bad_data':
    case 'line_too_long':
    case 'empty':
      return Status.INVALID_ARGUMENTS;
  }
}

// Bodies memcached puts in its error responses, used when a reply carries no message.
const NOT_FOUND_TEXT = 'Not found';
const NOT_STORED_TEXT = 'Not stored.';
const DEFAULT_ERROR_TEXT: Record<ErrorCode, string> = {
  unknown_command: 'Unknown command',
  empty: 'Invalid arguments',
  bad_format: 'Invalid arguments',
  bad_data: 'Invalid arguments',
  line_too_long: 'Invalid arguments',
  too_large: 'Too large.',
  not_stored: NOT_STORED_TEXT,
  busy: 'Busy',
  server: 'Internal error',
  auth: 'Auth failure.',
  denied: 'Access denied',
};

/** SASL PLAIN carries a user name and a password: more than this is not a credential. */
const MAX_SASL_BYTES = 1024;

function isGetOpcode(op: number): boolean {
  return op === Opcode.GET || op === Opcode.GETQ || op === Opcode.GETK || op === Opcode.GETKQ;
}

/** Opcode to answer with when a Command did not come from this framing (no tag). */
function defaultOpcode(kind: Command['kind']): number {
  switch (kind) {
    case 'get':
      return Opcode.GET;
    case 'set':
      return Opcode.SET;
    case 'delete':
      return Opcode.DELETE;
    case 'quit':
      return Opcode.QUIT;
    case 'flush':
    case 'flush_all':
      return Opcode.FLUSH;
    case 'noop':
      return Opcode.NOOP;
    case 'version':
      return Opcode.VERSION;
    case 'stats':
      return Opcode.STAT;
    default:
      return Opcode.NOOP;
  }
}

function tagOf(command: Command): BinaryTag {
  const t = command.tag as BinaryTag | undefined;
  if (t !== undefined && t !== null && typeof t === 'object' && typeof t.opcode === 'number') return t;
  return { opcode: defaultOpcode(command.kind), opaque: 0, quiet: false, withKey: false, key: '' };
}

function writeHeader(
  buf: Buffer,
  at: number,
  opcode: number,
  status: number,
  keyLength: number,
  extrasLength: number,
  bodyLength: number,
  opaque: number,
  cas: number,
): void {
  // Byte by byte: these run once per reply, and the Buffer write helpers cost more per call.
  buf[at] = RESPONSE_MAGIC;
  buf[at + 1] = opcode;
  buf[at + 2] = keyLength >>> 8;
  buf[at + 3] = keyLength;
  buf[at + 4] = extrasLength;
  buf[at + 5] = 0; // data type: raw bytes
  buf[at + 6] = status >>> 8;
  buf[at + 7] = status;
  writeU32(buf, at + 8, bodyLength);
  writeU32(buf, at + 12, opaque);
  // u64 CAS from a double (item ids fit 2^53).
  const hi = cas > 0xffffffff ? Math.floor(cas / 0x100000000) : 0;
  writeU32(buf, at + 16, hi);
  writeU32(buf, at + 20, cas - hi * 0x100000000);
}

/** Big-endian u32 (the low 32 bits of `v`). */
function writeU32(buf: Buffer, at: number, v: number): void {
  buf[at] = v >>> 24;
  buf[at + 1] = v >>> 16;
  buf[at + 2] = v >>> 8;
  buf[at + 3] = v;
}

/** One response packet with an optional key and a string value (no extras). */
function packet(out: ReplyWriter, t: BinaryTag, status: number, value: string, key = ''): void {
  const keyLength = key.length; // latin1: one byte per char
  const valueLength = value.length === 0 ? 0 : Buffer.byteLength(value, 'utf8');
  const at = out.claim(HEADER_BYTES + keyLength + valueLength);
  const buf = out.buffer;
  writeHeader(buf, at, t.opcode, status, keyLength, 0, keyLength + valueLength, t.opaque, 0);
  if (keyLength > 0) buf.write(key, at + HEADER_BYTES, keyLength, 'latin1');
  if (valueLength > 0) buf.write(value, at + HEADER_BYTES + keyLength, valueLength, 'utf8');
}

/** Key not found; quiet gets say nothing. GETK echoes the key (as memcached), GET says why. */
function miss(out: ReplyWriter, t: BinaryTag): void {
  if (t.quiet) return;
  if (t.withKey) packet(out, t, Status.KEY_NOT_FOUND, '', t.key);
  else packet(out, t, Status.KEY_NOT_FOUND, NOT_FOUND_TEXT);
}

/** A hit: header, flags and key, then the value itself. */
function hit(out: ReplyWriter, t: BinaryTag, v: ValueOut): void {
  const key = t.withKey ? t.key : '';
  const keyLength = key.length;
  const at = out.claim(HEADER_BYTES + 4 + keyLength);
  const buf = out.buffer;
  writeHeader(buf, at, t.opcode, Status.NO_ERROR, keyLength, 4, 4 + keyLength + v.data.length, t.opaque, v.cas ?? 0);
  writeU32(buf, at + HEADER_BYTES, v.flags);
  if (keyLength > 0) buf.write(key, at + HEADER_BYTES + 4, keyLength, 'latin1');
  out.bytes(v.data);
}

/** One packet per stat (key = name, value = value), then an empty one. */
function stats(out: ReplyWriter, t: BinaryTag, stats: Array<[string, string]>, more: boolean): void {
  let size = more ? 0 : HEADER_BYTES;
  for (const [name, value] of stats) size += HEADER_BYTES + name.length + Buffer.byteLength(value, 'utf8');
  let at = out.claim(size);
  const buf = out.buffer;
  for (const [name, value] of stats) {
    const keyLength = name.length;
    const valueLength = Buffer.byteLength(value, 'utf8');
    writeHeader(buf, at, t.opcode, Status.NO_ERROR, keyLength, 0, keyLength + valueLength, t.opaque, 0);
    at += HEADER_BYTES;
    at += buf.write(name, at, keyLength, 'latin1');
    at += buf.write(value, at, valueLength, 'utf8');
  }
  if (!more) writeHeader(buf, at, t.opcode, Status.NO_ERROR, 0, 0, 0, t.opaque, 0);
}

interface Options {
  /** Largest value a SET may carry (bytes); read at every packet, so it may change. */
  readonly maxItemSize: number;
}

export class BinaryFraming implements Framing {
  // Received bytes: chunks[first] from `offset` on, then the rest of the list; `length` in all.
  private chunks: Buffer[] = [];
  private first = 0;
  private offset = 0;
  private length = 0;
  /** Body bytes still to be thrown away (they have not arrived yet; nothing is buffered then). */
  private skip = 0;
  /** Framing lost: nothing more is parsed. */
  private dead = false;

  /** The header of the packet whose body is awaited (`pending` null: none). */
  private pending: BinaryTag | null = null;
  private hKeyLength = 0;
  private hExtrasLength = 0;
  private hBodyLength = 0;

  private readonly scratch = Buffer.alloc(MAX_KEY_BYTES + HEADER_BYTES);
  /** Where the bytes of the last peek() start in the buffer it returned. */
  private peekAt = 0;

  constructor(private readonly options: Options) {}

  /** Largest body accepted at all: a maximal value plus the longest key and extras. */
  private get maxBody(): number {
    return this.options.maxItemSize + MAX_KEY_BYTES + MAX_EXTRAS_BYTES;
  }

  get buffered(): number {
    return this.length;
  }

  push(chunk: Buffer): void {
    if (this.dead || chunk.length === 0) return;
    if (this.skip > 0) {
      if (chunk.length <= this.skip) {
        this.skip -= chunk.length;
        return;
      }
      chunk = chunk.subarray(this.skip);
      this.skip = 0;
    }
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  next(): Command | null {
    if (this.dead) return null;
    let tag = this.pending;
    if (tag === null) {
      if (this.length === 0) return null;
      if (this.chunks[this.first]![this.offset] !== REQUEST_MAGIC) return this.badMagic();
      if (this.length < HEADER_BYTES) return null;
      const early = this.readHeader();
      if (early !== null) return early;
      tag = this.pending!;
    }
    if (this.length < this.hBodyLength) return null;
    this.pending = null;
    return this.readBody(tag);
  }

  encode(reply: Reply, command: Command, out: ReplyWriter): void {
    const t = tagOf(command);
    const isGet = command.kind === 'get' || isGetOpcode(t.opcode);
    const quietSuccess = t.quiet && !isGet; // SETQ, DELETEQ, FLUSHQ, QUITQ
    switch (reply.kind) {
      case 'value':
        return hit(out, t, reply);
      case 'values':
        if (reply.values.length === 0) return miss(out, t);
        for (const v of reply.values) hit(out, t, v);
        return;
      case 'end':
        // A get that found nothing (e.g. a `/t=` wait that timed out) is a miss.
        if (isGet) return miss(out, t);
        return quietSuccess ? undefined : packet(out, t, Status.NO_ERROR, '');
      case 'not_found':
        if (isGet) return miss(out, t);
        return packet(out, t, Status.KEY_NOT_FOUND, NOT_FOUND_TEXT);
      case 'stored':
      case 'deleted':
      case 'ok':
        return quietSuccess ? undefined : packet(out, t, Status.NO_ERROR, '');
      case 'not_stored':
        return packet(out, t, Status.ITEM_NOT_STORED, NOT_STORED_TEXT);
      case 'line':
        return quietSuccess ? undefined : packet(out, t, Status.NO_ERROR, reply.text);
      case 'lines':
        return quietSuccess ? undefined : packet(out, t, Status.NO_ERROR, reply.lines.join('\r\n'));
      case 'version':
        return packet(out, t, Status.NO_ERROR, reply.version);
      case 'stats':
        return stats(out, t, reply.stats, reply.more === true);
      case 'encoded':
        for (const part of reply.parts) out.bytes(part);
        return;
      case 'error':
        return packet(out, t, errorStatus(reply.code), reply.message ?? DEFAULT_ERROR_TEXT[reply.code]);
      case 'none':
        return;
      case 'close':
        return t.opcode === Opcode.QUIT ? packet(out, t, Status.NO_ERROR, '') : undefined;
    }
  }

  // ---- parsing --------------------------------------------------------------------------------

  /**
   * Reads and checks the 24-byte header (which is buffered). Returns a Command when the packet
   * is decided by its header alone (errors, bodies to skip); otherwise remembers the header and
   * returns null so the body is awaited.
   */
  private readHeader(): Command | null {
    const h = this.peek(HEADER_BYTES);
    const at = this.peekAt;
    const opcode = h[at + 1]!;
    const keyLength = h.readUInt16BE(at + 2);
    const extrasLength = h[at + 4]!;
    const bodyLength = h.readUInt32BE(at + 8);
    const opaque = h.readUInt32BE(at + 12);
    this.consume(HEADER_BYTES);

    const quiet =
      opcode === Opcode.GETQ ||
      opcode === Opcode.GETKQ ||
      opcode === Opcode.SETQ ||
      opcode === Opcode.DELETEQ ||
      opcode === Opcode.QUITQ ||
      opcode === Opcode.FLUSHQ;
    const withKey = opcode === Opcode.GETK || opcode === Opcode.GETKQ;
    const tag: BinaryTag = { opcode, opaque, quiet, withKey, key: '' };

    // Decided from the header alone: never buffer (or allocate) a declared length we refuse.
    if (bodyLength > this.maxBody) {
      return this.fatal({ ...tooLarge(), close: true }, tag);
    }
    if (keyLength + extrasLength > bodyLength) return this.fatal(clientError('bad packet length', 'bad_format', true), tag);

    const valueLength = bodyLength - keyLength - extrasLength;
    let problem: string | null = null;
    switch (opcode) {
      case Opcode.GET:
      case Opcode.GETQ:
      case Opcode.GETK:
      case Opcode.GETKQ:
      case Opcode.DELETE:
      case Opcode.DELETEQ:
        if (extrasLength !== 0) problem = 'unexpected extras';
        else if (keyLength === 0) problem = 'missing key';
        else if (valueLength !== 0) problem = 'unexpected value';
        break;
      case Opcode.SET:
      case Opcode.SETQ:
        if (extrasLength !== 8) problem = 'bad extras length';
        else if (keyLength === 0) problem = 'missing key';
        else if (valueLength > this.options.maxItemSize) {
          // Within the body limit: read and discard it, and stay open (as text does).
          this.discard(bodyLength);
          return { kind: 'invalid', reply: tooLarge(), tag };
        }
        break;
      case Opcode.FLUSH:
      case Opcode.FLUSHQ:
        if (keyLength !== 0) problem = 'unexpected key';
        else if (extrasLength !== 0 && extrasLength !== 4) problem = 'bad extras length';
        else if (valueLength !== 0) problem = 'unexpected value';
        break;
      case Opcode.QUIT:
      case Opcode.QUITQ:
      case Opcode.NOOP:
      case Opcode.VERSION:
        if (bodyLength !== 0) problem = 'unexpected body';
        break;
      case Opcode.SASL_LIST_MECHS:
        if (bodyLength !== 0) problem = 'unexpected body';
        break;
      case Opcode.SASL_AUTH:
      case Opcode.SASL_STEP:
        if (extrasLength !== 0) problem = 'unexpected extras';
        else if (keyLength === 0) problem = 'missing mechanism';
        else if (valueLength > MAX_SASL_BYTES) problem = 'SASL data too long';
        break;
      case Opcode.STAT:
        if (extrasLength !== 0) problem = 'unexpected extras';
        else if (valueLength !== 0) problem = 'unexpected value';
        else {
          // `stats <group>` is not supported: any key means all stats; skip it.
          this.discard(bodyLength);
          return { kind: 'stats', tag };
        }
        break;
      default:
        this.discard(bodyLength);
        return { kind: 'invalid', reply: unknownCommand(), tag };
    }
    if (problem !== null) return this.fatal(clientError(`bad packet: ${problem}`, 'bad_format', true), tag);

    if (keyLength > MAX_KEY_BYTES) {
      // Too long to be a name: say so without buffering it.
      this.discard(bodyLength);
      return { kind: 'invalid', reply: clientError(BAD_NAME), tag };
    }

    this.pending = tag;
    this.hKeyLength = keyLength;
    this.hExtrasLength = extrasLength;
    this.hBodyLength = bodyLength;
    return null;
  }

  /** The whole body of the remembered header is buffered: turn it into a Command. */
  private readBody(tag: BinaryTag): Command {
    const keyLength = this.hKeyLength;
    const extrasLength = this.hExtrasLength;
    const valueLength = this.hBodyLength - keyLength - extrasLength;
    const opcode = tag.opcode;
    const quiet = tag.quiet;

    let flags = 0;
    let exptime = 0;
    if (extrasLength > 0) {
      const e = this.peek(extrasLength);
      if (extrasLength === 8) {
        flags = e.readUInt32BE(this.peekAt);
        exptime = e.readUInt32BE(this.peekAt + 4);
      }
      this.consume(extrasLength);
    }
    const key = keyLength > 0 ? this.readLatin1(keyLength) : '';
    tag.key = key;

    switch (opcode) {
      case Opcode.GET:
      case Opcode.GETQ:
      case Opcode.GETK:
      case Opcode.GETKQ: {
        const keys = getKeyList(key);
        if (typeof keys === 'string') return { kind: 'invalid', reply: clientError(keys), tag };
        return { kind: 'get', keys, cas: false, tag };
      }
      case Opcode.SET:
      case Opcode.SETQ: {
        const queues = setKeyQueues(key);
        if (typeof queues === 'string') {
          this.discard(valueLength);
          return { kind: 'invalid', reply: clientError(queues), tag };
        }
        const record = Buffer.allocUnsafe(RECORD_HEADROOM + valueLength); // the store fills the headroom
        this.copyOut(record, RECORD_HEADROOM, valueLength);
        this.consume(valueLength);
        return { kind: 'set', key, queues, flags, exptime, record, noreply: quiet, tag };
      }
      case Opcode.DELETE:
      case Opcode.DELETEQ: {
        const ref = parseQueueRef(key);
        if (typeof ref === 'string') return { kind: 'invalid', reply: clientError(ref), tag };
        return { kind: 'delete', ref, noreply: quiet, tag };
      }
      case Opcode.FLUSH:
      case Opcode.FLUSHQ:
        return { kind: 'flush_all', noreply: quiet, tag };
      case Opcode.QUIT:
      case Opcode.QUITQ:
        return { kind: 'quit', tag };
      case Opcode.NOOP:
        return { kind: 'noop', tag };
      case Opcode.SASL_LIST_MECHS:
        return { kind: 'auth', step: 'mechanisms', mechanism: '', data: Buffer.alloc(0), tag };
      case Opcode.SASL_AUTH:
      case Opcode.SASL_STEP: {
        const data = Buffer.alloc(valueLength);
        this.copyOut(data, 0, valueLength);
        this.consume(valueLength);
        return { kind: 'auth', step: opcode === Opcode.SASL_AUTH ? 'start' : 'continue', mechanism: key, data, tag };
      }
      default: // VERSION (readHeader lets no other opcode through)
        return { kind: 'version', tag };
    }
  }

  /** Framing is lost: drop everything, parse nothing more, answer `reply` (which closes). */
  private fatal(reply: ErrorReply, tag: BinaryTag): Command {
    this.dead = true;
    this.chunks = [];
    this.first = 0;
    this.offset = 0;
    this.length = 0;
    this.skip = 0;
    this.pending = null;
    return { kind: 'invalid', reply, tag };
  }

  private badMagic(): Command {
    // Echo what there is of a header; the bytes are not a request, so this is best effort.
    let opcode = 0;
    let opaque = 0;
    if (this.length >= HEADER_BYTES) {
      this.copyOut(this.scratch, 0, HEADER_BYTES);
      opcode = this.scratch[1]!;
      opaque = this.scratch.readUInt32BE(12);
    }
    const tag: BinaryTag = { opcode, opaque, quiet: false, withKey: false, key: '' };
    return this.fatal(clientError('bad packet: bad magic', 'bad_format', true), tag);
  }

  // ---- the chunk list -------------------------------------------------------------------------

  /**
   * The next `n` (≤ scratch size) buffered bytes in one buffer, from `peekAt` on: the first
   * chunk itself when they are all in it, else a copy in scratch. Consumes nothing.
   */
  private peek(n: number): Buffer {
    const c = this.chunks[this.first]!;
    if (c.length - this.offset >= n) {
      this.peekAt = this.offset;
      return c;
    }
    this.copyOut(this.scratch, 0, n);
    this.peekAt = 0;
    return this.scratch;
  }

  /** Copies `n` buffered bytes (n ≤ length) into `target` at `at`, without consuming them. */
  private copyOut(target: Buffer, at: number, n: number): void {
    let i = this.first;
    let off = this.offset;
    while (n > 0) {
      const c = this.chunks[i]!;
      const take = Math.min(n, c.length - off);
      copyBytes(c, off, off + take, target, at);
      at += take;
      n -= take;
      i++;
      off = 0;
    }
  }

  /** Reads and consumes `n` (≤ MAX_KEY_BYTES) buffered bytes as a latin1 string. */
  private readLatin1(n: number): string {
    const b = this.peek(n);
    const s = latin1(b, this.peekAt, this.peekAt + n);
    this.consume(n);
    return s;
  }

  /** Drops `n` (≤ length) buffered bytes. */
  private consume(n: number): void {
    this.length -= n;
    if (this.length === 0) {
      this.chunks.length = 0;
      this.first = 0;
      this.offset = 0;
      return;
    }
    while (n > 0) {
      const rest = this.chunks[this.first]!.length - this.offset;
      if (n < rest) {
        this.offset += n;
        return;
      }
      n -= rest;
      this.first++;
      this.offset = 0;
    }
    if (this.first >= 64 && this.first * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }

  /** Drops `n` bytes of body: what is buffered now, and the rest as it arrives. */
  private discard(n: number): void {
    const now = Math.min(n, this.length);
    this.consume(now);
    this.skip = n - now;
  }
}
