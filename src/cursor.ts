// A durable cursor `q.c`: reads queue q from its own position without removing items.
// Aborted and open reads live in the cursor's persistent retry list and are served first.
import { Deque } from './deque.js';
import { isExpired } from './expiry.js';
import { type Queue } from './queue.js';
import { type ReadSource } from './source.js';
import { type Item, cursorKey, recordOf, retryKey, prefixRange, retryPrefix } from './store/layout.js';
import { type BatchOp, type Store } from './store/store.js';
import { type SourceOptions, StoredSource } from './storedSource.js';
import { type TakeMode } from './waiters.js';

/** Items one read-ahead of a cursor holds: a cursor far behind never pulls the queue in. */
const READ_AHEAD = 256;

export interface CursorState {
  position: number;
  /** Retry entries (aborted or open at the last stop), in id order. */
  retries: Item[];
}

export function encodeCursor(position: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleBE(position, 0);
  return b;
}

export function decodeCursor(b: Buffer): number {
  return b.readDoubleBE(0);
}

export class Cursor extends StoredSource implements ReadSource {
  /** Next queue item id this cursor reads. */
  private position: number;
  /** Items to serve before new ones: aborted, timed-out, or open at the last stop. */
  private readonly retries = new Deque<Item>();
  /** Items read ahead from the store, ids ≥ position. */
  private ahead: Item[] = [];

  /** Without `options`, the cursor keeps its queue's clock and log. */
  constructor(
    readonly queue: Queue,
    readonly name: string,
    store: Store,
    state?: CursorState,
    options: SourceOptions = {},
  ) {
    super(store, queue.name, name, {
      clock: options.clock ?? queue.clock,
      log: options.log ?? queue.log,
    });
    this.position = state?.position ?? queue.headId();
    for (const item of state?.retries ?? []) this.retries.push(item);
    if (!state) store.touch(this);
  }

  get config() {
    return this.queue.config;
  }

  /** Items this cursor has still to read (approximate when ids have gaps). */
  get items(): number {
    const from = Math.max(this.position, this.queue.headId());
    const ahead = Math.min(this.queue.items + this.queue.openCount, Math.max(0, this.queue.appendedNext - from));
    return ahead + this.retries.length;
  }

  sealBatch(ops: BatchOp[]): void {
    if (!this.deleted) ops.push({ type: 'put', key: this.recordKey(), value: encodeCursor(this.position) });
  }

  batchDone(): void {}

  protected recordKey(): Buffer {
    return cursorKey(this.queue.name, this.name);
  }

  // ---- reading ------------------------------------------------------------------------------

  take(mode: TakeMode): Item | null | Promise<void> {
    const now = this.clock.now();
    const retry = this.retries.peek();
    if (retry) {
      if (mode !== 'peek') this.retries.shift();
      if (mode === 'open') this.holdOpen(retry);
      else if (mode === 'remove') this.store.del(retryKey(this.queue.name, this.name, retry.id));
      return retry;
    }
    const head = this.queue.headId();
    if (this.position < head) this.moveTo(head); // plain gets removed what it had not read yet
    for (;;) {
      const item = this.ahead[0];
      if (!item) break;
      if (item.id < this.position || !this.queue.holds(item.id) || isExpired(item, now)) {
        this.ahead.shift();
        continue;
      }
      if (mode !== 'peek') this.advance(item, mode);
      return item;
    }
    if (this.position < this.queue.committedNext) return this.load();
    // Items appended but still on their way to LevelDB: read them once they are applied.
    if (this.position < this.queue.appendedNext) return this.store.applied();
    return null;
  }

  /** Moves past `item`, and for an open read records it in the retry list on disk. */
  private advance(item: Item, mode: TakeMode): void {
    if (this.ahead[0] === item) this.ahead.shift();
    this.moveTo(item.id + 1);
    if (mode === 'open') {
      this.holdOpen(item);
      this.store.put(retryKey(this.queue.name, this.name, item.id), recordOf(item), this);
    }
  }

  private moveTo(position: number): void {
    this.position = position;
    this.store.touch(this);
  }

  private load(): Promise<void> {
    const pending = this.pendingLoad;
    if (pending) return pending;
    const to = this.queue.committedNext;
    return this.loadItems(this.position, to, READ_AHEAD, (items) => {
      // A damaged record is never served (the queue reports it when its head reaches it).
      const good = items.filter((item) => !item.damaged);
      if (good.length > 0) this.ahead = good;
      else this.moveTo(items.length > 0 ? items[items.length - 1]!.id + 1 : Math.max(this.position, to));
    });
  }

  /** A new item was written to the queue: hand it to a waiter if this cursor is caught up. */
  appended(item: Item): void {
    if (this.waiterCount === 0 || this.retries.length > 0 || this.ahead.length > 0) return;
    if (item.id < this.position) return;
    this.offer(item, false);
  }

  private offer(item: Item, fromRetry: boolean): boolean {
    for (let waiter = this.waiters.shift(); waiter; waiter = this.waiters.shift()) {
      if (waiter.mode !== 'peek') {
        if (fromRetry) {
          if (waiter.mode === 'open') this.holdOpen(item);
          else this.store.del(retryKey(this.queue.name, this.name, item.id));
        } else {
          this.advance(item, waiter.mode);
        }
      }
      waiter.deliver(item);
      if (waiter.mode !== 'peek') return true;
    }
    return false;
  }

  // ---- open items ---------------------------------------------------------------------------

  confirm(item: Item): boolean {
    if (!this.isOpen(item)) return false;
    this.forgetOpen(item.id);
    this.store.del(retryKey(this.queue.name, this.name, item.id), this);
    return true;
  }

  release(item: Item): boolean {
    if (!this.isOpen(item)) return false;
    this.forgetOpen(item.id);
    if (this.offer(item, true)) return true;
    this.retries.insertBefore(item, (other) => other.id > item.id);
    return true;
  }

  // ---- flush --------------------------------------------------------------------------------

  /** Rewinds to the queue's head and drops the retry list (its range too, unless `clear` is false). */
  flush(clear = true): Promise<void> {
    this.dropLoads();
    this.ahead = [];
    this.retries.clear();
    this.forgetAllOpen();
    this.moveTo(this.queue.headId());
    if (!clear) return Promise.resolve();
    return this.store.clearRange(prefixRange(retryPrefix(this.queue.name, this.name)));
  }

  /** Lets go of the store iterator if this cursor has not read from disk for `ms`. */
  closeIdleReader(ms: number): void {
    this.closeReaderIfIdle(ms);
  }
}
