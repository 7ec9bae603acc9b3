// The registry of queues, and everything that spans queues: fanout sets, flush_all, stats.
import { type FsyncMode, type ServerQueueConfig, queueConfigFor } from './config.js';
import { type QueueRef, type Reply, type SetCommand, serverError, tooLarge } from './protocol/command.js';
import { HeapTrimmer } from './memory.js';
import { Cursor, type CursorState, decodeCursor } from './cursor.js';
import { MemoryBudget, Queue } from './queue.js';
import { type ReadSource } from './source.js';
import {
  CURSOR_PREFIX,
  ITEM_PREFIX,
  RECORD_HEADER,
  RETRY_PREFIX,
  type Item,
  type QueueMeta,
  STATUS_KEY,
  decodeRecord,
  namesFromCursorKey,
  namesFromRetryKey,
  itemPrefix,
  prefixRange,
  writeRecordHeader,
} from './store/layout.js';
import { type Store } from './store/store.js';
import { type Logger } from 'pino';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { VERSION } from './version.js';

export type ServerStatus = 'UP' | 'READONLY' | 'QUIESCENT';
const STATUSES: readonly ServerStatus[] = ['UP', 'READONLY', 'QUIESCENT'];

/** Server-wide counters (docs/protocol.md#statistics). */
export interface ServerCounters {
  currConnections: number;
  totalConnections: number;
  cmdGet: number;
  cmdSet: number;
  cmdPeek: number;
  bytesRead: number;
  bytesWritten: number;
  queueCreates: number;
  queueDeletes: number;
  queueExpires: number;
}

/** exptime below this is relative seconds; at or above it, absolute Unix seconds (Kestrel). */
const RELATIVE_EXPTIME_LIMIT = 1_000_000;

const SWEEP_INTERVAL_MS = 1000;
/** Queues flush_all empties in one turn of the event loop. */
const FLUSH_SLICE = 500;
/** A queue's or cursor's store iterator unused this long is closed. */
const IDLE_READER_MS = 5000;
/** The same, and its consumed range compacted, for a queue that has just drained a backlog. */
const DRAINED_READER_MS = 900;
/** Queues whose on-disk size estimate one sweep refreshes. */
const SIZES_PER_SWEEP = 64;
/** Queues whose head, only on disk, one sweep reads to find expired items. */
const DISK_EXPIRY_CHECKS = 64;
/** Queues one turn of the sweep looks at before letting other work in. */
const SWEEP_SLICE = 1000;

const STORED: Reply = { kind: 'stored' };
const NOT_STORED: Reply = { kind: 'not_stored' };

export interface ManagerOptions {
  log?: Logger;
  fsync: FsyncMode;
  queueConfig: ServerQueueConfig;
  /** Bytes all head windows together may hold. */
  windowMemory: number;
}

export class QueueManager {
  readonly queues = new Map<string, Queue>();
  readonly counters: ServerCounters = {
    currConnections: 0,
    totalConnections: 0,
    cmdGet: 0,
    cmdSet: 0,
    cmdPeek: 0,
    bytesRead: 0,
    bytesWritten: 0,
    queueCreates: 0,
    queueDeletes: 0,
    queueExpires: 0,
  };
  readonly startTime = Date.now();
  /** Counts of deleted queues, so the totals in stats never go down (they are counters). */
  private readonly retired = { totalItems: 0, getHits: 0, getMisses: 0, damaged: 0 };
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  /** Where the next sweep resumes refreshing size estimates, and reading heads for expiry. */
  private sizeCursor = 0;
  private expiryCursor = 0;
  private lastWritten: Promise<void> | undefined;
  private lastStoredReply: Promise<Reply> | undefined;
  private fsyncTimer: NodeJS.Timeout | undefined;
  status: ServerStatus = 'UP';
  private readonly budget: MemoryBudget;
  /** Gives the native heap's free pages back to the system after bursts (src/memory.ts). */
  private readonly heapTrimmer = new HeapTrimmer();

  private constructor(
    readonly store: Store,
    private options: ManagerOptions,
  ) {
    this.budget = new MemoryBudget(options.windowMemory);
  }

  /** Opens every queue recorded in the store; reads one meta record and one key per queue. */
  static async open(store: Store, options: ManagerOptions): Promise<QueueManager> {
    const manager = new QueueManager(store, options);
    const metas = await store.loadQueueMetas();
    for (const [name, meta] of metas) {
      // The recorded head is a lower bound of the first item: the first read seeks from it.
      // (Seeking each queue's first item here cost one LevelDB read per queue: 12 s and more
      // with 100,000 queues.)
      if (meta.items === 0) meta.headId = meta.nextId;
      manager.queues.set(name, manager.makeQueue(name, meta));
    }
    await manager.loadCursors();
    const status = await store.getValue(STATUS_KEY);
    const text = status?.toString('latin1') as ServerStatus | undefined;
    if (text && STATUSES.includes(text)) manager.status = text;
    manager.sweeper = setInterval(() => void manager.sweep(), SWEEP_INTERVAL_MS);
    manager.sweeper.unref();
    manager.scheduleFsync();
    return manager;
  }

  /** `fsync <ms>` (server-wide or any queue's): sync LevelDB's log at the shortest interval. */
  private scheduleFsync(): void {
    clearInterval(this.fsyncTimer);
    this.fsyncTimer = undefined;
    const intervals = [this.options.fsync, this.options.queueConfig.defaults.fsync];
    for (const q of this.options.queueConfig.queues.values()) intervals.push(q.fsync);
    const ms = Math.min(...intervals.filter((f): f is number => typeof f === 'number'));
    this.store.setPeriodicSync(Number.isFinite(ms));
    if (!Number.isFinite(ms)) return;
    this.fsyncTimer = setInterval(() => void this.store.sync().catch(() => undefined), ms);
    this.fsyncTimer.unref();
  }

  /**
   * Every second: drop expired items from queue heads, reclaim consumed ranges, and refresh
   * the on-disk size estimate of a bounded number of queues (round robin), so the sweep stays
   * cheap with thousands of queues. Sweeps never overlap.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const queues = [...this.queues.values()];
      const n = queues.length;
      for (let i = 0; i < n; i++) {
        if (i > 0 && i % SWEEP_SLICE === 0) await nextTurn();
        const queue = queues[i]!;
        if (queue.deleted) continue;
        // Heads only on disk are read for expiry DISK_EXPIRY_CHECKS queues per sweep, in turn:
        // reading every queue's head each second would load 100,000 heads into memory.
        const diskTurn = (i - this.expiryCursor + n) % n < DISK_EXPIRY_CHECKS;
        if (this.store.writable && queue.hasExpiringHead(diskTurn)) await queue.removeExpired(false);
        // An idle iterator pins a LevelDB snapshot (old files, memory): let it go.
        queue.housekeep(IDLE_READER_MS, DRAINED_READER_MS);
        for (const cursor of queue.cursors.values()) cursor.closeIdleReader(IDLE_READER_MS);
      }
      const count = Math.min(queues.length, SIZES_PER_SWEEP);
      for (let i = 0; i < count; i++) {
        const queue = queues[(this.sizeCursor + i) % queues.length]!;
        if (queue.deleted) continue;
        // LevelDB's estimate counts only table files; recent writes are still in its log.
        const estimate = await this.store.approximateSize(prefixRange(itemPrefix(queue.name)));
        queue.logSize = Math.max(estimate, queue.storedSize());
      }
      this.sizeCursor = queues.length ? (this.sizeCursor + count) % queues.length : 0;
      this.expiryCursor = n ? (this.expiryCursor + DISK_EXPIRY_CHECKS) % n : 0;
      const c = this.counters;
      this.heapTrimmer.onSweep(c.cmdGet + c.cmdSet + c.cmdPeek);
    } catch {
      // a closing store: the next sweep (if any) tries again
    } finally {
      this.sweeping = false;
    }
  }

  async flushExpired(name: string): Promise<number> {
    const queue = this.queues.get(name);
    return queue ? queue.removeExpired(true) : 0;
  }

  async flushAllExpired(): Promise<number> {
    let total = 0;
    for (const queue of [...this.queues.values()]) total += await queue.removeExpired(true);
    return total;
  }

  /** Cursor positions and retry lists: one record per cursor and per retry entry. */
  private async loadCursors(): Promise<void> {
    const states = new Map<string, Map<string, CursorState>>();
    const stateOf = (queue: string, cursor: string): CursorState => {
      let byCursor = states.get(queue);
      if (!byCursor) states.set(queue, (byCursor = new Map()));
      let state = byCursor.get(cursor);
      if (!state) byCursor.set(cursor, (state = { position: 0, retries: [] }));
      return state;
    };
    for (const [key, value] of await this.store.readRange(prefixRange(CURSOR_PREFIX))) {
      const [queue, cursor] = namesFromCursorKey(key);
      stateOf(queue, cursor).position = decodeCursor(value);
    }
    for (const [key, value] of await this.store.readRange(prefixRange(RETRY_PREFIX))) {
      const [queue, cursor, id] = namesFromRetryKey(key);
      const item = decodeRecord(id, value);
      if (!item.damaged) stateOf(queue, cursor).retries.push(item);
    }
    for (const [queueName, byCursor] of states) {
      const queue = this.queue(queueName);
      for (const [name, state] of byCursor) queue.cursors.set(name, new Cursor(queue, name, this.store, state));
    }
  }

  private makeQueue(name: string, meta?: QueueMeta): Queue {
    const config = queueConfigFor(this.options.queueConfig, name);
    return new Queue(name, config, this.store, this.budget, this.expireSink, this.onDamaged, meta);
  }

  /** A stored item failed its checksum: it is dropped (never served) and reported. */
  private readonly onDamaged = (queue: Queue, id: number): void => {
    this.options.log?.error({ queue: queue.name, id }, 'damaged item record dropped (checksum mismatch)');
  };

  /** expire_to_queue: an expired item moves to the configured queue with no expiry of its own. */
  private readonly expireSink = (from: Queue, item: Item): void => {
    this.counters.queueExpires++;
    const target = from.config.expireToQueue;
    if (!target || target === from.name) return;
    const record = Buffer.allocUnsafe(RECORD_HEADER + item.data.length);
    item.data.copy(record, RECORD_HEADER);
    const now = Date.now();
    writeRecordHeader(record, item.flags, now, 0);
    this.queue(target).append(record, item.flags, now, 0);
  };

  /** The named queue, created if it does not exist yet. */
  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = this.makeQueue(name);
      this.queues.set(name, queue);
      this.counters.queueCreates++;
    }
    return queue;
  }

  /** The cursor `name` of `queue`, created (at the queue's head) if it does not exist yet. */
  cursor(queue: Queue, name: string): Cursor {
    let cursor = queue.cursors.get(name);
    if (!cursor) {
      cursor = new Cursor(queue, name, this.store);
      queue.cursors.set(name, cursor);
    }
    return cursor;
  }

  /** What `q` or `q.c` reads from. */
  source(ref: QueueRef): ReadSource {
    const queue = this.queue(ref.queue);
    return ref.cursor === undefined ? queue : this.cursor(queue, ref.cursor);
  }

  get queueConfig(): ServerQueueConfig {
    return this.options.queueConfig;
  }

  /** Applies a new configuration to live queues. */
  reconfigure(queueConfig: ServerQueueConfig): void {
    this.options = { ...this.options, queueConfig };
    for (const queue of this.queues.values()) queue.config = queueConfigFor(queueConfig, queue.name);
    this.scheduleFsync();
  }

  // ---- commands -----------------------------------------------------------------------------

  /** Stores one copy of the item in every named queue, in one batch; all or none. */
  set(cmd: SetCommand, retried = false): Reply | Promise<Reply> {
    if (!retried) this.counters.cmdSet++;
    if (this.status !== 'UP') return NOT_STORED;
    const size = cmd.record.length - RECORD_HEADER;
    const queues = cmd.queues.map((name) => this.queue(name));
    for (const queue of queues) {
      if (size > queue.config.maxItemSize) return tooLarge();
      if (!queue.config.discardOldWhenFull && queue.isFull()) return NOT_STORED;
    }
    // discard_old_when_full drops the oldest items, which may have to be read in first.
    const loading = queues.filter((q) => q.needsLoadToDiscard());
    if (loading.length > 0) return Promise.all(loading.map((q) => q.loadHead())).then(() => this.set(cmd, true));
    const now = Date.now();
    let sync = this.options.fsync === 'always';
    let shared: { record: Buffer; expiry: number } | undefined;
    for (const queue of queues) {
      const expiry = expiryFor(cmd.exptime, now, queue.config.maxAge);
      // Fanout copies share one record unless a queue's max_age gives its copy another expiry.
      let record = cmd.record;
      if (shared && shared.expiry !== expiry) record = Buffer.from(cmd.record);
      writeRecordHeader(record, cmd.flags, now, expiry);
      shared ??= { record, expiry };
      queue.append(record, cmd.flags, now, expiry);
      if (queue.config.fsync === 'always') sync = true;
    }
    if (sync) this.store.requireSync();
    return this.storedReply();
  }

  /** `STORED` once the batch holding the writes so far is written: one promise per batch. */
  private storedReply(): Promise<Reply> {
    const written = this.store.written();
    if (written !== this.lastWritten) {
      this.lastWritten = written;
      this.lastStoredReply = written.then(
        () => STORED,
        () => serverError('store failed before the item was kept'),
      );
    }
    return this.lastStoredReply!;
  }

  async deleteQueue(name: string): Promise<boolean> {
    const queue = this.queues.get(name);
    if (!queue) return false;
    this.queues.delete(name);
    this.counters.queueDeletes++;
    const r = this.retired;
    r.totalItems += queue.counters.totalItems;
    r.getHits += queue.counters.getHits;
    r.getMisses += queue.counters.getMisses;
    r.damaged += queue.counters.damaged;
    const cursors = [...queue.cursors.values()];
    queue.cursors.clear();
    await Promise.all([queue.destroy(), ...cursors.map((c) => c.destroy())]);
    return true;
  }

  async deleteCursor(queueName: string, name: string): Promise<boolean> {
    const queue = this.queues.get(queueName);
    const cursor = queue?.cursors.get(name);
    if (!queue || !cursor) return false;
    queue.cursors.delete(name);
    await cursor.destroy();
    return true;
  }

  /** `flush q` empties the queue (cursors continue from the new head); `flush q.c` rewinds c. */
  async flush(ref: QueueRef): Promise<void> {
    const queue = this.queue(ref.queue);
    if (ref.cursor !== undefined) return this.cursor(queue, ref.cursor).flush();
    // Retry entries are copies of the queue's items: they go too, cursors restart at the head.
    await Promise.all([queue.flush(), ...[...queue.cursors.values()].map((c) => c.flush())]);
  }

  /**
   * Empties every queue and rewinds every cursor, FLUSH_SLICE queues per turn of the event loop,
   * then deletes all items and retry entries with two range deletes (not one per queue).
   */
  async flushAll(): Promise<void> {
    const queues = [...this.queues.values()];
    for (let i = 0; i < queues.length; i += FLUSH_SLICE) {
      if (i > 0) await nextTurn();
      for (const q of queues.slice(i, i + FLUSH_SLICE)) {
        if (q.deleted) continue;
        void q.flush(false);
        for (const c of q.cursors.values()) void c.flush(false);
      }
    }
    const ranges = [prefixRange(ITEM_PREFIX), prefixRange(RETRY_PREFIX)];
    await Promise.all(ranges.map((r) => this.store.clearRange(r)));
    // Then let LevelDB drop the cleared data and its files now rather than some day.
    for (const r of ranges) void this.store.compactNow(r.gte, r.lt).catch(() => undefined);
  }

  async setStatus(status: string): Promise<boolean> {
    const upper = status.toUpperCase() as ServerStatus;
    if (!STATUSES.includes(upper)) return false;
    this.status = upper;
    this.store.put(STATUS_KEY, Buffer.from(upper, 'latin1'));
    await this.store.written();
    return true;
  }

  // ---- stats --------------------------------------------------------------------------------

  /** Totals over the live queues and those deleted (so they never go down), and store health. */
  totals(): { items: number; bytes: number; totalItems: number; getHits: number; getMisses: number; damaged: number } {
    let items = 0;
    let bytes = 0;
    let { totalItems, getHits, getMisses, damaged } = this.retired;
    for (const q of this.queues.values()) {
      items += q.items;
      bytes += q.bytes;
      totalItems += q.counters.totalItems;
      getHits += q.counters.getHits;
      getMisses += q.counters.getMisses;
      damaged += q.counters.damaged;
    }
    return { items, bytes, totalItems, getHits, getMisses, damaged };
  }

  /** Server-level lines others add (connection limits): set by the server. */
  extraStats: () => Array<[string, string]> = () => [];

  /** Writes what is pending and closes the store. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    clearInterval(this.fsyncTimer);
    for (const q of this.queues.values()) {
      q.cancelWaiters();
      for (const c of q.cursors.values()) c.cancelWaiters();
    }
    await this.store.close();
  }
}

/** ms since epoch when an item set now with `exptime` expires (0 = never), capped by maxAge. */
export function expiryFor(exptime: number, now: number, maxAge: number | null): number {
  let expiry = 0;
  if (exptime !== 0) expiry = exptime < RELATIVE_EXPTIME_LIMIT ? now + exptime * 1000 : exptime * 1000;
  if (maxAge !== null && (expiry === 0 || expiry > now + maxAge)) expiry = now + maxAge;
  return expiry;
}
