// Byte helpers of the framings, for the small pieces a pipelined request is made of: latin1
// text of wire bytes, and copies.
import { Buffer } from 'node:buffer';

/** Slots of the table: a power of two. */
const SLOTS = 512;
/** Longer byte runs are not remembered (keys are at most 250 bytes). */
const MAX_BYTES = 250;

/** Direct-mapped by a hash of the bytes; a slot holds the latest string that hashed there. */
const table: string[] = new Array<string>(SLOTS).fill('');

/**
 * buf[start, end) as a latin1 string (one char per byte), reusing the string made last time the
 * same bytes came by: a pipelined client repeats a handful of command words, keys and numbers,
 * and a fresh string for each was a large share of the parsing cost.
 */
export function latin1(buf: Buffer, start: number, end: number): string {
  const n = end - start;
  if (n > MAX_BYTES) return buf.toString('latin1', start, end);
  let h = 0x811c9dc5; // FNV-1a
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  const slot = (h ^ (h >>> 15)) & (SLOTS - 1);
  const known = table[slot]!;
  if (known.length === n) {
    let i = 0;
    while (i < n && known.charCodeAt(i) === buf[start + i]) i++;
    if (i === n) return known;
  }
  const fresh = buf.toString('latin1', start, end);
  table[slot] = fresh;
  return fresh;
}

/** Copies below this many bytes are a plain loop: a native copy costs more to set up. */
const LOOP_COPY_BYTES = 16;

/** Copies src[start, end) into dst at `at`. */
export function copyBytes(src: Buffer, start: number, end: number, dst: Buffer, at: number): void {
  if (end - start >= LOOP_COPY_BYTES) {
    src.copy(dst, at, start, end);
    return;
  }
  for (let i = start; i < end; i++) dst[at++] = src[i]!;
}
