// Unit tests of ReplyWriter: bytes in order, small pieces copied, large values uncopied.
import { describe, expect, it } from 'vitest';
import { INLINE_BYTES, ReplyWriter } from '../src/protocol/output.js';

describe('ReplyWriter', () => {
  it('takes nothing when nothing was written', () => {
    const w = new ReplyWriter();
    expect(w.take()).toHaveLength(0);
    expect(w.length).toBe(0);
  });

  it('gathers bytes, single bytes, latin1 text and decimals into one piece', () => {
    const w = new ReplyWriter();
    w.bytes(Buffer.from('VALUE '));
    w.latin1('q\xe9');
    w.byte(0x20);
    for (const n of [0, 7, 10, 99, 4294967295, 2 ** 53 - 1]) {
      w.decimal(n);
      w.byte(0x2c);
    }
    const parts = w.take();
    expect(parts).toHaveLength(1);
    expect(Buffer.concat(parts).toString('latin1')).toBe('VALUE q\xe9 0,7,10,99,4294967295,9007199254740991,');
    expect(w.length).toBe(0);
    expect(w.take()).toHaveLength(0);
  });

  it('passes large values along uncopied, between copied pieces', () => {
    const w = new ReplyWriter();
    const big = Buffer.alloc(INLINE_BYTES + 1, 0x62);
    const small = Buffer.alloc(INLINE_BYTES, 0x61);
    w.latin1('a');
    w.bytes(big);
    w.bytes(small);
    expect(w.length).toBe(2 + 2 * INLINE_BYTES);
    const parts = w.take();
    expect(parts).toHaveLength(3);
    expect(parts[1]).toBe(big);
    expect(parts[2]).not.toBe(small);
    expect(Buffer.concat(parts).equals(Buffer.concat([Buffer.from('a'), big, small]))).toBe(true);
  });

  it('keeps taken bytes intact while writers interleave and slabs run out', () => {
    const a = new ReplyWriter();
    const b = new ReplyWriter();
    const taken: Buffer[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const w = i % 3 === 0 ? b : a;
      const s = `${i}:${'x'.repeat(i % 50)};`;
      w.latin1(s);
      if (w === b) {
        taken.push(...b.take());
        expected.push(s);
      }
    }
    const aText = Buffer.concat(a.take()).toString('latin1');
    expect(aText).toBe(
      Array.from({ length: 3000 }, (_, i) => i)
        .filter((i) => i % 3 !== 0)
        .map((i) => `${i}:${'x'.repeat(i % 50)};`)
        .join(''),
    );
    expect(Buffer.concat(taken).toString('latin1')).toBe(expected.join(''));
  });

  it('claims room larger than a slab', () => {
    const w = new ReplyWriter();
    w.latin1('<');
    const n = 200 * 1024;
    const at = w.claim(n);
    w.buffer.fill(0x7a, at, at + n);
    w.latin1('>');
    const all = Buffer.concat(w.take());
    expect(all.length).toBe(n + 2);
    expect(all[0]).toBe(0x3c);
    expect(all[n + 1]).toBe(0x3e);
    expect(all.subarray(1, n + 1).every((c) => c === 0x7a)).toBe(true);
  });
});

describe('ReplyWriter: recycling', () => {
  it('reuses a recycled slab, and never one whose bytes were taken and not recycled', () => {
    const a = new ReplyWriter();
    a.latin1('first');
    const first = a.take()[0]!;
    const slab = a.buffer;
    // Not recycled: the next bytes go after the taken ones.
    a.latin1('second');
    expect(first.toString()).toBe('first');
    expect(Buffer.concat(a.take()).toString()).toBe('second');
    a.recycle();
    // Recycled: another writer may get the same memory.
    const b = new ReplyWriter();
    b.latin1('third');
    expect(b.buffer).toBe(slab);
    expect(Buffer.concat(b.take()).toString()).toBe('third');
  });

  it('keeps bytes not yet taken through a recycle', () => {
    const a = new ReplyWriter();
    a.latin1('kept');
    a.recycle();
    const b = new ReplyWriter();
    b.latin1('other');
    expect(Buffer.concat(a.take()).toString()).toBe('kept');
    expect(Buffer.concat(b.take()).toString()).toBe('other');
  });

  it('writers that do not recycle never share memory', () => {
    const a = new ReplyWriter();
    const b = new ReplyWriter();
    const aParts: Buffer[] = [];
    const bParts: Buffer[] = [];
    for (let i = 0; i < 5000; i++) {
      a.latin1(`a${i};`);
      b.latin1(`b${i};`);
      if (i % 7 === 0) aParts.push(...a.take());
      if (i % 11 === 0) bParts.push(...b.take());
    }
    aParts.push(...a.take());
    bParts.push(...b.take());
    const expect_ = (p: string) => Array.from({ length: 5000 }, (_, i) => `${p}${i};`).join('');
    expect(Buffer.concat(aParts).toString()).toBe(expect_('a'));
    expect(Buffer.concat(bParts).toString()).toBe(expect_('b'));
  });
});
