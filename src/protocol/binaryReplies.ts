// Replies to binary response packets (docs/protocol.md#binary-protocol): each reply answers the
// request its Command came from, echoing its opcode and opaque; quiet opcodes hide what memcached
// hides.
import { Buffer } from 'node:buffer';
import { type Command, type ErrorCode, type Reply, type ValueOut } from './command.js';
import { type ReplyWriter } from './output.js';
import { type BinaryTag, HEADER_BYTES, Opcode, RESPONSE_MAGIC, Status, isGetOpcode } from './binaryWire.js';

/** Status for each error cause. */
const ERROR_STATUS: Readonly<Record<ErrorCode, number>> = {
  unknown_command: Status.UNKNOWN_COMMAND,
  too_large: Status.VALUE_TOO_LARGE,
  not_stored: Status.ITEM_NOT_STORED,
  busy: Status.BUSY,
  server: Status.INTERNAL_ERROR,
  auth: Status.AUTH_ERROR,
  denied: Status.ACCESS_DENIED,
  bad_format: Status.INVALID_ARGUMENTS,
  bad_data: Status.INVALID_ARGUMENTS,
  line_too_long: Status.INVALID_ARGUMENTS,
  empty: Status.INVALID_ARGUMENTS,
};

// Bodies memcached puts in its error responses, used when a reply carries no message.
const NOT_FOUND_TEXT = 'Not found';
const NOT_STORED_TEXT = 'Not stored.';
const DEFAULT_ERROR_TEXT: Readonly<Record<ErrorCode, string>> = {
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

/** Opcode to answer with when a Command did not come from this framing (no tag); else NOOP. */
const DEFAULT_OPCODE: Partial<Readonly<Record<Command['kind'], number>>> = {
  get: Opcode.GET,
  set: Opcode.SET,
  delete: Opcode.DELETE,
  quit: Opcode.QUIT,
  flush: Opcode.FLUSH,
  flush_all: Opcode.FLUSH,
  noop: Opcode.NOOP,
  version: Opcode.VERSION,
  stats: Opcode.STAT,
};

function tagOf(command: Command): BinaryTag {
  const t = command.tag as BinaryTag | undefined;
  if (t !== undefined && t !== null && typeof t === 'object' && typeof t.opcode === 'number') return t;
  return { opcode: DEFAULT_OPCODE[command.kind] ?? Opcode.NOOP, opaque: 0, quiet: false, withKey: false, key: '' };
}

/** Appends the response packets for `reply` to the request `command` came from. */
export function encodeBinaryReply(reply: Reply, command: Command, out: ReplyWriter): void {
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
      return packet(out, t, ERROR_STATUS[reply.code], reply.message ?? DEFAULT_ERROR_TEXT[reply.code]);
    case 'none':
      return;
    case 'close':
      return t.opcode === Opcode.QUIT ? packet(out, t, Status.NO_ERROR, '') : undefined;
  }
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
