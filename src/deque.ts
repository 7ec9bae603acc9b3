// A FIFO with O(1) push/shift and in-order insertion near the front (returned items).

/**
 * The array of every empty deque. Never written to: the first push makes an array of one element
 * (an empty array grows to 16 slots at its first push, 128 bytes per deque of one item, and
 * 100,000 queues hold one item each).
 */
const EMPTY: never[] = [];

export class Deque<T> {
  private items: (T | undefined)[] = EMPTY;
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    if (this.items.length === 0) this.items = [item];
    else this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  at(index: number): T | undefined {
    return this.items[this.head + index];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = EMPTY;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Inserts before the first element for which `before(element)` is true (or at the end). */
  insertBefore(item: T, before: (element: T) => boolean): void {
    for (let i = this.head; i < this.items.length; i++) {
      if (before(this.items[i] as T)) {
        if (i === this.head && this.head > 0) this.items[--this.head] = item;
        else this.items.splice(i, 0, item);
        return;
      }
    }
    this.push(item);
  }

  /** Removes the first element equal to `item`; true if found. */
  remove(item: T): boolean {
    const i = this.items.indexOf(item, this.head);
    if (i < 0) return false;
    if (i === this.head) this.shift();
    else this.items.splice(i, 1);
    return true;
  }

  clear(): void {
    this.items = EMPTY;
    this.head = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}
