// The write-ahead log in front of LevelDB. A batch is acknowledged once it is appended here —
// one write() on the main thread, which survives kill -9 like LevelDB's own unsynced log — and
// is applied to LevelDB in the background. Every LevelDB batch carries the sequence number of
// the last record it applies, so start-up replays exactly the records LevelDB lacks.
//
// Files: <data>/wal/<first seq, 16 hex digits>.wal, each a run of records:
//   [u32 body length][u32 crc32 of body][body]
//   body: [u32 seq high][u32 seq low][u32 op count] ops…
//   op:   [u8 0 = put | 1 = del][u32 key length][key] (put:) [u32 value length][value]
// A record cut short or failing its checksum ends the log (a write torn by a crash).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { type BatchOp } from './layout.js';

const RECORD_HEAD = 8;
const BODY_HEAD = 12;
const PUT = 0;
const DEL = 1;
/** A segment past this size is closed; the next record starts a new one. */
export const SEGMENT_BYTES = 8 * 1024 * 1024;
const SUFFIX = '.wal';
/** Larger records (rare: huge items, or thousands of sets in one turn) get a buffer of their own. */
const SCRATCH_BYTES = 256 * 1024;

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

/**
 * The records in `buf`, in order, up to the first one cut short or corrupt. `end` is where the
 * valid records stop (equal to buf.length when the whole buffer is good).
 */
export function decodeRecords(buf: Buffer): { records: WalRecord[]; end: number } {
  const records: WalRecord[] = [];
  let at = 0;
  while (at + RECORD_HEAD <= buf.length) {
    const length = buf.readUInt32BE(at);
    const bodyStart = at + RECORD_HEAD;
    if (length < BODY_HEAD || bodyStart + length > buf.length) break;
    const body = buf.subarray(bodyStart, bodyStart + length);
    if (crc32(body) !== buf.readUInt32BE(at + 4)) break;
    const ops = decodeOps(body);
    if (!ops) break;
    records.push({ seq: body.readUInt32BE(0) * 0x1_0000_0000 + body.readUInt32BE(4), ops });
    at = bodyStart + length;
  }
  return { records, end: at };
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

const segmentName = (firstSeq: number) => firstSeq.toString(16).padStart(16, '0') + SUFFIX;

/** The segment files in `dir`, oldest first, with the first sequence number each holds. */
function listSegments(dir: string): Array<{ file: string; firstSeq: number }> {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(SUFFIX) && /^[0-9a-f]{16}$/.test(f.slice(0, -SUFFIX.length)))
    .map((f) => ({ file: path.join(dir, f), firstSeq: parseInt(f.slice(0, -SUFFIX.length), 16) }))
    .sort((a, b) => a.firstSeq - b.firstSeq);
}

/**
 * Every record left in the log under `dir`, oldest first, and the highest sequence number seen.
 * Reading stops at the first torn or corrupt record: nothing after it was ever acknowledged.
 */
export function* readLog(dir: string): Generator<WalRecord, void, undefined> {
  if (!fs.existsSync(dir)) return;
  for (const { file } of listSegments(dir)) {
    const buf = fs.readFileSync(file);
    const { records, end } = decodeRecords(buf);
    yield* records;
    if (end !== buf.length) return;
  }
}

/** Deletes the log's segments under `dir` (once LevelDB holds what they held). */
export function removeLog(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const { file } of listSegments(dir)) fs.unlinkSync(file);
}

/** The open log: appends records, rotates segments, and deletes those fully applied. */
export class WriteAheadLog {
  private fd: number;
  private size = 0;
  /** Closed segments, oldest first: each holds records up to (excluding) the next's first. */
  private closed: Array<{ file: string; lastSeq: number }> = [];
  private current: { file: string; firstSeq: number };
  private nextSeq: number;
  /** Records are encoded here: one allocation for the log's life, not one per batch. */
  private readonly scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);

  private constructor(
    private readonly dir: string,
    firstSeq: number,
  ) {
    this.nextSeq = firstSeq;
    this.current = { file: path.join(dir, segmentName(firstSeq)), firstSeq };
    this.fd = fs.openSync(this.current.file, 'a');
  }

  /**
   * Starts a new log under `dir` whose first record is `firstSeq`, deleting the segments there
   * (the caller has applied what they held).
   */
  static create(dir: string, firstSeq: number): WriteAheadLog {
    fs.mkdirSync(dir, { recursive: true });
    removeLog(dir);
    return new WriteAheadLog(dir, firstSeq);
  }

  /** Highest sequence number appended so far (0: none). */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /** Appends one record synchronously and returns its sequence number. Throws on I/O errors. */
  append(ops: readonly BatchOp[]): number {
    const seq = this.nextSeq;
    const buf = encodeRecord(seq, ops, this.scratch);
    for (let at = 0; at < buf.length; ) at += fs.writeSync(this.fd, buf, at);
    this.nextSeq++;
    this.size += buf.length;
    if (this.size >= SEGMENT_BYTES) this.rotate();
    return seq;
  }

  private rotate(): void {
    const old = this.fd;
    this.closed.push({ file: this.current.file, lastSeq: this.lastSeq });
    this.current = { file: path.join(this.dir, segmentName(this.nextSeq)), firstSeq: this.nextSeq };
    this.fd = fs.openSync(this.current.file, 'a');
    this.size = 0;
    // Flushed to disk before it is closed, so a periodic fsync need only cover the open segment.
    fs.fsync(old, () => fs.close(old, () => undefined));
  }

  /** Records up to `seq` are in LevelDB (durably enough): their segments can go. */
  release(seq: number): void {
    while (this.closed.length > 0 && this.closed[0]!.lastSeq <= seq) {
      fs.rmSync(this.closed.shift()!.file, { force: true });
    }
  }

  /** fsyncs the open segment. */
  sync(): Promise<void> {
    const fd = this.fd;
    return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
  }

  /** Closes the log; with `applied`, every record is in LevelDB and the files are deleted. */
  close(applied: boolean): void {
    fs.closeSync(this.fd);
    if (!applied) return;
    for (const { file } of this.closed) fs.rmSync(file, { force: true });
    fs.rmSync(this.current.file, { force: true });
    this.closed = [];
  }
}
