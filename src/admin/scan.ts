// One sliced pass over every queue: totals, and the deepest queues with the rest summed, so
// per-queue output (metrics labels, dashboard charts) stays bounded however many queues exist.
import { type AdminSource, type QueueSnapshot } from './source.js';
import { TopK, forEachSliced } from './slices.js';

/**
 * Sums over a set of queues: each of a queue's numbers summed (the oldest age: the oldest of
 * theirs, null when none is known), how many queues, and their cursors' lag.
 */
export type QueueTotals = Omit<QueueSnapshot, 'name' | 'cursors' | 'stats'> & {
  queues: number;
  cursorLag: number;
};

export interface QueueScan {
  /** Every queue. */
  all: QueueTotals;
  /** The deepest queues (by items, then bytes, then name), deepest first. */
  top: QueueSnapshot[];
  /** The queues not in `top`, summed (queues = 0 when there are none). */
  rest: QueueTotals;
}

export function emptyTotals(): QueueTotals {
  return {
    queues: 0,
    items: 0,
    bytes: 0,
    openTransactions: 0,
    waiters: 0,
    added: 0,
    removed: 0,
    expired: 0,
    discarded: 0,
    damaged: 0,
    getHits: 0,
    getMisses: 0,
    oldestItemAgeSeconds: null,
    cursorLag: 0,
  };
}

export function addTo(t: QueueTotals, q: QueueSnapshot): void {
  t.queues++;
  t.items += q.items;
  t.bytes += q.bytes;
  t.openTransactions += q.openTransactions;
  t.waiters += q.waiters;
  t.added += q.added;
  t.removed += q.removed;
  t.expired += q.expired;
  t.discarded += q.discarded;
  t.damaged += q.damaged;
  t.getHits += q.getHits;
  t.getMisses += q.getMisses;
  if (q.oldestItemAgeSeconds !== null) t.oldestItemAgeSeconds = Math.max(t.oldestItemAgeSeconds ?? 0, q.oldestItemAgeSeconds);
  for (const c of q.cursors) t.cursorLag += c.lag;
}

/** Deeper first: items, then bytes; ties broken by name so the chosen set is stable. */
export function byDepth(a: QueueSnapshot, b: QueueSnapshot): number {
  return a.items - b.items || a.bytes - b.bytes || (a.name > b.name ? -1 : a.name < b.name ? 1 : 0);
}

/** Scans every queue of `source` in slices, keeping the `topN` deepest apart. */
export async function scanQueues(source: AdminSource, topN: number): Promise<QueueScan> {
  const all = emptyTotals();
  const rest = emptyTotals();
  const top = new TopK<QueueSnapshot>(topN, byDepth);
  await forEachSliced(source.queues(), (q) => {
    addTo(all, q);
    const out = top.offer(q);
    if (out) addTo(rest, out);
  });
  return { all, top: top.sorted(), rest };
}
