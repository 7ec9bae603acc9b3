// The consumed range of one queue: ids below its durable head, gone for good. They are deleted
// physically off the request path (reclaim), then compacted once the queue is quiet, so LevelDB
// drops their tombstones and table files.
import { type Clock } from './clock.js';
import { itemKey, itemPrefix, prefixRange } from './store/layout.js';
import { type Store } from './store/store.js';

/** A drained queue is compacted early once it has consumed this much since the last time. */
const DRAINED_COMPACT_BYTES = 16 * 1024 * 1024;
/** Consumed items between physical deletes of the range below the durable head. */
const RECLAIM_EVERY = 4096;

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
  private reclaimedUpTo = 0;
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
  ) {
    this.durableHead = durableHead;
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
  }

  /** Reclaims up to the durable head; resolves when done (a second delete covers what one in flight missed). */
  reclaimAll(): Promise<void> {
    return this.reclaim().then(() => this.reclaim());
  }

  /**
   * Compacts the reclaimed range once `reclaimed` is done, if something was consumed since the
   * last compaction and nothing for `quietMs` (a manual compaction stalls LevelDB's writers).
   */
  compactIfQuiet(reclaimed: Promise<void>, quietMs: number): void {
    if (this.consumedSinceCompact === 0 || this.owner.clock.now() - this.lastConsumed <= quietMs) return;
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

  /** Physically deletes the consumed range below the durable head, off the request path. */
  private reclaim(): Promise<void> {
    if (this.reclaiming) return this.reclaiming;
    if (this.owner.deleted || this.durableHead <= this.reclaimedUpTo) return Promise.resolve();
    const from = this.reclaimedUpTo;
    const to = this.durableHead;
    const name = this.owner.name;
    // Not ordered with writes: no id below the durable head is ever written again.
    this.reclaiming = this.store
      .clearNow({ gte: itemKey(name, from), lt: itemKey(name, to) })
      .then(() => {
        this.reclaimedUpTo = Math.max(this.reclaimedUpTo, to);
      })
      // The next reclaim covers the range (typically the store was closing).
      .catch(this.owner.tolerate('reclaiming the consumed range failed'))
      .finally(() => (this.reclaiming = null));
    return this.reclaiming;
  }
}
