// The one place the admin surface meets the server: builds an AdminSource from the live
// SiberiteServer, read-only. Values the server does not expose yet (store health, refused
// connections, per-command counts, the oldest item's age) are read through optional members
// with a safe default, so the storage rework can add them without touching the admin code.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { cursorStats, queueStats } from '../manager.js';
import { type Queue } from '../queue.js';
import { type SiberiteServer } from '../server.js';
import { VERSION } from '../version.js';
import { type AdminSource, type CursorSnapshot, type GlobalSnapshot, type QueueSnapshot, type StoreHealth } from './source.js';

/** What the store may expose about its health (optional until the storage rework adds it). */
interface OptionalStoreHealth {
  /** False while failing closed. */
  readonly writable?: boolean;
  /** False while start-up recovery runs. */
  readonly ready?: boolean;
  /** I/O errors by kind since start. */
  readonly errorCounts?: Readonly<Record<string, number>>;
  /** Bytes in the write-ahead log. */
  readonly walBytes?: number;
}

/** What the server may expose about its connections. */
interface OptionalServerCounts {
  readonly connectionsRefused?: number;
  /** The connection limit, when one is set. */
  readonly maxConnections?: number;
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

/** Builds the admin view of `server`; `dataDir` locates the write-ahead log (`wal/`). */
export function adminSourceFrom(server: SiberiteServer, dataDir: string): AdminSource {
  const manager = server.manager;
  const store = manager.store as typeof manager.store & OptionalStoreHealth;
  const counts = server as SiberiteServer & OptionalServerCounts;
  const walDir = path.join(dataDir, 'wal');

  async function storeHealth(): Promise<StoreHealth> {
    return {
      writable: store.writable ?? true,
      ready: store.ready ?? true,
      errors: { ...(store.errorCounts ?? {}) },
      walBytes: store.walBytes ?? (await directoryBytes(walDir)),
    };
  }

  return {
    async global(): Promise<GlobalSnapshot> {
      const c = manager.counters;
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
        connectionsRefused: counts.connectionsRefused ?? 0,
        connectionsMax: counts.maxConnections ?? null,
        commands: { ...commands },
        bytesRead: c.bytesRead,
        bytesWritten: c.bytesWritten,
        queueCreates: c.queueCreates,
        queueDeletes: c.queueDeletes,
        queueExpires: c.queueExpires,
        queueCount: manager.queues.size,
        store: await storeHealth(),
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

/** Total size of the files in `dir` (0 when it does not exist: `-fsync always` keeps no log). */
async function directoryBytes(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let total = 0;
  for (const name of names) {
    try {
      total += (await stat(path.join(dir, name))).size;
    } catch {
      // a segment deleted meanwhile
    }
  }
  return total;
}
