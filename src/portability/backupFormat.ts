// The backup format (docs/migration.md): JSON Lines, one object per line. Every line ends with
// its own CRC-32 (`,"crc":"xxxxxxxx"}`, over the line's text before it), so a damaged or edited
// line is refused by number; the trailer holds the counts and a SHA-256 of every line before it,
// so a missing, duplicated or reordered line is refused too.
import { createHash, type Hash } from 'node:crypto';
import { type Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { type Item } from '../store/layout.js';
import { lineError } from './errors.js';

export const FORMAT = 'siberite-backup';
export const FORMAT_VERSION = 1;

export interface BackupCounts {
  queues: number;
  items: number;
  /** Value bytes of the items (retry entries not included). */
  bytes: number;
  cursors: number;
  retries: number;
}

export const zeroCounts = (): BackupCounts => ({ queues: 0, items: 0, bytes: 0, cursors: 0, retries: 0 });

/** `,"crc":"` + 8 hex digits + `"}`: the fixed end of every line. */
const CRC_SUFFIX_LENGTH = 18;
const CRC_SUFFIX = /,"crc":"([0-9a-f]{8})"\}$/;

/** Closes the JSON object text `body` (which lacks its final `}`) with its CRC, as one line. */
export function sealLine(body: string): string {
  return `${body},"crc":"${crc32(body).toString(16).padStart(8, '0')}"}\n`;
}

export function headerLine(created: Date, source: Record<string, string | number>, counts: Omit<BackupCounts, 'bytes'>): string {
  const head = { type: 'header', format: FORMAT, version: FORMAT_VERSION, created: created.toISOString(), source, counts };
  return sealLine(JSON.stringify(head).slice(0, -1));
}

export interface QueueRecord {
  name: string;
  items: number;
  cursors: number;
  retries: number;
}

export function queueLine(q: QueueRecord): string {
  return sealLine(`{"type":"queue","name":${JSON.stringify(q.name)},"items":${q.items},"cursors":${q.cursors},"retries":${q.retries}`);
}

/** Fields shared by item and retry lines; `value` is the standard base64 of the bytes. */
function itemFields(item: Item): string {
  return `"flags":${item.flags},"expiry":${item.expiry},"added":${item.addTime},"value":"${item.data.toString('base64')}"`;
}

/** `queueJson` is JSON.stringify(queue name), made once per queue. */
export function itemLine(queueJson: string, item: Item): string {
  return sealLine(`{"type":"item","queue":${queueJson},${itemFields(item)}`);
}

/**
 * A cursor's position, independent of item ids: it has read the first `skip` items of its queue
 * as written in the backup, and (when it stands past the last one) will skip the `ahead` items
 * set next.
 */
export function cursorLine(queueJson: string, name: string, skip: number, ahead: number): string {
  return sealLine(`{"type":"cursor","queue":${queueJson},"name":${JSON.stringify(name)},"skip":${skip},"ahead":${ahead}`);
}

export function retryLine(queueJson: string, cursor: string, item: Item): string {
  return sealLine(`{"type":"retry","queue":${queueJson},"cursor":${JSON.stringify(cursor)},${itemFields(item)}`);
}

export function trailerLine(counts: BackupCounts, sha256: string): string {
  return sealLine(JSON.stringify({ type: 'trailer', counts, sha256 }).slice(0, -1));
}

export function newHash(): Hash {
  return createHash('sha256');
}

/** Parses one line (without its newline), checking its CRC. */
export function parseLine(text: string, lineNo: number): Record<string, unknown> {
  const m = CRC_SUFFIX.exec(text);
  if (!m) throw lineError(lineNo, 'not a backup record (no checksum at its end): damaged, or not a Siberite backup');
  const body = text.slice(0, text.length - CRC_SUFFIX_LENGTH);
  if (crc32(body) !== parseInt(m[1]!, 16)) throw lineError(lineNo, 'checksum mismatch: the line was altered or damaged');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw lineError(lineNo, 'not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw lineError(lineNo, 'not a JSON object');
  return value as Record<string, unknown>;
}

export interface Line {
  /** 1-based. */
  no: number;
  text: string;
  /** The line's bytes, newline included (valid until the next line is read). */
  raw: Buffer;
}

/**
 * The lines of `input`, each with its number and its exact bytes (for the trailer's digest). A
 * last line with no newline is refused as truncated. Memory: one line (and one read chunk).
 */
export async function* readLines(input: Readable): AsyncGenerator<Line> {
  let pending: Buffer[] = [];
  let no = 0;
  for await (const chunk of input as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl + 1);
      const bytes = pending.length ? Buffer.concat([...pending, piece]) : piece;
      pending = [];
      start = nl + 1;
      yield { no: ++no, text: bytes.toString('utf8', 0, bytes.length - 1), raw: bytes };
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length) throw lineError(no + 1, 'truncated: the backup ends in the middle of this line');
}
