// The Deque under queues' head windows: FIFO through every shape (empty, one element, many,
// compacted after many shifts), in-order insertion, removal; and empty deques share one array
// that nothing ever writes into.
import { describe, expect, it } from 'vitest';
import { Deque } from '../../src/deque.js';

const contents = <T>(d: Deque<T>): T[] => [...d];

describe('Deque', () => {
  it('is first in, first out from empty to one to many and back, any number of times', () => {
    const d = new Deque<number>();
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 3; round++) {
      expect(d.length).toBe(0);
      expect(d.shift()).toBeUndefined();
      d.push(next++);
      expect(d.peek()).toBe(expected);
      for (let i = 0; i < 2000; i++) d.push(next++);
      // Past the compaction point (1,024 shifted), order and length hold.
      for (let i = 0; i < 1500; i++) expect(d.shift()).toBe(expected++);
      expect(d.length).toBe(501);
      expect(d.at(0)).toBe(expected);
      while (d.length > 0) expect(d.shift()).toBe(expected++);
    }
  });

  it('inserts in order, at the front, in the middle and into an empty deque', () => {
    const d = new Deque<number>();
    d.insertBefore(5, (x) => x > 5);
    for (const x of [7, 9]) d.push(x);
    d.shift(); // 5 leaves: the front slot is free again
    d.insertBefore(3, (x) => x > 3);
    d.insertBefore(8, (x) => x > 8);
    d.insertBefore(10, (x) => x > 10);
    expect(contents(d)).toEqual([3, 7, 8, 9, 10]);
    expect(d.remove(8)).toBe(true);
    expect(d.remove(8)).toBe(false);
    expect(contents(d)).toEqual([3, 7, 9, 10]);
  });

  it('never writes into the array empty deques share', () => {
    const a = new Deque<string>();
    const b = new Deque<string>();
    a.insertBefore('x', () => false);
    a.push('y');
    const c = new Deque<string>();
    c.push('z');
    c.shift();
    c.clear();
    expect(contents(b)).toEqual([]);
    expect(b.length).toBe(0);
    expect(contents(new Deque<string>())).toEqual([]);
    expect(contents(a)).toEqual(['x', 'y']);
    expect(c.length).toBe(0);
  });
});
