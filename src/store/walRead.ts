// Reading the write-ahead log back: strictly at start-up, leniently for `siberite repair`.
//
// Start-up trusts nothing it cannot prove: every record's checksum must hold and sequence numbers
// must run on without a gap, within and across segments. The one damage that is expected — a
// record cut short by a crash or power loss at the end of the newest segment, with nothing valid
// after it — is cut off with a warning. Anything else stops start-up with a LogDamageError that
// says where, because replaying past it would lose acknowledged writes silently.
import * as fs from 'node:fs';
import { listSegments } from './wal.js';
import { type RecordFault, type WalRecord, decodeRecordAt, findNextRecord } from './walRecord.js';

/** How far ahead of the last good sequence number a resynchronising scan accepts a record. */
const SEQ_WINDOW = 1_000_000_000;

export class LogDamageError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`write-ahead log damaged: ${file} at byte ${offset}: ${reason}`);
    this.name = 'LogDamageError';
  }
}

export interface TornTail {
  file: string;
  offset: number;
  bytes: number;
}

/**
 * Every record in the log under `dir`, oldest first. A torn tail of the newest segment is cut
 * off (the file truncated) and reported through `onTornTail`; other damage throws LogDamageError.
 */
export function* readLog(dir: string, onTornTail?: (tail: TornTail) => void): Generator<WalRecord, void, undefined> {
  const segments = listSegments(dir);
  let expected: number | undefined;
  for (let i = 0; i < segments.length; i++) {
    const { file, firstSeq } = segments[i]!;
    const buf = fs.readFileSync(file);
    let at = 0;
    while (at < buf.length) {
      const next = decodeRecordAt(buf, at);
      if ('fault' in next) {
        const newest = i === segments.length - 1;
        const after = (expected ?? firstSeq) - 1;
        if (newest && findNextRecord(buf, at + 1, after, after + SEQ_WINDOW) < 0) {
          fs.truncateSync(file, at);
          onTornTail?.({ file, offset: at, bytes: buf.length - at });
          return;
        }
        throw new LogDamageError(file, at, describe(next.fault, newest));
      }
      const { seq } = next.record;
      if (at === 0 && seq !== firstSeq) throw new LogDamageError(file, 0, `first record is ${seq}, the file name says ${firstSeq}`);
      if (expected !== undefined && seq !== expected) {
        throw new LogDamageError(file, at, `sequence gap: expected record ${expected}, found ${seq}`);
      }
      expected = seq + 1;
      yield next.record;
      at = next.end;
    }
  }
}

function describe(fault: RecordFault, newest: boolean): string {
  return newest ? `${fault}, followed by valid records` : `${fault} in a segment older than the newest`;
}

export interface Skipped {
  file: string;
  offset: number;
  bytes: number;
  reason: string;
}

/**
 * What `siberite repair` keeps of a damaged log: every record whose checksum holds, in sequence
 * order (each once), and every byte range it had to skip, with why.
 */
export function salvageLog(dir: string): { records: WalRecord[]; skipped: Skipped[] } {
  const bySeq = new Map<number, WalRecord>();
  const skipped: Skipped[] = [];
  let lastGood = 0;
  for (const { file, firstSeq } of listSegments(dir)) {
    const buf = fs.readFileSync(file);
    let at = 0;
    while (at < buf.length) {
      const next = decodeRecordAt(buf, at);
      if ('fault' in next) {
        const after = Math.max(lastGood, firstSeq - 1);
        const resume = findNextRecord(buf, at + 1, after, after + SEQ_WINDOW);
        const end = resume < 0 ? buf.length : resume;
        skipped.push({ file, offset: at, bytes: end - at, reason: next.fault });
        at = end;
        continue;
      }
      bySeq.set(next.record.seq, next.record);
      lastGood = Math.max(lastGood, next.record.seq);
      at = next.end;
    }
  }
  const records = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  return { records, skipped };
}
