// The bytes a binary connection has received and not yet parsed: the socket's chunks as they
// came (never joined), read in place where a field lies within one chunk, else through a small
// scratch copy. Bodies the framing refuses are skipped as they arrive, never buffered.
import { Buffer } from 'node:buffer';
import { copyBytes, latin1 } from './bytes.js';

/** Past this many spent chunks at the head of the list (and half of it), the list is compacted. */
const SPENT_CHUNKS = 64;

export class ReceivedBytes {
  // Received bytes: chunks[first] from `offset` on, then the rest of the list; `length` in all.
  private chunks: Buffer[] = [];
  private first = 0;
  private offset = 0;
  private total = 0;
  /** Bytes still to be thrown away (they have not arrived yet; nothing is buffered then). */
  private skip = 0;
  private readonly scratch: Buffer;
  /** Where the bytes of the last peek() start in the buffer it returned. */
  peekAt = 0;

  /** `scratchBytes`: the longest run peek() and readLatin1() are asked for. */
  constructor(scratchBytes: number) {
    this.scratch = Buffer.alloc(scratchBytes);
  }

  /** Bytes buffered. */
  get length(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.skip > 0) {
      if (chunk.length <= this.skip) {
        this.skip -= chunk.length;
        return;
      }
      chunk = chunk.subarray(this.skip);
      this.skip = 0;
    }
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** The next buffered byte (length > 0). */
  firstByte(): number {
    return this.chunks[this.first]![this.offset]!;
  }

  /**
   * The next `n` (≤ scratch size) buffered bytes in one buffer, from `peekAt` on: the first
   * chunk itself when they are all in it, else a copy in scratch. Consumes nothing.
   */
  peek(n: number): Buffer {
    const c = this.chunks[this.first]!;
    if (c.length - this.offset >= n) {
      this.peekAt = this.offset;
      return c;
    }
    this.copyOut(this.scratch, 0, n);
    this.peekAt = 0;
    return this.scratch;
  }

  /** Reads and consumes `n` (≤ scratch size) buffered bytes as a latin1 string. */
  readLatin1(n: number): string {
    const b = this.peek(n);
    const s = latin1(b, this.peekAt, this.peekAt + n);
    this.consume(n);
    return s;
  }

  /** Moves `n` (≤ length) buffered bytes into `target` at `at`. */
  readInto(target: Buffer, at: number, n: number): void {
    this.copyOut(target, at, n);
    this.consume(n);
  }

  /** Drops `n` (≤ length) buffered bytes. */
  consume(n: number): void {
    this.total -= n;
    if (this.total === 0) {
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
    if (this.first >= SPENT_CHUNKS && this.first * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }

  /** Drops `n` bytes: what is buffered now, and the rest as it arrives. */
  discard(n: number): void {
    const now = Math.min(n, this.total);
    this.consume(now);
    this.skip = n - now;
  }

  /** Drops everything, buffered or still to be skipped. */
  clear(): void {
    this.chunks = [];
    this.first = 0;
    this.offset = 0;
    this.total = 0;
    this.skip = 0;
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
}
