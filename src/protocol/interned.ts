// Latin1 text of wire bytes (command words, keys, numbers), reusing the string made last time
// the same bytes came by: a pipelined client repeats a handful of tokens, and making a fresh
// string for each one was a large share of the parsing cost.

/** Slots of the table: a power of two. */
const SLOTS = 512;
/** Longer byte runs are not remembered (keys are at most 250 bytes). */
const MAX_BYTES = 250;

/** Direct-mapped by a hash of the bytes; a slot holds the latest string that hashed there. */
const table: string[] = new Array<string>(SLOTS).fill('');

/** buf[start, end) as a latin1 string (one char per byte). */
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
