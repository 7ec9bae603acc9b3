// Unit tests of the framings' byte helpers: latin1() (the same string again for the same bytes), copyBytes().
import { describe, expect, it } from 'vitest';
import { copyBytes, latin1 } from '../src/protocol/bytes.js';

describe('latin1', () => {
  it('decodes one char per byte, high bytes included', () => {
    const b = Buffer.from([0x67, 0x65, 0x74, 0x20, 0x71, 0xe9, 0xff, 0x00]);
    expect(latin1(b, 0, 3)).toBe('get');
    expect(latin1(b, 4, 8)).toBe('q\xe9\xff\x00');
    expect(latin1(b, 3, 3)).toBe('');
  });

  it('hands back the same string for the same bytes anywhere', () => {
    const first = latin1(Buffer.from('xx pipelined7 '), 3, 13);
    const again = latin1(Buffer.from('pipelined7'), 0, 10);
    expect(first).toBe('pipelined7');
    expect(again).toBe(first);
  });

  it('is exact when many different tokens share slots', () => {
    const words = Array.from({ length: 5000 }, (_, i) => `k${i}`);
    for (let round = 0; round < 2; round++) {
      for (const w of words) expect(latin1(Buffer.from(`<${w}>`, 'latin1'), 1, w.length + 1)).toBe(w);
    }
    // Same length, same hash slot or not: never another token's string.
    expect(latin1(Buffer.from('k1'), 0, 2)).toBe('k1');
    expect(latin1(Buffer.from('k2'), 0, 2)).toBe('k2');
  });

  it('decodes runs longer than any key', () => {
    const long = 'z'.repeat(300);
    expect(latin1(Buffer.from(long), 0, 300)).toBe(long);
  });
});

describe('copyBytes', () => {
  it('copies short and long ranges to any offset', () => {
    for (const n of [0, 1, 5, 127, 128, 129, 1000]) {
      const src = Buffer.alloc(n + 6);
      for (let i = 0; i < src.length; i++) src[i] = (i * 7) & 0xff;
      const dst = Buffer.alloc(n + 10, 0xee);
      copyBytes(src, 3, 3 + n, dst, 4);
      expect(dst.subarray(4, 4 + n).equals(src.subarray(3, 3 + n)), `n=${n}`).toBe(true);
      expect(dst.subarray(0, 4).every((c) => c === 0xee) && dst.subarray(4 + n).every((c) => c === 0xee)).toBe(true);
    }
  });
});
