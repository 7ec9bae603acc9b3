// The LevelDB key layout and item record format. Pure: no database here.
//
//   m/<queue>                      queue meta: counters worth not recomputing at start-up
//   i/<queue>/<id:u64be>           item record (header + payload); FIFO order = byte order
//   c/<queue>/<cursor>             cursor meta (next id to read)
//   r/<queue>/<cursor>/<id:u64be>  a cursor's retry entry (copy of the item record)
//   s/status                       server status
//   s/walseq                       sequence number of the last write-ahead log record applied
//
// Queue and cursor names never contain '/', so every prefix below is unambiguous.
import { crc32 } from 'node:zlib';

/**
 * Item record: [u8 version 2][u32 flags][f64 add time][f64 expiry][u32 crc32][payload]. The
 * checksum covers the header fields before it and the payload, so a damaged record is never
 * served as data (LevelDB does not verify its own block checksums on reads). Version 1 records
 * (no checksum, 21-byte header) from earlier releases are still read.
 */
export const RECORD_HEADER = 25;
/**
 * Bytes a framing reserves in front of every value it reads, so that writeRecordHeader fills the
 * header in place and LevelDB gets one buffer without the payload being copied again: exactly
 * the header.
 */
export const RECORD_HEADROOM = RECORD_HEADER;
const RECORD_VERSION = 2;
const CRC_AT = 21;
const LEGACY_VERSION = 1;
const LEGACY_HEADER = 21;

/** One queued message as the program holds it. `data` is a view into its stored record. */
export interface Item {
  id: number;
  flags: number;
  /** ms since epoch when it was stored. */
  addTime: number;
  /** ms since epoch when it expires; 0 = never. */
  expiry: number;
  data: Buffer;
  /** Set on a record whose checksum failed: reported and skipped, never served. */
  damaged?: true;
}

const enc = (s: string) => Buffer.from(s, 'latin1');

export const STATUS_KEY = enc('s/status');
export const WAL_SEQ_KEY = enc('s/walseq');
export const META_PREFIX = enc('m/');

/** One write of a batch: LevelDB's batch op, with our already-encoded keys and values. */
export type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

export function encodeSeq(seq: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  writeId(b, 0, seq);
  return b;
}

export function decodeSeq(value: Buffer | undefined): number {
  return value && value.length === 8 ? idFromKey(value) : 0;
}

export function metaKey(queue: string): Buffer {
  return enc(`m/${queue}`);
}

export function queueFromMetaKey(key: Buffer): string {
  return key.toString('latin1', 2);
}

function prefixed(prefix: string, id: number): Buffer {
  const p = Buffer.byteLength(prefix, 'latin1');
  const b = Buffer.allocUnsafe(p + 8);
  b.write(prefix, 0, 'latin1');
  writeId(b, p, id);
  return b;
}

export const ITEM_PREFIX = 'i/';

export function itemPrefix(queue: string): string {
  return `${ITEM_PREFIX}${queue}/`;
}

export function itemKey(queue: string, id: number): Buffer {
  return prefixed(itemPrefix(queue), id);
}

/** The queue an item key belongs to. */
export function queueOfItemKey(key: Buffer): string {
  return key.toString('latin1', 2, key.length - 9);
}

/** The id at the end of an item or retry key. */
export function idFromKey(key: Buffer): number {
  return key.readUInt32BE(key.length - 8) * 0x1_0000_0000 + key.readUInt32BE(key.length - 4);
}

/**
 * Queue and cursor metas (m/…, c/…): every batch rewrites them whole, so of several writes of
 * one such key in a LevelDB write only the last matters.
 */
export function isMetaKey(key: Buffer): boolean {
  return key.length > 2 && key[1] === 0x2f && (key[0] === 0x6d || key[0] === 0x63);
}

/**
 * The ops of consecutive batches as one LevelDB write: in order, without the meta writes a
 * later write of the same key supersedes (under load most of a merged write would be metas).
 */
export function mergeBatchOps(batches: ReadonlyArray<readonly BatchOp[]>): BatchOp[] {
  const seen = new Set<string>();
  const kept: BatchOp[] = [];
  for (let b = batches.length - 1; b >= 0; b--) {
    const ops = batches[b]!;
    for (let i = ops.length - 1; i >= 0; i--) {
      const op = ops[i]!;
      if (isMetaKey(op.key)) {
        const name = op.key.toString('latin1');
        if (seen.has(name)) continue;
        seen.add(name);
      }
      kept.push(op);
    }
  }
  return kept.reverse();
}

export function cursorKey(queue: string, cursor: string): Buffer {
  return enc(`c/${queue}/${cursor}`);
}

export function cursorPrefix(queue: string): Buffer {
  return enc(`c/${queue}/`);
}

export function retryPrefix(queue: string, cursor: string): string {
  return `r/${queue}/${cursor}/`;
}

export function retryKey(queue: string, cursor: string, id: number): Buffer {
  return prefixed(retryPrefix(queue, cursor), id);
}

/** [gte, lt) covering every key that starts with `prefix`. */
export function prefixRange(prefix: string | Buffer): { gte: Buffer; lt: Buffer } {
  const gte = typeof prefix === 'string' ? enc(prefix) : prefix;
  const lt = Buffer.from(gte);
  lt[lt.length - 1]!++; // every prefix here ends in '/', so no carry is needed
  return { gte, lt };
}

function writeId(b: Buffer, at: number, id: number): void {
  b.writeUInt32BE(Math.floor(id / 0x1_0000_0000), at);
  b.writeUInt32BE(id >>> 0, at + 4);
}

/** Fills the header in front of a payload that a framing read with RECORD_HEADROOM spare bytes. */
export function writeRecordHeader(record: Buffer, flags: number, addTime: number, expiry: number): void {
  record[0] = RECORD_VERSION;
  record.writeUInt32BE(flags >>> 0, 1);
  record.writeDoubleBE(addTime, 5);
  record.writeDoubleBE(expiry, 13);
  record.writeUInt32BE(recordChecksum(record), CRC_AT);
}

function recordChecksum(record: Buffer): number {
  return crc32(record.subarray(RECORD_HEADER), crc32(record.subarray(0, CRC_AT)));
}

/** The item a record holds; `damaged` (and no data) when its checksum or format is wrong. */
export function decodeRecord(id: number, record: Buffer): Item {
  if (record.length >= LEGACY_HEADER && record[0] === LEGACY_VERSION) return fromLegacy(id, record);
  if (record.length < RECORD_HEADER || record[0] !== RECORD_VERSION || record.readUInt32BE(CRC_AT) !== recordChecksum(record)) {
    return { id, flags: 0, addTime: 0, expiry: 0, data: record.subarray(Math.min(RECORD_HEADER, record.length)), damaged: true };
  }
  return {
    id,
    flags: record.readUInt32BE(1),
    addTime: record.readDoubleBE(5),
    expiry: record.readDoubleBE(13),
    data: record.subarray(RECORD_HEADER),
  };
}

/** A version 1 record, rewritten in today's format so that recordOf() finds its header. */
function fromLegacy(id: number, old: Buffer): Item {
  const record = Buffer.allocUnsafe(RECORD_HEADER + old.length - LEGACY_HEADER);
  old.copy(record, RECORD_HEADER, LEGACY_HEADER);
  const flags = old.readUInt32BE(1);
  const addTime = old.readDoubleBE(5);
  const expiry = old.readDoubleBE(13);
  writeRecordHeader(record, flags, addTime, expiry);
  return { id, flags, addTime, expiry, data: record.subarray(RECORD_HEADER) };
}

/** The whole record of an item whose data is a view into one (as every Item's is). */
export function recordOf(item: Item): Buffer {
  const d = item.data;
  return Buffer.from(d.buffer, d.byteOffset - RECORD_HEADER, d.length + RECORD_HEADER);
}

/** Persisted per-queue counters. */
export interface QueueMeta {
  nextId: number;
  /** No item with a lower id exists: where start-up seeks for the head. */
  headId: number;
  items: number;
  bytes: number;
  totalItems: number;
}

const META_FIELDS = 5;

export function encodeMeta(m: QueueMeta): Buffer {
  const b = Buffer.allocUnsafe(1 + META_FIELDS * 8);
  b[0] = 1;
  b.writeDoubleBE(m.nextId, 1);
  b.writeDoubleBE(m.headId, 9);
  b.writeDoubleBE(m.items, 17);
  b.writeDoubleBE(m.bytes, 25);
  b.writeDoubleBE(m.totalItems, 33);
  return b;
}

export function decodeMeta(b: Buffer): QueueMeta {
  if (b.length < 1 + META_FIELDS * 8 || b[0] !== 1) throw new Error('corrupt queue meta');
  return {
    nextId: b.readDoubleBE(1),
    headId: b.readDoubleBE(9),
    items: b.readDoubleBE(17),
    bytes: b.readDoubleBE(25),
    totalItems: b.readDoubleBE(33),
  };
}

export const CURSOR_PREFIX = enc('c/');
export const RETRY_PREFIX = enc('r/');

/** [queue, cursor] of a `c/<queue>/<cursor>` key. */
export function namesFromCursorKey(key: Buffer): [string, string] {
  const s = key.toString('latin1', 2);
  const slash = s.indexOf('/');
  return [s.slice(0, slash), s.slice(slash + 1)];
}

/** [queue, cursor, id] of an `r/<queue>/<cursor>/<id>` key. */
export function namesFromRetryKey(key: Buffer): [string, string, number] {
  const s = key.toString('latin1', 2, key.length - 9);
  const slash = s.indexOf('/');
  return [s.slice(0, slash), s.slice(slash + 1), idFromKey(key)];
}
