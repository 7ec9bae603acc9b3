// The head window of one queue: its next ready items, in id order, held in memory within a
// per-queue cap and a memory budget shared by all queues.
import { Deque } from './deque.js';
import { packRecord } from './recordPacking.js';
import { type Item } from './store/layout.js';

/** Window sizing: refill below LOW_WATER items, read REFILL_ITEMS at a time, cap per queue. */
export const LOW_WATER = 256;
const REFILL_ITEMS = 1024;
const WINDOW_MAX_ITEMS = 4096;
const WINDOW_MAX_BYTES = 4 * 1024 * 1024;

/** Memory for head windows, shared by all queues so many queues cannot add up without bound. */
export class MemoryBudget {
  used = 0;
  constructor(readonly limit: number) {}
}

export class HeadWindow {
  private readonly items = new Deque<Item>();
  private heldBytes = 0;

  constructor(private readonly budget: MemoryBudget) {}

  get length(): number {
    return this.items.length;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  peek(): Item | undefined {
    return this.items.peek();
  }

  /** Removes and returns the head item (there must be one). */
  shift(): Item {
    const item = this.items.shift()!;
    this.release(item);
    return item;
  }

  /** Adds an item after the others (its id is above theirs). */
  push(item: Item): void {
    this.items.push(item);
    this.hold(item);
  }

  /** Puts a returned item back where its id belongs. */
  insertInOrder(item: Item): void {
    this.items.insertBefore(item, (other) => other.id > item.id);
    this.hold(item);
  }

  /** Removes `item` if it is in the window; false if not. */
  remove(item: Item): boolean {
    if (this.indexOf(item.id) < 0 || !this.items.remove(item)) return false;
    this.release(item);
    return true;
  }

  has(id: number): boolean {
    return this.indexOf(id) >= 0;
  }

  /** True when `item` fits within this queue's cap and the shared budget. */
  hasRoom(item: Item): boolean {
    return (
      this.items.length < WINDOW_MAX_ITEMS &&
      this.heldBytes + item.data.length <= WINDOW_MAX_BYTES &&
      this.budget.used + item.data.length <= this.budget.limit
    );
  }

  /**
   * How many items the next refill reads: within this queue's cap and what the shared budget
   * has left, at the queue's mean item size — at least one.
   */
  refillCount(storedItems: number, storedBytes: number): number {
    const room = Math.min(WINDOW_MAX_BYTES - this.heldBytes, this.budget.limit - this.budget.used);
    const itemBytes = Math.max(1, storedBytes / Math.max(1, storedItems));
    return Math.max(1, Math.min(REFILL_ITEMS, Math.floor(room / itemBytes)));
  }

  clear(): void {
    this.budget.used -= this.heldBytes;
    this.items.clear();
    this.heldBytes = 0;
  }

  /**
   * Packs the records of up to `max` items (recordPacking.ts), from the oldest; how many it
   * looked at. Items packed before cost a lookup each.
   */
  pack(max: number): number {
    const n = Math.min(this.items.length, max);
    for (let i = 0; i < n; i++) packRecord(this.items.at(i)!);
    return n;
  }

  /** Where item `id` is in the window (which is in id order), or -1. */
  private indexOf(id: number): number {
    let lo = 0;
    let hi = this.items.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = this.items.at(mid)!.id;
      if (at === id) return mid;
      if (at < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private hold(item: Item): void {
    this.heldBytes += item.data.length;
    this.budget.used += item.data.length;
  }

  private release(item: Item): void {
    this.heldBytes -= item.data.length;
    this.budget.used -= item.data.length;
  }
}
