// Work over every queue (100,000 of them, perhaps) in slices, giving the event loop back between
// slices so a scrape or a dashboard poll never stalls the queue port for long.
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Queues handled per turn of the event loop: a millisecond or two of work. */
export const SLICE = 1000;

/** Calls `each` for every item of `items`, yielding to the event loop every `slice` items. */
export async function forEachSliced<T>(items: Iterable<T>, each: (item: T) => void, slice = SLICE): Promise<void> {
  let n = 0;
  for (const item of items) {
    each(item);
    if (++n % slice === 0) await nextTurn();
  }
}

/**
 * Keeps the `limit` greatest items seen (by `compare`, ascending), in O(log limit) per item: a
 * bounded min-heap whose root is the smallest kept item, so memory stays O(limit).
 */
export class TopK<T> {
  private readonly heap: T[] = [];

  constructor(
    private readonly limit: number,
    private readonly compare: (a: T, b: T) => number,
  ) {}

  /** Offers an item; returns the item it pushed out (or `item` itself when not kept), if any. */
  offer(item: T): T | undefined {
    if (this.limit <= 0) return item;
    const heap = this.heap;
    if (heap.length < this.limit) {
      heap.push(item);
      this.up(heap.length - 1);
      return undefined;
    }
    if (this.compare(item, heap[0]!) <= 0) return item;
    const out = heap[0]!;
    heap[0] = item;
    this.down(0);
    return out;
  }

  get size(): number {
    return this.heap.length;
  }

  /** The kept items, greatest first. */
  sorted(): T[] {
    return [...this.heap].sort((a, b) => this.compare(b, a));
  }

  private up(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.compare(heap[i]!, heap[parent]!) >= 0) return;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < heap.length && this.compare(heap[l]!, heap[least]!) < 0) least = l;
      if (r < heap.length && this.compare(heap[r]!, heap[least]!) < 0) least = r;
      if (least === i) return;
      [heap[i], heap[least]] = [heap[least]!, heap[i]!];
      i = least;
    }
  }
}
