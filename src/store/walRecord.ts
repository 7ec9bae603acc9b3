// The write-ahead log's record format (pure: no files here).
//
//   record: [u32 body length][u32 crc32 of body][body]
//   body:   [u32 seq high][u32 seq low][u32 op count] ops…
//   op:     [u8 0 = put | 1 = del][u32 key length][key] (put:) [u32 value length][value]
//
// The checksum covers the whole body, sequence number included, so a damaged byte anywhere in a
// record is found; the sequence numbers let start-up prove that no record is missing.
import { crc32 } from 'node:zlib';
import { type BatchOp } from './layout.js';

export const RECORD_HEAD = 8;
const BODY_HEAD = 12;
const PUT = 0;
const DEL = 1;

export interface WalRecord {
  seq: number;
  ops: BatchOp[];
}

/**
 * One record's bytes: header, then the ops copied in. Written into `scratch` when it is large
 * enough (the caller writes the result out before encoding again), a new buffer otherwise.
 */
export function encodeRecord(seq: number, ops: readonly BatchOp[], scratch?: Buffer): Buffer {
  let size = RECORD_HEAD + BODY_HEAD;
  for (const op of ops) size += 5 + op.key.length + (op.type === 'put' ? 4 + op.value.length : 0);
  const buf = scratch && scratch.length >= size ? scratch.subarray(0, size) : Buffer.allocUnsafe(size);
  let at = RECORD_HEAD;
  buf.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), at);
  buf.writeUInt32BE(seq >>> 0, at + 4);
  buf.writeUInt32BE(ops.length, at + 8);
  at += BODY_HEAD;
  for (const op of ops) {
    buf[at] = op.type === 'put' ? PUT : DEL;
    buf.writeUInt32BE(op.key.length, at + 1);
    at += 5 + op.key.copy(buf, at + 5);
    if (op.type === 'put') {
      buf.writeUInt32BE(op.value.length, at);
      at += 4 + op.value.copy(buf, at + 4);
    }
  }
  const body = buf.subarray(RECORD_HEAD);
  buf.writeUInt32BE(body.length, 0);
  buf.writeUInt32BE(crc32(body), 4);
  return buf;
}

/** Why the bytes at an offset are not a record. */
export type RecordFault = 'cut short' | 'bad checksum' | 'bad length' | 'bad ops';

/** The record at `at`, and where the next one starts; or why there is none there. */
export function decodeRecordAt(buf: Buffer, at: number): { record: WalRecord; end: number } | { fault: RecordFault } {
  if (at + RECORD_HEAD > buf.length) return { fault: 'cut short' };
  const length = buf.readUInt32BE(at);
  const bodyStart = at + RECORD_HEAD;
  if (length < BODY_HEAD) return { fault: 'bad length' };
  if (bodyStart + length > buf.length) return { fault: 'cut short' };
  const body = buf.subarray(bodyStart, bodyStart + length);
  if (crc32(body) !== buf.readUInt32BE(at + 4)) return { fault: 'bad checksum' };
  const ops = decodeOps(body);
  if (!ops) return { fault: 'bad ops' };
  return { record: { seq: seqOf(body), ops }, end: bodyStart + length };
}

/**
 * The records in `buf`, in order, up to the first one cut short or damaged. `end` is where the
 * valid records stop (equal to buf.length when the whole buffer is good).
 */
export function decodeRecords(buf: Buffer): { records: WalRecord[]; end: number } {
  const records: WalRecord[] = [];
  let at = 0;
  for (;;) {
    const next = decodeRecordAt(buf, at);
    if ('fault' in next) break;
    records.push(next.record);
    at = next.end;
  }
  return { records, end: at };
}

/**
 * The next offset after `from` where a valid record with a sequence number in (after, limit]
 * starts, or -1. Used to tell damage followed by good records from a torn tail, and by repair to
 * resynchronise. The cheap sequence-number test runs before the checksum at each offset.
 */
export function findNextRecord(buf: Buffer, from: number, after: number, limit: number): number {
  for (let at = from; at + RECORD_HEAD + BODY_HEAD <= buf.length; at++) {
    const seq = buf.readUInt32BE(at + RECORD_HEAD) * 0x1_0000_0000 + buf.readUInt32BE(at + RECORD_HEAD + 4);
    if (seq <= after || seq > limit) continue;
    if (!('fault' in decodeRecordAt(buf, at))) return at;
  }
  return -1;
}

function seqOf(body: Buffer): number {
  return body.readUInt32BE(0) * 0x1_0000_0000 + body.readUInt32BE(4);
}

function decodeOps(body: Buffer): BatchOp[] | undefined {
  const count = body.readUInt32BE(8);
  const ops: BatchOp[] = [];
  let at = BODY_HEAD;
  const take = (): Buffer | undefined => {
    if (at + 4 > body.length) return undefined;
    const n = body.readUInt32BE(at);
    if (at + 4 + n > body.length) return undefined;
    const out = body.subarray(at + 4, at + 4 + n);
    at += 4 + n;
    return out;
  };
  for (let i = 0; i < count; i++) {
    if (at >= body.length) return undefined;
    const type = body[at++];
    const key = take();
    if (!key || (type !== PUT && type !== DEL)) return undefined;
    if (type === DEL) {
      ops.push({ type: 'del', key });
      continue;
    }
    const value = take();
    if (!value) return undefined;
    ops.push({ type: 'put', key, value });
  }
  return at === body.length ? ops : undefined;
}
