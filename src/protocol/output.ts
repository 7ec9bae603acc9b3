// Reply bytes gathered for one socket write. Encoders write straight into a slab, so a pipelined
// burst of replies costs no buffer per reply and leaves in one write; large values ride along
// uncopied. Once the socket has copied what it was given, the slab is free for any connection:
// in the steady state no memory is allocated for output at all, and an idle connection holds none.
import { Buffer } from 'node:buffer';
import { copyBytes } from './bytes.js';

/** Bytes of one slab; a single claim larger than this gets a buffer of its own. */
const SLAB_BYTES = 64 * 1024;
/** Slabs a writer keeps while their bytes may still be in a socket's hands. */
const SPENT_SLABS = 8;
/** Values up to this size are copied in; larger ones are passed along as they are. */
export const INLINE_BYTES = 4096;
/** Shorter strings are written by a plain loop: a native write costs more to set up. */
const LOOP_WRITE_CHARS = 64;

const EMPTY = Buffer.alloc(0);
const NOTHING: readonly Buffer[] = [];
/**
 * The free slab, if any. One is enough: writers take it in turn, since each hands its slab
 * back right after its socket write; only a writer whose socket falls behind keeps its own.
 */
let free: Buffer | null = null;

function release(slab: Buffer): void {
  if (slab.length === SLAB_BYTES) free = slab;
}

function acquire(): Buffer {
  const slab = free ?? Buffer.allocUnsafe(SLAB_BYTES);
  free = null;
  return slab;
}

export class ReplyWriter {
  /** Finished pieces, in order, not yet taken. */
  private parts: Buffer[] = [];
  /** The slab being filled: bytes before `start` are taken, [start, end) are not yet. */
  private buf: Buffer = EMPTY;
  private start = 0;
  private end = 0;
  private total = 0;
  /** Earlier slabs of this writer whose bytes may still be in a socket's hands. */
  private spent: Buffer[] = [];

  /** Bytes written and not yet taken. */
  get length(): number {
    return this.total;
  }

  /** The buffer the last claim() is in. */
  get buffer(): Buffer {
    return this.buf;
  }

  /**
   * Room for `n` bytes in `buffer`: returns where they go. The caller fills all `n` bytes before
   * the next call.
   */
  claim(n: number): number {
    if (this.buf.length - this.end < n) this.nextSlab(n);
    const at = this.end;
    this.end += n;
    this.total += n;
    return at;
  }

  /** Appends one byte. */
  byte(b: number): void {
    const at = this.claim(1);
    this.buf[at] = b;
  }

  /** Appends `bytes`: copied when small, passed along as they are when large. */
  bytes(bytes: Buffer): void {
    const n = bytes.length;
    if (n === 0) return;
    if (n > INLINE_BYTES) {
      this.close();
      this.parts.push(bytes);
      this.total += n;
      return;
    }
    const at = this.claim(n);
    copyBytes(bytes, 0, n, this.buf, at);
  }

  /** Appends a string whose characters are all below 256, one byte each. */
  latin1(s: string): void {
    const n = s.length;
    if (n === 0) return;
    const at = this.claim(n);
    const buf = this.buf;
    if (n >= LOOP_WRITE_CHARS) buf.write(s, at, n, 'latin1');
    else for (let i = 0; i < n; i++) buf[at + i] = s.charCodeAt(i); // low byte, as latin1 writes
  }

  /** Appends the decimal digits of `n`, a non-negative integer below 2^53. */
  decimal(n: number): void {
    let digits = 1;
    for (let p = 10; p <= n; p *= 10) digits++;
    const at = this.claim(digits);
    const buf = this.buf;
    for (let i = at + digits - 1; i >= at; i--) {
      const q = Math.floor(n / 10);
      buf[i] = 48 + (n - q * 10);
      n = q;
    }
  }

  /** Everything written since the last take(), as the pieces to write in order (none: empty). */
  take(): readonly Buffer[] {
    this.close();
    const parts = this.parts;
    if (parts.length === 0) return NOTHING;
    this.parts = [];
    this.total = 0;
    return parts;
  }

  /**
   * Every byte taken so far has been copied out (the socket holds none of them): the slabs
   * are free for any writer again. Does nothing while bytes are written and not yet taken.
   */
  recycle(): void {
    if (this.total > 0) return;
    if (this.spent.length > 0) {
      for (const slab of this.spent) release(slab);
      this.spent = [];
    }
    if (this.buf === EMPTY) return;
    release(this.buf);
    this.buf = EMPTY;
    this.start = this.end = 0;
  }

  /** Ends the open region (keeping its bytes as a piece) so the next bytes start a new one. */
  private close(): void {
    if (this.end > this.start) this.parts.push(this.buf.subarray(this.start, this.end));
    this.start = this.end;
  }

  /** Moves on to a slab with room for `n` bytes; the current one keeps what it holds. */
  private nextSlab(n: number): void {
    this.close();
    if (this.buf !== EMPTY && this.spent.length < SPENT_SLABS) this.spent.push(this.buf);
    this.buf = n > SLAB_BYTES ? Buffer.allocUnsafe(n) : acquire();
    this.start = this.end = 0;
  }
}
