// The write-ahead log in front of LevelDB. A batch is acknowledged once it is appended here —
// one write() on the main thread, which survives kill -9 like LevelDB's own unsynced log — and
// is applied to LevelDB in the background. Every LevelDB batch carries the sequence number of
// the last record it applies, so start-up replays exactly the records LevelDB lacks.
// (Measured against LevelDB's own log alone in docs/durability.md: 2–3× the throughput at one
// connection, where every request would otherwise wait for a thread-pool round trip.)
//
// Files: <data>/wal/<first seq, 16 hex digits>.wal, each a run of records (walRecord.ts).
// A failed append is cut off again, so the log never holds a damaged record before a good one:
// at start-up, anything but a torn tail of the newest segment is damage (walRead.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type BatchOp } from './layout.js';
import { encodeRecord } from './walRecord.js';
import { SILENT_LOG, type StoreLog } from './storeLog.js';

/** A segment past this size is closed; the next record starts a new one. */
export const SEGMENT_BYTES = 8 * 1024 * 1024;
const SUFFIX = '.wal';
/** Larger records (rare: huge items, or thousands of sets in one turn) get a buffer of their own. */
const SCRATCH_BYTES = 256 * 1024;

const segmentName = (firstSeq: number) => firstSeq.toString(16).padStart(16, '0') + SUFFIX;

/** The segment files in `dir`, oldest first, with the first sequence number each holds. */
export function listSegments(dir: string): Array<{ file: string; firstSeq: number }> {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(SUFFIX) && /^[0-9a-f]{16}$/.test(f.slice(0, -SUFFIX.length)))
    .map((f) => ({ file: path.join(dir, f), firstSeq: parseInt(f.slice(0, -SUFFIX.length), 16) }))
    .sort((a, b) => a.firstSeq - b.firstSeq);
}

/** Deletes the log's segments under `dir` (once LevelDB holds what they held). */
export function removeLog(dir: string): void {
  for (const { file } of listSegments(dir)) fs.unlinkSync(file);
}

/** The open log: appends records, rotates segments, and deletes those fully applied. */
export class WriteAheadLog {
  private fd: number;
  /** Bytes of whole records in the open segment: a failed append is cut back to this. */
  private size = 0;
  /** The open segment may end in part of a failed append: cut it before the next one. */
  private dirty = false;
  /** Closed segments, oldest first: each holds records up to (excluding) the next's first. */
  private closed: Array<{ file: string; lastSeq: number }> = [];
  private current: { file: string; firstSeq: number };
  private nextSeq: number;
  /** Records are encoded here: one allocation for the log's life, not one per batch. */
  private readonly scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);

  private constructor(
    private readonly dir: string,
    firstSeq: number,
    private readonly log: StoreLog,
  ) {
    this.nextSeq = firstSeq;
    this.current = { file: path.join(dir, segmentName(firstSeq)), firstSeq };
    this.fd = fs.openSync(this.current.file, 'a');
  }

  /**
   * Starts a new log under `dir` whose first record is `firstSeq`, deleting the segments there
   * (the caller has applied what they held).
   */
  static create(dir: string, firstSeq: number, log: StoreLog = SILENT_LOG): WriteAheadLog {
    fs.mkdirSync(dir, { recursive: true });
    removeLog(dir);
    return new WriteAheadLog(dir, firstSeq, log);
  }

  /** Highest sequence number appended so far (0: none). */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /** Bytes in the log's segments (open and closed). */
  get bytes(): number {
    return this.size + this.closed.length * SEGMENT_BYTES;
  }

  /**
   * Appends one record synchronously and returns its sequence number. On an I/O error (disk
   * full, EIO, …) it throws, takes no sequence number, and leaves no part of the record behind:
   * the same batch can be appended again later.
   */
  append(ops: readonly BatchOp[]): number {
    if (this.dirty) this.cut();
    const seq = this.nextSeq;
    const buf = encodeRecord(seq, ops, this.scratch);
    try {
      for (let at = 0; at < buf.length;) at += fs.writeSync(this.fd, buf, at);
    } catch (err) {
      this.dirty = true;
      try {
        this.cut();
      } catch (cutErr) {
        // Tolerable: cut again before the next append; until it works, appends fail (and the
        // store reports the append's error as its fault).
        this.log.warn({ err: cutErr }, 'write-ahead log: cutting off a failed append failed; retried with the next append');
      }
      throw err;
    }
    this.nextSeq++;
    this.size += buf.length;
    if (this.size >= SEGMENT_BYTES) this.rotate();
    return seq;
  }

  /** Removes a partly written record from the end of the open segment. */
  private cut(): void {
    fs.ftruncateSync(this.fd, this.size);
    this.dirty = false;
  }

  private rotate(): void {
    let fd: number;
    const next = { file: path.join(this.dir, segmentName(this.nextSeq)), firstSeq: this.nextSeq };
    try {
      fd = fs.openSync(next.file, 'a');
    } catch (err) {
      // Tolerable: no descriptor or no space; the open segment grows on, the next append tries again.
      this.log.warn({ err }, 'write-ahead log: starting a new segment failed; the open one grows on');
      return;
    }
    const old = this.fd;
    this.closed.push({ file: this.current.file, lastSeq: this.lastSeq });
    this.current = next;
    this.fd = fd;
    this.size = 0;
    // Flushed to disk before it is closed, so a periodic fsync need only cover the open segment.
    fs.fsync(old, (syncErr) => {
      // Not tolerable silently: its records may not survive a power loss (a kill -9 they do).
      if (syncErr) this.log.error({ err: syncErr }, 'write-ahead log: fsync of a full segment failed');
      fs.close(old, (closeErr) => {
        // Tolerable: the descriptor is gone either way; seen only with a failing disk.
        if (closeErr) this.log.warn({ err: closeErr }, 'write-ahead log: closing a full segment failed');
      });
    });
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
