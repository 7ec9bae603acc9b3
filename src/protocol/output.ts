// Reply bytes gathered for one socket write. Encoders write straight into a slab shared by every
// connection (as Node's own Buffer pool does), so a pipelined burst of replies costs no buffer
// per reply and leaves in one write; large values ride along uncopied.

/** Bytes of one shared slab; a single claim larger than this gets a slab of its own. */
const SLAB_BYTES = 64 * 1024;
/** Values up to this size are copied in; larger ones are passed along as they are. */
export const INLINE_BYTES = 4096;

/** The slab regions are carved from: handed-out bytes are never written again. */
let slab = Buffer.allocUnsafe(0);
let slabUsed = 0;
const NOTHING: readonly Buffer[] = [];

export class ReplyWriter {
  /** Finished pieces, in order, not yet taken. */
  private parts: Buffer[] = [];
  /** The open region: `buf`[start, end), ending where the shared slab's free space begins. */
  private buf: Buffer = slab;
  private start = 0;
  private end = 0;
  private total = 0;

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
   * the next call on any writer.
   */
  claim(n: number): number {
    if (this.buf !== slab || this.end !== slabUsed || slab.length - slabUsed < n) this.reopen(n);
    const at = this.end;
    this.end += n;
    slabUsed = this.end;
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
    this.buf.set(bytes, at);
  }

  /** Appends a string whose characters are all below 256, one byte each. */
  latin1(s: string): void {
    const n = s.length;
    if (n === 0) return;
    const at = this.claim(n);
    this.buf.write(s, at, n, 'latin1');
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
    this.reopen(0); // hold on to no slab but the current one
    return parts;
  }

  /** Ends the open region (keeping its bytes as a piece) so the next claim starts a new one. */
  private close(): void {
    if (this.end > this.start) this.parts.push(this.buf.subarray(this.start, this.end));
    this.start = this.end;
  }

  /** Starts a new region at the shared slab's free space, with room for `n` bytes. */
  private reopen(n: number): void {
    this.close();
    if (slab.length - slabUsed < n) {
      slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, n));
      slabUsed = 0;
    }
    this.buf = slab;
    this.start = this.end = slabUsed;
  }
}
