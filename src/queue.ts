// One FIFO: an in-memory head window over the items in the store, waiters, open items.
import { type QueueConfig } from './config.js';
import { Deque } from './deque.js';
import { RECORD_HEADER, type Item, type QueueMeta, encodeMeta, itemKey, itemPrefix, metaKey, prefixRange } from './store/layout.js';
import { type BatchOp, type BatchParticipant, type ItemReader, type Store } from './store/store.js';
import { type Cursor } from './cursor.js';
import { type ReadSource, type TakeMode, type Waiter } from './source.js';

export type { TakeMode, Waiter } from './source.js';

/** Memory for head windows, shared by all queues so many queues cannot add up without bound. */
export class MemoryBudget {
  used = 0;
  constructor(readonly limit: number) {}
}

/** Window sizing: refill below LOW_WATER items, read REFILL_ITEMS at a time, cap per queue. */
const LOW_WATER = 256;
const REFILL_ITEMS = 1024;
const WINDOW_MAX_ITEMS = 4096;
const WINDOW_MAX_BYTES = 4 * 1024 * 1024;
/** A drained queue is compacted early once it has consumed this much since the last time. */
const DRAINED_COMPACT_BYTES = 16 * 1024 * 1024;
/** Consumed items between physical deletes of the range below the durable head. */
const RECLAIM_EVERY = 4096;

export interface QueueCounters {
  totalItems: number;
  expiredItems: number;
  discarded: number;
  transactions: number;
  canceledTransactions: number;
  totalFlushes: number;
  /** ms the last fetched item waited in the queue. */
  age: number;
  getHits: number;
  getMisses: number;
  /** Records found damaged (checksum) and dropped. */
  damaged: number;
}

/** Where expired items go instead of being dropped (expire_to_queue). */
export type ExpireSink = (from: Queue, item: Item) => void;

export class Queue implements BatchParticipant, ReadSource {
  readonly counters: QueueCounters = {
    totalItems: 0,
    expiredItems: 0,
    discarded: 0,
    transactions: 0,
    canceledTransactions: 0,
    totalFlushes: 0,
    age: 0,
    getHits: 0,
    getMisses: 0,
    damaged: 0,
  };
  /** Set when the queue is deleted: it then writes nothing more. */
  deleted = false;
  /** Bytes the queue's items take on disk, as LevelDB estimates them (refreshed by the sweep). */
  logSize = 0;
  /** Durable cursors reading this queue, by name. */
  readonly cursors = new Map<string, Cursor>();

  private readonly window = new Deque<Item>();
  private windowBytes = 0;
  /** Ids below this are in the window, open, or consumed; the rest are only in the store. */
  private loadedUpTo: number;
  /** Ids below this are applied to LevelDB (or failed to be): loads read only below it. */
  private committedNextId: number;
  private nextId: number;
  /** Items and bytes in the store, open ones included, uncommitted ones included. */
  private storedItems: number;
  private storedBytes: number;
  private readonly open = new Map<number, Item>();
  private openBytes = 0;
  /** Items appended since the last batch was sealed, then one group per sealed batch. */
  private appended: Item[] = [];
  private readonly sealedGroups: Array<{ items: Item[]; headId: number; nextId: number }> = [];
  /** The head recorded in the last written meta: every id below it is consumed for good. */
  private durableHead: number;
  /** Ids below this are physically deleted from the store. */
  private reclaimedUpTo = 0;
  /** The physical delete in flight, if any. */
  private reclaiming: Promise<void> | null = null;
  private readonly waiters = new Deque<Waiter>();
  private loading: Promise<void> | null = null;
  /** Bumped by flush/delete: reads started before are discarded. */
  private generation = 0;
  /** Items (and their bytes) consumed since the last compaction, and when the last one was. */
  private consumedSinceCompact = 0;
  private consumedBytesSinceCompact = 0;
  private lastConsumed = 0;
  private compacting = false;
  private readonly key: Buffer;
  private readonly reader: ItemReader;

  constructor(
    readonly name: string,
    public config: QueueConfig,
    private readonly store: Store,
    private readonly budget: MemoryBudget,
    private readonly expireSink: ExpireSink,
    private readonly onDamaged: (queue: Queue, id: number) => void,
    meta?: QueueMeta,
  ) {
    this.key = metaKey(name);
    this.reader = store.itemReader(name);
    // A new queue's ids start at the clock (µs-scale), so a queue deleted and created again never
    // reuses ids that a background delete of its predecessor may still be removing.
    this.nextId = meta?.nextId ?? Date.now() * 1000;
    this.committedNextId = this.nextId;
    this.loadedUpTo = meta?.headId ?? this.nextId;
    this.durableHead = this.loadedUpTo;
    this.storedItems = meta?.items ?? 0;
    this.storedBytes = meta?.bytes ?? 0;
    this.counters.totalItems = meta?.totalItems ?? 0;
    if (!meta) store.touch(this); // a new queue is recorded even before its first item
  }

  // ---- state --------------------------------------------------------------------------------

  /** Items ready to be read (not open). */
  get items(): number {
    return this.storedItems - this.open.size;
  }

  get bytes(): number {
    return this.storedBytes - this.openBytes;
  }

  /** Ids below this are applied to LevelDB. */
  get committedNext(): number {
    return this.committedNextId;
  }

  /** Ids below this have been appended (some may still be on their way to the store). */
  get appendedNext(): number {
    return this.nextId;
  }

  /** No item with a lower id exists any more. */
  headId(): number {
    let headId = this.loadedUpTo;
    const first = this.window.peek();
    if (first && first.id < headId) headId = first.id;
    for (const id of this.open.keys()) if (id < headId) headId = id;
    return headId;
  }

  /** ms since epoch when the oldest ready item in memory was added; undefined when none is. */
  oldestAddTime(): number | undefined {
    return this.window.peek()?.addTime;
  }

  get memItems(): number {
    return this.window.length;
  }

  get memBytes(): number {
    return this.windowBytes;
  }

  get waiterCount(): number {
    return this.waiters.length;
  }

  get openCount(): number {
    return this.open.size;
  }

  /** Full: it already holds max_items items or max_size bytes (docs/protocol.md#queue-limits-expiry-and-configuration). */
  isFull(): boolean {
    return this.storedItems >= this.config.maxItems || this.storedBytes >= this.config.maxSize;
  }

  // ---- writing ------------------------------------------------------------------------------

  /**
   * Appends an item whose record (header filled in) is `record`, to be written in the current
   * batch. Readers see it at once: a pipelined get need not wait for the disk, and the session
   * still answers STORED only once the batch is logged (an item may thus be delivered before
   * its producer hears STORED; after a crash in between, it is at-least-once, never lost).
   * Drops the oldest items first if the queue is full and configured to.
   */
  append(record: Buffer, flags: number, addTime: number, expiry: number): void {
    const data = record.subarray(RECORD_HEADER);
    if (this.config.discardOldWhenFull) this.discardOldest();
    const item: Item = { id: this.nextId++, flags, addTime, expiry, data };
    this.storedItems++;
    this.storedBytes += data.length;
    this.counters.totalItems++;
    this.appended.push(item);
    this.store.put(itemKey(this.name, item.id), record, this);
    for (const cursor of this.cursors.values()) cursor.appended(item);
    if (this.loadedUpTo !== item.id) return; // older items are still on disk: it waits its turn
    if (this.waiters.length === 0 && !this.windowHasRoom(item)) return; // read back later
    // Counted as loaded before a waiter takes it, so no read-ahead fetches it again.
    this.loadedUpTo++;
    if (!this.offer(item)) this.addToWindow(item);
  }

  /** Drops the oldest ready items until the queue is no longer full (discard_old_when_full). */
  private discardOldest(): void {
    // Stops at an empty window: either the oldest are not in memory yet (the set waited for
    // them, see needsLoadToDiscard) or only open items are left (the set goes over the limit).
    for (let item = this.window.peek(); item && this.isFull(); item = this.window.peek()) {
      this.removeFromWindow();
      this.counters.discarded++;
      this.consume(item);
    }
  }

  /**
   * True when discard_old_when_full must drop items that are not in memory yet: the set first
   * waits for loadHead() so it drops the oldest ones, not newer ones.
   */
  needsLoadToDiscard(): boolean {
    return this.config.discardOldWhenFull && this.isFull() && this.window.length === 0 && this.loadedUpTo < this.nextId;
  }

  /** Brings the next items into the window: reads them, or first waits for their write. */
  loadHead(): Promise<void> {
    return this.loadedUpTo < this.committedNextId ? this.load() : this.store.applied();
  }

  sealBatch(ops: BatchOp[]): void {
    const meta = this.meta();
    this.sealedGroups.push({ items: this.appended, headId: meta.headId, nextId: this.nextId });
    this.appended = [];
    if (!this.deleted) ops.push({ type: 'put', key: this.key, value: encodeMeta(meta) });
  }

  batchDone(err: Error | undefined): void {
    const group = this.sealedGroups.shift();
    if (!group) return;
    // Failed or not, ids below the group's end are settled: loads may read up to there.
    if (group.nextId > this.committedNextId) this.committedNextId = group.nextId;
    if (err) {
      for (const item of group.items) this.unwrite(item);
      return;
    }
    if (group.headId > this.durableHead) {
      this.durableHead = group.headId;
      if (this.durableHead - this.reclaimedUpTo >= RECLAIM_EVERY) this.reclaim();
    }
  }

  /**
   * An item whose write failed (its producer hears SERVER_ERROR): withdrawn if no reader has
   * it yet; one already delivered stays delivered.
   */
  private unwrite(item: Item): void {
    const inWindow = item.id < this.loadedUpTo && this.windowIndex(item.id) >= 0;
    if (item.id < this.loadedUpTo && !inWindow) return; // taken by a reader
    if (inWindow) {
      this.window.remove(item);
      this.windowBytes -= item.data.length;
      this.budget.used -= item.data.length;
    }
    this.storedItems--;
    this.storedBytes -= item.data.length;
  }

  private meta(): QueueMeta {
    return {
      nextId: this.nextId,
      headId: this.headId(),
      items: this.storedItems,
      bytes: this.storedBytes,
      totalItems: this.counters.totalItems,
    };
  }

  // ---- reading ------------------------------------------------------------------------------

  /**
   * Takes the head item: removed (consumed), held open, or peeked. Null when the queue is
   * empty; a promise when the head must first be read from the store — then take again.
   */
  take(mode: TakeMode): Item | null | Promise<void> {
    const now = Date.now();
    for (;;) {
      const item = this.window.peek();
      if (item) {
        if (isExpired(item, now)) {
          this.removeFromWindow();
          this.expire(item);
          continue;
        }
        if (mode !== 'peek') this.removeFromWindow();
        this.taken(item, mode, now);
        return item;
      }
      if (this.loadedUpTo < this.committedNextId) return this.load();
      // Items appended while the window was full are still being written: wait for them.
      if (this.loadedUpTo < this.nextId) return this.store.applied();
      this.counters.getMisses++;
      return null;
    }
  }

  private taken(item: Item, mode: TakeMode, now: number): void {
    this.counters.getHits++;
    if (mode === 'peek') return;
    this.counters.age = now - item.addTime;
    if (mode === 'open') {
      this.open.set(item.id, item);
      this.openBytes += item.data.length;
      this.counters.transactions++;
    } else {
      this.consume(item);
    }
    if (this.window.length < LOW_WATER && this.loadedUpTo < this.committedNextId && !this.loading) {
      this.load().catch(() => undefined); // read ahead; a failure shows on the next take
    }
  }

  private removeFromWindow(): void {
    const item = this.window.shift()!;
    this.windowBytes -= item.data.length;
    this.budget.used -= item.data.length;
  }

  private windowHasRoom(item: Item): boolean {
    return (
      this.window.length < WINDOW_MAX_ITEMS &&
      this.windowBytes + item.data.length <= WINDOW_MAX_BYTES &&
      this.budget.used + item.data.length <= this.budget.limit
    );
  }

  private addToWindow(item: Item): void {
    this.window.push(item);
    this.windowBytes += item.data.length;
    this.budget.used += item.data.length;
  }

  /** Reads the next items after the window from the store. */
  private load(): Promise<void> {
    if (this.loading) return this.loading;
    const generation = this.generation;
    const from = this.loadedUpTo;
    const to = this.committedNextId;
    if (from >= to) return Promise.resolve();
    // While this read is out, loadedUpTo cannot move (new items have ids ≥ to), so the window
    // stays in id order. It reads within this queue's window cap and what the shared budget
    // has left (at least one item).
    const room = Math.min(WINDOW_MAX_BYTES - this.windowBytes, this.budget.limit - this.budget.used);
    const itemBytes = Math.max(1, this.storedBytes / Math.max(1, this.storedItems));
    const count = Math.max(1, Math.min(REFILL_ITEMS, Math.floor(room / itemBytes)));
    const loading = this.reader
      .read(from, to, count)
      .then((items) => {
        if (generation !== this.generation) return;
        for (const item of items) {
          if (item.damaged) this.dropDamaged(item);
          else this.addToWindow(item);
        }
        this.loadedUpTo = items.length === 0 ? to : items[items.length - 1]!.id + 1;
      })
      .finally(() => {
        this.loading = null;
      });
    this.loading = loading;
    return loading;
  }

  /** A record whose checksum failed: reported, counted, deleted; the items after it are served. */
  private dropDamaged(item: Item): void {
    this.counters.damaged++;
    this.onDamaged(this, item.id);
    this.consume(item);
  }

  /**
   * Deletes an item for good (read, closed, expired, discarded). An item below the head needs
   * no delete of its own: the head recorded in the queue's meta (written in the same batch)
   * says it is gone, and reclaim() removes the range later, off the request path. Only an item
   * consumed above an older open item is deleted by key.
   */
  consume(item: Item): void {
    this.consumedSinceCompact++;
    this.consumedBytesSinceCompact += item.data.length;
    this.lastConsumed = Date.now();
    this.storedItems--;
    this.storedBytes -= item.data.length;
    if (item.id < this.headId()) this.store.touch(this);
    else this.store.del(itemKey(this.name, item.id), this);
  }

  /**
   * Housekeeping from the sweep: reclaims the consumed range; releases the store iterator once
   * unused for `idleMs`; and once nothing has been consumed for `idleMs` either, compacts the
   * consumed range (never while busy: a manual compaction stalls LevelDB's writers). A queue
   * that has just drained a backlog of at least DRAINED_COMPACT_BYTES does both after
   * `drainedMs` already: its iterator has nothing left to read, and the compaction deletes the
   * table files of the backlog, which LevelDB keeps memory-mapped (resident) until then. (Not
   * for small bursts: every manual compaction also writes out LevelDB's memtable.)
   */
  housekeep(idleMs: number, drainedMs: number): void {
    // Nothing consumed since start: nothing to reclaim or compact (with 100,000 idle queues this
    // must cost next to nothing: no LevelDB call, no promise).
    if (this.lastConsumed === 0) {
      this.reader.closeIfIdle(idleMs);
      return;
    }
    // A delete already in flight may stop short of the head: then one more covers the rest.
    const reclaimed = this.reclaim().then(() => this.reclaim());
    const drained =
      this.storedItems === 0 && this.loadedUpTo >= this.committedNextId && this.consumedBytesSinceCompact >= DRAINED_COMPACT_BYTES;
    const quietMs = drained ? drainedMs : idleMs;
    const readerIdle = this.reader.closeIfIdle(quietMs);
    if (readerIdle && this.consumedSinceCompact > 0 && Date.now() - this.lastConsumed > quietMs) this.compact(reclaimed);
  }

  /** Physically deletes the consumed range below the durable head, off the request path. */
  reclaim(): Promise<void> {
    if (this.reclaiming) return this.reclaiming;
    if (this.deleted || this.durableHead <= this.reclaimedUpTo) return Promise.resolve();
    const from = this.reclaimedUpTo;
    const to = this.durableHead;
    // Not ordered with writes: no id below the durable head is ever written again.
    this.reclaiming = this.store
      .clearNow({ gte: itemKey(this.name, from), lt: itemKey(this.name, to) })
      .then(() => {
        this.reclaimedUpTo = Math.max(this.reclaimedUpTo, to);
      })
      .catch(() => undefined) // a closing store; the next reclaim covers the range
      .finally(() => (this.reclaiming = null));
    return this.reclaiming;
  }

  /** True when the head item in memory has expired, or items wait on disk (which may have). */
  /**
   * True when the head item in memory has expired, or (with `onDisk`) items wait on disk, which
   * may have: the sweep reads those heads for only a few queues at a time.
   */
  hasExpiringHead(onDisk: boolean): boolean {
    const head = this.window.peek();
    return head ? isExpired(head, Date.now()) : onDisk && this.loadedUpTo < this.committedNextId;
  }

  /**
   * Removes expired items from the head; returns how many. With `readStore`, reads on from the
   * store until an unexpired head is found (flush_expired); otherwise only looks at memory.
   */
  async removeExpired(readStore: boolean): Promise<number> {
    let count = 0;
    const now = Date.now();
    for (;;) {
      const item = this.window.peek();
      if (!item) {
        if (this.loadedUpTo >= this.committedNextId) return count;
        if (!readStore) {
          if (!this.loading) this.load().catch(() => undefined); // the next sweep sees them
          return count;
        }
        await this.load();
        continue;
      }
      if (!isExpired(item, now)) return count;
      this.removeFromWindow();
      this.expire(item);
      count++;
    }
  }

  private expire(item: Item): void {
    this.counters.expiredItems++;
    this.expireSink(this, item);
    this.consume(item);
  }

  // ---- open items ---------------------------------------------------------------------------

  /** Confirms an open item: deleted for good. False when it is no longer open (flushed). */
  confirm(item: Item): boolean {
    if (!this.closeOpen(item)) return false;
    this.consume(item);
    return true;
  }

  /** Returns an open item to the head, in id order, or straight to a waiter. */
  release(item: Item): boolean {
    if (!this.closeOpen(item)) return false;
    this.counters.canceledTransactions++;
    if (isExpired(item, Date.now())) {
      this.expire(item);
      return true;
    }
    if (this.offer(item)) return true;
    this.window.insertBefore(item, (other) => other.id > item.id);
    this.windowBytes += item.data.length;
    this.budget.used += item.data.length;
    return true;
  }

  /** Bytes the stored items take as records (payload, header, key), open ones included. */
  storedSize(): number {
    return this.storedBytes + this.storedItems * (RECORD_HEADER + this.key.length + 8);
  }

  /** True while item `id` is still in the queue (ready, open, or not yet read from disk). */
  holds(id: number): boolean {
    if (id >= this.loadedUpTo) return id < this.nextId;
    return this.open.has(id) || this.windowIndex(id) >= 0;
  }

  /** Where item `id` is in the window (which is in id order), or -1. */
  private windowIndex(id: number): number {
    let lo = 0;
    let hi = this.window.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = this.window.at(mid)!.id;
      if (at === id) return mid;
      if (at < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  isOpen(item: Item): boolean {
    return this.open.get(item.id) === item;
  }

  private closeOpen(item: Item): boolean {
    if (!this.isOpen(item)) return false;
    this.open.delete(item.id);
    this.openBytes -= item.data.length;
    return true;
  }

  // ---- waiting ------------------------------------------------------------------------------

  addWaiter(waiter: Waiter): void {
    this.waiters.push(waiter);
  }

  removeWaiter(waiter: Waiter): void {
    this.waiters.remove(waiter);
  }

  /** Hands a newly available item to the oldest waiters: peekers see it, one taker takes it. */
  private offer(item: Item): boolean {
    const now = Date.now();
    if (this.waiters.length === 0) return false;
    if (isExpired(item, now)) {
      this.expire(item);
      return true;
    }
    for (let waiter = this.waiters.shift(); waiter; waiter = this.waiters.shift()) {
      this.taken(item, waiter.mode, now);
      waiter.deliver(item);
      if (waiter.mode !== 'peek') return true;
    }
    return false;
  }

  // ---- flush and delete ---------------------------------------------------------------------

  /**
   * Removes every item, open ones included; resolves when the store has dropped them. With
   * `clear` false the caller deletes the items' range itself (flush_all clears all queues at once).
   */
  flush(clear = true): Promise<void> {
    this.generation++;
    this.counters.totalFlushes++;
    this.budget.used -= this.windowBytes;
    this.window.clear();
    this.windowBytes = 0;
    this.open.clear();
    this.openBytes = 0;
    this.appended = [];
    for (const group of this.sealedGroups) group.items = [];
    this.storedItems = 0;
    this.storedBytes = 0;
    this.loadedUpTo = this.nextId;
    this.reclaimedUpTo = this.nextId; // the clear below removes everything
    if (!clear) {
      this.store.touch(this);
      return Promise.resolve();
    }
    const range = prefixRange(itemPrefix(this.name));
    const done = this.store.clearRange(range);
    this.store.touch(this);
    // Then let LevelDB drop the cleared data and its files now rather than some day.
    void done.then(() => this.store.compactNow(range.gte, range.lt)).catch(() => undefined);
    return done;
  }

  /** Wakes every waiter with nothing (the queue is going away or the server stops). */
  cancelWaiters(): void {
    for (let waiter = this.waiters.shift(); waiter; waiter = this.waiters.shift()) waiter.deliver(null);
  }

  /**
   * Compacts the reclaimed range once `reclaimed` (the physical delete up to the head) is done,
   * so LevelDB drops the tombstones and the table files of what was consumed.
   */
  private compact(reclaimed: Promise<void>): void {
    if (this.compacting || this.deleted) return;
    this.consumedSinceCompact = 0;
    this.consumedBytesSinceCompact = 0;
    this.compacting = true;
    const range = prefixRange(itemPrefix(this.name));
    reclaimed
      .then(() => this.store.compactNow(range.gte, itemKey(this.name, this.reclaimedUpTo)))
      .catch(() => undefined)
      .finally(() => (this.compacting = false));
  }

  /** Drops the queue: items, meta; its cursors are the manager's to drop. */
  destroy(): Promise<void> {
    this.deleted = true;
    void this.reader.close();
    this.cancelWaiters();
    this.store.del(this.key);
    return this.flush();
  }
}

export function isExpired(item: Item, now: number): boolean {
  return item.expiry !== 0 && item.expiry <= now;
}
