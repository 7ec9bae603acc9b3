// The short consumed ranges of many queues that one sweep reclaims, deleted key by key in one
// LevelDB write. A range delete per queue (an iterator and a write each) made the sweep cost
// 100,000 LevelDB calls a second with 100,000 queues in use: 16 % of the main thread's samples
// in the 100,000-queue flood (docs/benchmarks.md#why-100000-queues-are-slower-and-larger).
import { itemKey } from './store/layout.js';
import { type Store } from './store/store.js';

/** A consumed range longer than this is reclaimed with a range delete of its own. */
export const KEYWISE_RECLAIM_MAX = 64;
/** Keys one sweep deletes in its shared write; ranges past this wait for the next sweep. */
const SWEEP_KEYS_MAX = 65536;
/** Range deletes of what was consumed before the start that one sweep may begin. */
const LEFTOVER_CLEARS_PER_SWEEP = 64;

export class ReclaimBatch {
  private readonly keys: Buffer[] = [];
  private readonly written: Promise<boolean>;
  private settle!: (ok: boolean) => void;
  private sent = false;
  private leftoverClears = LEFTOVER_CLEARS_PER_SWEEP;

  constructor(private readonly store: Store) {
    this.written = new Promise((resolve) => (this.settle = resolve));
  }

  /**
   * Adds ids [from, to) of `queue` (at most KEYWISE_RECLAIM_MAX of them). Resolves true once
   * deleted, false if the write failed (the store logged why; the next sweep tries again); null
   * when this sweep's write is full or already sent.
   */
  add(queue: string, from: number, to: number): Promise<boolean> | null {
    if (this.sent || this.keys.length + (to - from) > SWEEP_KEYS_MAX) return null;
    for (let id = from; id < to; id++) this.keys.push(itemKey(queue, id));
    return this.written;
  }

  /** True (and counted) while this sweep may still begin a range delete of leftovers. */
  takeLeftoverTurn(): boolean {
    if (this.leftoverClears === 0) return false;
    this.leftoverClears--;
    return true;
  }

  /** Writes the gathered deletes: the end of the sweep. */
  send(): void {
    this.sent = true;
    if (this.keys.length === 0) return this.settle(true);
    this.store.deleteNow(this.keys).then(
      () => this.settle(true),
      () => this.settle(false),
    );
  }
}
