// The consumed range of one queue: ids below its durable head, gone for good. They are deleted
// physically off the request path (reclaim), then compacted once the queue is quiet, so LevelDB
// drops their tombstones and table files.
import { type Clock } from './clock.js';
import { KEYWISE_RECLAIM_MAX, type ReclaimBatch } from './reclaimBatch.js';
import { itemKey, itemPrefix, prefixRange } from './store/layout.js';
import { type Store } from './store/store.js';

/** A drained queue is compacted early once it has consumed this much since the last time. */
const DRAINED_COMPACT_BYTES = 16 * 1024 * 1024;
/** Consumed items between physical deletes of the range below the durable head. */
const RECLAIM_EVERY = 4096;
/**
 * A quiet queue's consumed range is compacted only once this much was consumed since the last
 * time: a manual compaction stalls LevelDB's writers, and the ranges of many queues merge into
 * one span (compaction.ts), so compacting every queue that consumed a few items rewrote the
 * whole key space again and again with 100,000 queues. Fewer tombstones than this are left to
 * LevelDB's own compactions.
 */
const COMPACT_MIN_ITEMS = 1024;
const COMPACT_MIN_BYTES = 1024 * 1024;
const DONE: Promise<void> = Promise.resolve();

export interface ConsumedRangeOwner {
  readonly name: string;
  readonly deleted: boolean;
  readonly clock: Clock;
  /** Logs a failure that is tolerated (see StoredSource.tolerate). */
  tolerate(what: string): (err: unknown) => void;
}

export class ConsumedRange {
  /** The head recorded in the last written meta: every id below it is consumed for good. */
  private durableHead: number;
  /** Ids below this are physically deleted from the store. */
  private reclaimedUpTo: number;
  /**
   * Ids below this were consumed before the server started. A crash may have left some in the
   * store (their reclaim had not run), so one range delete clears them, as the sweep has a turn
   * for it (ReclaimBatch): 100,000 queues must not each start with a range delete.
   */
  private leftoversBelow: number;
  /** The physical delete in flight, if any. */
  private reclaiming: Promise<void> | null = null;
  /** Items (and their bytes) consumed since the last compaction, and when the last one was. */
  private consumedSinceCompact = 0;
  private consumedBytesSinceCompact = 0;
  private lastConsumed = 0;
  private compacting = false;

  constructor(
    private readonly owner: ConsumedRangeOwner,
    private readonly store: Store,
    durableHead: number,
    /** The queue was opened from the store: a crash may have left items below `durableHead`. */
    restored: boolean,
  ) {
    this.durableHead = durableHead;
    this.reclaimedUpTo = durableHead;
    this.leftoversBelow = restored ? durableHead : 0;
  }

  /** Nothing consumed since start: nothing to reclaim or compact. */
  get untouched(): boolean {
    return this.lastConsumed === 0;
  }

  /** Enough consumed since the last compaction that a drained queue compacts early. */
  get drainedBacklog(): boolean {
    return this.consumedBytesSinceCompact >= DRAINED_COMPACT_BYTES;
  }

  consumed(bytes: number): void {
    this.consumedSinceCompact++;
    this.consumedBytesSinceCompact += bytes;
    this.lastConsumed = this.owner.clock.now();
  }

  /** A meta recording `headId` is in LevelDB: reclaims the range below it every so often. */
  headWritten(headId: number): void {
    if (headId <= this.durableHead) return;
    this.durableHead = headId;
    if (this.durableHead - this.reclaimedUpTo >= RECLAIM_EVERY) void this.reclaim();
  }

  /** A flush clears every id below `nextId` itself. */
  flushed(nextId: number): void {
    this.reclaimedUpTo = nextId;
    this.leftoversBelow = 0;
  }

  /**
   * Reclaims up to the durable head; resolves when done (a second delete covers what one in
   * flight missed). A short range goes into the sweep's shared `batch`.
   */
  reclaimAll(batch: ReclaimBatch): Promise<void> {
    if (this.leftoversBelow > 0 && !this.owner.deleted && batch.takeLeftoverTurn()) this.clearLeftovers();
    const first = this.reclaim(batch);
    return first === DONE ? DONE : first.then(() => this.reclaim());
  }

  /** Deletes what a crash may have left below the head the server started with. */
  private clearLeftovers(): void {
    const to = this.leftoversBelow;
    this.leftoversBelow = 0;
    const name = this.owner.name;
    void this.store.clearNow({ gte: itemKey(name, 0), lt: itemKey(name, to) }).catch((err: unknown) => {
      // The next sweep tries again (typically the store was closing).
      this.leftoversBelow = Math.max(this.leftoversBelow, to);
      this.owner.tolerate('reclaiming items consumed before the start failed')(err);
    });
  }

  /**
   * Compacts the reclaimed range once `reclaimed` is done, if something was consumed since the
   * last compaction and nothing for `quietMs` (a manual compaction stalls LevelDB's writers).
   */
  compactIfQuiet(reclaimed: Promise<void>, quietMs: number): void {
    if (this.consumedSinceCompact === 0 || this.owner.clock.now() - this.lastConsumed <= quietMs) return;
    if (this.consumedSinceCompact < COMPACT_MIN_ITEMS && this.consumedBytesSinceCompact < COMPACT_MIN_BYTES) return;
    if (this.compacting || this.owner.deleted) return;
    this.consumedSinceCompact = 0;
    this.consumedBytesSinceCompact = 0;
    this.compacting = true;
    const range = prefixRange(itemPrefix(this.owner.name));
    reclaimed
      .then(() => this.store.compactNow(range.gte, itemKey(this.owner.name, this.reclaimedUpTo)))
      // Compaction only frees space sooner; the next quiet sweep tries again.
      .catch(this.owner.tolerate('compacting the consumed range failed'))
      .finally(() => (this.compacting = false));
  }

  /**
   * Physically deletes the consumed range below the durable head, off the request path: key by
   * key in the sweep's `batch` when short, else with a range delete of its own.
   */
  private reclaim(batch?: ReclaimBatch): Promise<void> {
    if (this.reclaiming) return this.reclaiming;
    if (this.owner.deleted || this.durableHead <= this.reclaimedUpTo) return DONE;
    const from = this.reclaimedUpTo;
    const to = this.durableHead;
    const name = this.owner.name;
    const advance = () => {
      this.reclaimedUpTo = Math.max(this.reclaimedUpTo, to);
    };
    // Not ordered with writes: no id below the durable head is ever written again.
    let reclaiming: Promise<void>;
    if (batch && to - from <= KEYWISE_RECLAIM_MAX) {
      const written = batch.add(name, from, to);
      // The sweep's write is full: the next sweep reclaims the range.
      if (!written) return DONE;
      // A failed write was logged once by the store, not once per queue; the next sweep retries.
      reclaiming = written.then((ok) => (ok ? advance() : undefined));
    } else {
      reclaiming = this.store
        .clearNow({ gte: itemKey(name, from), lt: itemKey(name, to) })
        .then(advance)
        // The next reclaim covers the range (typically the store was closing).
        .catch(this.owner.tolerate('reclaiming the consumed range failed'));
    }
    this.reclaiming = reclaiming.finally(() => (this.reclaiming = null));
    return this.reclaiming;
  }
}
