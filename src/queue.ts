// One FIFO: what is done to a queue — appends, takes, loads from the store, expiry, open items
// and waiters, flush, the sweep's housekeeping. Its state and what can be read of it: queueState.ts.
import { type QueueConfig } from './config.js';
import { isExpired } from './expiry.js';
import { LOW_WATER, type MemoryBudget } from './headWindow.js';
import { PendingWrites } from './pendingWrites.js';
import { QueueState } from './queueState.js';
import { type ReclaimBatch } from './reclaimBatch.js';
import { type ReadSource } from './source.js';
import { RECORD_HEADER, type Item, type QueueMeta, encodeMeta, itemKey, itemPrefix, prefixRange } from './store/layout.js';
import { type BatchOp, type Store } from './store/store.js';
import { type SourceOptions } from './storedSource.js';
import { type TakeMode } from './waiters.js';

/** Where expired items go instead of being dropped (expire_to_queue). */
export type ExpireSink = (from: Queue, item: Item) => void;

const NOTHING_TO_RECLAIM: Promise<void> = Promise.resolve();

export class Queue extends QueueState implements ReadSource {
  /** Writes on their way to LevelDB; none (no object) while nothing is on its way. */
  private writes: PendingWrites | null = null;

  constructor(
    name: string,
    config: QueueConfig,
    store: Store,
    budget: MemoryBudget,
    private readonly expireSink: ExpireSink,
    private readonly onDamaged: (queue: Queue, id: number) => void,
    meta?: QueueMeta,
    options: SourceOptions = {},
  ) {
    super(name, config, store, budget, meta, options);
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
    this.totalItems++;
    (this.writes ??= new PendingWrites()).add(item);
    this.store.put(itemKey(this.name, item.id), record, this);
    for (const cursor of this.cursors.values()) cursor.appended(item);
    if (this.loadedUpTo !== item.id) return; // older items are still on disk: it waits its turn
    if (this.waiterCount === 0 && !this.window.hasRoom(item)) return; // read back later
    // Counted as loaded before a waiter takes it, so no read-ahead fetches it again.
    this.loadedUpTo++;
    if (!this.offer(item)) this.window.push(item);
  }

  /** Drops the oldest ready items until the queue is no longer full (discard_old_when_full). */
  private discardOldest(): void {
    // Stops at an empty window: either the oldest are not in memory yet (the set waited for
    // them, see needsLoadToDiscard) or only open items are left (the set goes over the limit).
    while (this.window.length > 0 && this.isFull()) {
      const item = this.window.shift();
      this.counts.discarded++;
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
    (this.writes ??= new PendingWrites()).seal(meta.headId, meta.nextId);
    if (!this.deleted) ops.push({ type: 'put', key: this.recordKey(), value: encodeMeta(meta) });
  }

  batchDone(err: Error | undefined): void {
    const group = this.writes?.done();
    if (this.writes?.idle) this.writes = null;
    if (!group) return;
    // Failed or not, ids below the group's end are settled: loads may read up to there.
    if (group.nextId > this.committedNextId) this.committedNextId = group.nextId;
    if (err) {
      for (const item of group.items) this.unwrite(item);
      return;
    }
    if (this.range || group.headId > this.openedHead) this.consumedRange.headWritten(group.headId);
  }

  /**
   * An item whose write failed (its producer hears SERVER_ERROR): withdrawn if no reader has
   * it yet; one already delivered stays delivered.
   */
  private unwrite(item: Item): void {
    const loaded = item.id < this.loadedUpTo;
    if (loaded && !this.window.remove(item)) return; // taken by a reader
    this.storedItems--;
    this.storedBytes -= item.data.length;
  }

  // ---- reading ------------------------------------------------------------------------------

  /**
   * Takes the head item: removed (consumed), held open, or peeked. Null when the queue is
   * empty; a promise when the head must first be read from the store — then take again.
   */
  take(mode: TakeMode): Item | null | Promise<void> {
    const now = this.clock.now();
    for (;;) {
      const item = this.window.peek();
      if (item) {
        if (isExpired(item, now)) {
          this.window.shift();
          this.expire(item);
          continue;
        }
        if (mode !== 'peek') this.window.shift();
        this.taken(item, mode, now);
        return item;
      }
      if (this.loadedUpTo < this.committedNextId) return this.load();
      // Items appended while the window was full are still being written: wait for them.
      if (this.loadedUpTo < this.nextId) return this.store.applied();
      this.counts.getMisses++;
      return null;
    }
  }

  private taken(item: Item, mode: TakeMode, now: number): void {
    this.counts.getHits++;
    if (mode === 'peek') return;
    this.counts.age = now - item.addTime;
    if (mode === 'open') {
      this.holdOpen(item);
      this.openBytes += item.data.length;
      this.counts.transactions++;
    } else {
      this.consume(item);
    }
    if (this.window.length < LOW_WATER && this.loadedUpTo < this.committedNextId && !this.pendingLoad) {
      this.load().catch(this.tolerate('read-ahead failed')); // a failure shows on the next take
    }
  }

  /** Reads the next items after the window from the store. */
  private load(): Promise<void> {
    const pending = this.pendingLoad;
    if (pending) return pending;
    const from = this.loadedUpTo;
    const to = this.committedNextId;
    if (from >= to) return Promise.resolve();
    // While this read is out, loadedUpTo cannot move (new items have ids ≥ to), so the window
    // stays in id order.
    const count = this.window.refillCount(this.storedItems, this.storedBytes);
    return this.loadItems(from, to, count, (items) => {
      for (const item of items) {
        if (item.damaged) this.dropDamaged(item);
        else this.window.push(item);
      }
      this.loadedUpTo = items.length === 0 ? to : items[items.length - 1]!.id + 1;
    });
  }

  /** A record whose checksum failed: reported, counted, deleted; the items after it are served. */
  private dropDamaged(item: Item): void {
    this.counts.damaged++;
    this.onDamaged(this, item.id);
    this.consume(item);
  }

  /**
   * Deletes an item for good (read, closed, expired, discarded). An item below the head needs
   * no delete of its own: the head recorded in the queue's meta (written in the same batch)
   * says it is gone, and the consumed range is reclaimed later, off the request path. Only an
   * item consumed above an older open item is deleted by key.
   */
  consume(item: Item): void {
    this.consumedRange.consumed(item.data.length);
    this.storedItems--;
    this.storedBytes -= item.data.length;
    if (item.id < this.headId()) this.store.touch(this);
    else this.store.del(itemKey(this.name, item.id), this);
  }

  // ---- expiry and housekeeping --------------------------------------------------------------

  /**
   * Housekeeping from the sweep: reclaims the consumed range (a short one in the sweep's shared
   * write `reclaims`); releases the store iterator once unused for `idleMs`; once nothing was
   * consumed for `idleMs` either, compacts the consumed range (compactIfQuiet says when). A
   * queue that has just drained a backlog does both after `drainedMs` already: the compaction
   * deletes the backlog's table files, which LevelDB keeps memory-mapped (resident) until then.
   * Resolves when the reclaim is done.
   */
  housekeep(idleMs: number, drainedMs: number, reclaims: ReclaimBatch): Promise<void> {
    // Nothing consumed since start: nothing to reclaim or compact (with 100,000 idle queues this
    // must cost next to nothing: no LevelDB call, no promise).
    if (!this.range || this.range.untouched) {
      this.closeReaderIfIdle(idleMs);
      return NOTHING_TO_RECLAIM;
    }
    const reclaimed = this.consumedRange.reclaimAll(reclaims);
    const drained = this.storedItems === 0 && this.loadedUpTo >= this.committedNextId && this.consumedRange.drainedBacklog;
    const quietMs = drained ? drainedMs : idleMs;
    if (this.closeReaderIfIdle(quietMs)) this.consumedRange.compactIfQuiet(reclaimed, quietMs);
    return reclaimed;
  }

  /** Packs the records of up to `max` items held in the window (sweep); how many it looked at. */
  packHeld(max: number): number {
    return this.window.pack(max);
  }

  /**
   * True when the head item in memory has expired, or (with `onDisk`) items wait on disk, which
   * may have: the sweep reads those heads for only a few queues at a time.
   */
  hasExpiringHead(onDisk: boolean): boolean {
    const head = this.window.peek();
    return head ? isExpired(head, this.clock.now()) : onDisk && this.loadedUpTo < this.committedNextId;
  }

  /**
   * Removes expired items from the head; returns how many. With `readStore`, reads on from the
   * store until an unexpired head is found (flush_expired); otherwise only looks at memory.
   */
  async removeExpired(readStore: boolean): Promise<number> {
    let count = 0;
    const now = this.clock.now();
    for (;;) {
      const item = this.window.peek();
      if (!item) {
        if (this.loadedUpTo >= this.committedNextId) return count;
        if (!readStore) {
          if (!this.pendingLoad) this.load().catch(this.tolerate('reading heads for expiry failed')); // the next sweep sees them
          return count;
        }
        await this.load();
        continue;
      }
      if (!isExpired(item, now)) return count;
      this.window.shift();
      this.expire(item);
      count++;
    }
  }

  private expire(item: Item): void {
    this.counts.expiredItems++;
    this.expireSink(this, item);
    this.consume(item);
  }

  // ---- open items and waiters ---------------------------------------------------------------

  /** Confirms an open item: deleted for good. False when it is no longer open (flushed). */
  confirm(item: Item): boolean {
    if (!this.closeOpen(item)) return false;
    this.consume(item);
    return true;
  }

  /** Returns an open item to the head, in id order, or straight to a waiter. */
  release(item: Item): boolean {
    if (!this.closeOpen(item)) return false;
    this.counts.canceledTransactions++;
    if (isExpired(item, this.clock.now())) {
      this.expire(item);
      return true;
    }
    if (!this.offer(item)) this.window.insertInOrder(item);
    return true;
  }

  private closeOpen(item: Item): boolean {
    if (!this.isOpen(item)) return false;
    this.forgetOpen(item.id);
    this.openBytes -= item.data.length;
    return true;
  }

  /** Hands a newly available item to the oldest waiters: peekers see it, one taker takes it. */
  private offer(item: Item): boolean {
    const now = this.clock.now();
    if (this.waiterCount === 0) return false;
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

  // ---- flush --------------------------------------------------------------------------------

  /**
   * Removes every item, open ones included; resolves when the store has dropped them. With
   * `clear` false the caller deletes the items' range itself (flush_all clears all queues at once).
   */
  flush(clear = true): Promise<void> {
    this.dropLoads();
    this.counts.totalFlushes++;
    this.window.clear();
    this.forgetAllOpen();
    this.openBytes = 0;
    this.writes?.forget();
    this.storedItems = 0;
    this.storedBytes = 0;
    this.loadedUpTo = this.nextId;
    this.consumedRange.flushed(this.nextId); // the clear below removes everything
    if (!clear) {
      this.store.touch(this);
      return Promise.resolve();
    }
    const range = prefixRange(itemPrefix(this.name));
    const done = this.store.clearRange(range);
    this.store.touch(this);
    // Then let LevelDB drop the cleared data and its files now rather than some day (that only
    // frees space sooner: a failed compaction costs nothing else).
    void done.then(
      () => this.store.compactNow(range.gte, range.lt).catch(this.tolerate('compacting a flushed queue failed')),
      () => undefined, // a failed clear: the caller hears of it through `done`
    );
    return done;
  }
}
