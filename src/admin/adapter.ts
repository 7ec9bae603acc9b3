// The one place the admin surface meets the server: builds an AdminSource from the live
// SiberiteServer, read-only. Values the server does not expose yet (connections by state,
// per-command counts, a queue's oldest item and removal count) are read through optional
// members with a safe default, so the core can add them without touching the admin code.
import { cursorStats, queueStats } from '../stats.js';
import { type Queue } from '../queue.js';
import { type SiberiteServer } from '../server.js';
import { VERSION } from '../version.js';
import { type AdminSource, type CursorSnapshot, type GlobalSnapshot, type QueueSnapshot, type StoreHealth } from './source.js';

/** What the server may expose about its connections. */
interface OptionalServerCounts {
  connectionStates?(): Record<string, number>;
}

/** What the manager may count beyond today's counters. */
interface OptionalCommandCounts {
  /** Every command by name (today only get/set/peek are counted). */
  readonly commandCounts?: Readonly<Record<string, number>>;
}

/** What a queue may expose beyond today's getters. */
interface OptionalQueueValues {
  /** ms since epoch when the oldest ready item was added; undefined when empty. */
  oldestAddTime?(): number | undefined;
  /** Items consumed for good by readers. */
  readonly removedItems?: number;
}

/** Builds the admin view of `server`, once its store is open and recovered. */
export function adminSourceFrom(server: SiberiteServer): AdminSource {
  const manager = server.manager;
  const counts = server as SiberiteServer & OptionalServerCounts;

  function storeHealth(): StoreHealth {
    const health = manager.store.health();
    // Recovery runs before the server exists: an attached source is always past it.
    return {
      writable: health.writable,
      ready: true,
      fault: health.fault?.code ?? null,
      errors: { ...health.errors },
      walBytes: health.walBytes,
    };
  }

  return {
    exportDb: () => manager.store.snapshotSource(),
    global(): GlobalSnapshot {
      const c = manager.counters;
      // The server's limits and refusals, as its `stats` lines say them.
      const extraStats = manager.extraStats();
      const extra = new Map(extraStats);
      const maxConnections = Number(extra.get('max_connections') ?? 0);
      const commands = (manager as typeof manager & OptionalCommandCounts).commandCounts ?? {
        get: c.cmdGet,
        set: c.cmdSet,
        peek: c.cmdPeek,
      };
      return {
        version: VERSION,
        pid: process.pid,
        uptimeSeconds: Math.floor((Date.now() - manager.startTime) / 1000),
        status: manager.status,
        connections: c.currConnections,
        connectionStates: counts.connectionStates?.(),
        totalConnections: c.totalConnections,
        connectionsRefused: Number(extra.get('rejected_connections') ?? 0),
        connectionsMax: Number.isFinite(maxConnections) && maxConnections > 0 ? maxConnections : null,
        commands: { ...commands },
        bytesRead: c.bytesRead,
        bytesWritten: c.bytesWritten,
        queueCreates: c.queueCreates,
        queueDeletes: c.queueDeletes,
        queueExpires: c.queueExpires,
        queueCount: manager.queues.size,
        store: storeHealth(),
        extraStats,
      };
    },
    *queues(): Iterable<QueueSnapshot> {
      const now = Date.now();
      // A live Map iterator: entries deleted meanwhile are skipped, so slicing is safe.
      for (const queue of manager.queues.values()) {
        if (!queue.deleted) yield new QueueView(queue, now);
      }
    },
  };
}

/** One queue's values, read once; stats() on the prototype, so 100,000 of them allocate little. */
class QueueView implements QueueSnapshot {
  readonly name: string;
  readonly items: number;
  readonly bytes: number;
  readonly oldestItemAgeSeconds: number | null;
  readonly openTransactions: number;
  readonly waiters: number;
  readonly added: number;
  readonly removed: number;
  readonly expired: number;
  readonly discarded: number;
  readonly damaged: number;
  readonly getHits: number;
  readonly getMisses: number;
  readonly cursors: CursorSnapshot[];

  constructor(
    private readonly queue: Queue & OptionalQueueValues,
    now: number,
  ) {
    const c = queue.counters;
    this.name = queue.name;
    this.items = queue.items;
    this.bytes = queue.bytes;
    this.openTransactions = queue.openCount;
    // Until the queue counts removals itself: what was added and is neither here nor expired
    // nor discarded was read (or flushed). Each term moves with the others: it stays monotonic.
    this.removed = queue.removedItems ?? Math.max(0, c.totalItems - this.items - this.openTransactions - c.expiredItems - c.discarded);
    const oldest = this.items > 0 ? queue.oldestAddTime?.() : undefined;
    this.oldestItemAgeSeconds = oldest === undefined ? null : Math.max(0, now - oldest) / 1000;
    this.added = c.totalItems;
    this.expired = c.expiredItems;
    this.discarded = c.discarded;
    this.damaged = c.damaged;
    this.getHits = c.getHits;
    this.getMisses = c.getMisses;
    let waiters = queue.waiterCount;
    this.cursors = [];
    for (const cursor of queue.cursors.values()) {
      waiters += cursor.waiterCount;
      this.cursors.push({ name: cursor.name, lag: cursor.items, openTransactions: cursor.openCount, stats: () => cursorStats(cursor) });
    }
    this.waiters = waiters;
  }

  stats(): Array<[string, string]> {
    return queueStats(this.queue);
  }
}
