// The registry of queues, and everything that spans queues: fanout sets, flush_all, counters.
import { pino, type Logger } from 'pino';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type Clock, systemClock } from './clock.js';
import { type SourceOptions } from './storedSource.js';
import { type FsyncMode, type ServerQueueConfig, queueConfigFor } from './config.js';
import { type QueueRef, type SetCommand } from './protocol/command.js';
import { Cursor } from './cursor.js';
import { loadCursorStates } from './cursorLoad.js';
import { Housekeeper } from './housekeeping.js';
import { type SetOutcome } from './outcomes.js';
import { MemoryBudget } from './headWindow.js';
import { Queue } from './queue.js';
import { type ServerStatus, STATUSES, parseStatus, statusDecision } from './readOnly.js';
import { type ReadSource } from './source.js';
import {
  ITEM_PREFIX,
  RECORD_HEADER,
  RETRY_PREFIX,
  type Item,
  type QueueMeta,
  STATUS_KEY,
  prefixRange,
  writeRecordHeader,
} from './store/layout.js';
import { type Store } from './store/store.js';

export type { ServerStatus } from './readOnly.js';

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

/** Counts of deleted queues, kept so the totals in stats never go down (they are counters). */
export interface RetiredCounters {
  totalItems: number;
  getHits: number;
  getMisses: number;
  damaged: number;
}

/** Adds a queue's counts (a snapshot: Queue.counters) into `into`. */
export function addCounts(into: RetiredCounters, c: Readonly<RetiredCounters>): void {
  into.totalItems += c.totalItems;
  into.getHits += c.getHits;
  into.getMisses += c.getMisses;
  into.damaged += c.damaged;
}

/** exptime below this is relative seconds; at or above it, absolute Unix seconds (Kestrel). */
const RELATIVE_EXPTIME_LIMIT = 1_000_000;

/** Queues flush_all empties in one turn of the event loop. */
const FLUSH_SLICE = 500;

export interface ManagerOptions {
  log?: Logger;
  fsync: FsyncMode;
  queueConfig: ServerQueueConfig;
  /** Bytes all head windows together may hold. */
  windowMemory: number;
  /** Time for item add times, expiry and uptime; systemClock unless a test drives it. */
  clock?: Clock;
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
  readonly retired: RetiredCounters = { totalItems: 0, getHits: 0, getMisses: 0, damaged: 0 };
  readonly clock: Clock;
  readonly startTime: number;
  status: ServerStatus = 'UP';
  /** Set by close(): failures after it are the expected shutdown, not worth a warning. */
  closing = false;
  private readonly log: Logger;
  private readonly housekeeper: Housekeeper;
  private readonly budget: MemoryBudget;

  private constructor(
    readonly store: Store,
    private options: ManagerOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.startTime = this.clock.now();
    this.log = (options.log ?? pino({ enabled: false })).child({ module: 'manager' });
    this.budget = new MemoryBudget(options.windowMemory);
    this.housekeeper = new Housekeeper(this, this.log);
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
    for (const [queueName, byCursor] of await loadCursorStates(store)) {
      const queue = manager.queue(queueName);
      for (const [name, state] of byCursor) queue.editCursors().set(name, new Cursor(queue, name, store, state));
    }
    const status = (await store.getValue(STATUS_KEY))?.toString('latin1') as ServerStatus | undefined;
    if (status && STATUSES.includes(status)) manager.status = status;
    manager.housekeeper.start();
    manager.housekeeper.scheduleFsync(options.fsync, options.queueConfig);
    return manager;
  }

  /** Requests served so far: how busy the server has been (the heap trimmer's measure). */
  requestsServed(): number {
    const c = this.counters;
    return c.cmdGet + c.cmdSet + c.cmdPeek;
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

  /** Time and logging for every queue (one object shared by all, as a cursor shares its queue's). */
  private get sourceOptions(): SourceOptions {
    return (this.sharedSourceOptions ??= { clock: this.clock, log: this.log });
  }
  private sharedSourceOptions: SourceOptions | undefined;

  private makeQueue(name: string, meta?: QueueMeta): Queue {
    const config = queueConfigFor(this.options.queueConfig, name);
    return new Queue(name, config, this.store, this.budget, this.expireSink, this.onDamaged, meta, this.sourceOptions);
  }

  /** A stored item failed its checksum: it is dropped (never served) and reported. */
  private readonly onDamaged = (queue: Queue, id: number): void => {
    this.log.error({ queue: queue.name, id }, 'damaged item record dropped (checksum mismatch)');
  };

  /** expire_to_queue: an expired item moves to the configured queue with no expiry of its own. */
  private readonly expireSink = (from: Queue, item: Item): void => {
    this.counters.queueExpires++;
    const target = from.config.expireToQueue;
    if (!target || target === from.name) return;
    const record = Buffer.allocUnsafe(RECORD_HEADER + item.data.length);
    item.data.copy(record, RECORD_HEADER);
    const now = this.clock.now();
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
      queue.editCursors().set(name, cursor);
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
    this.housekeeper.scheduleFsync(this.options.fsync, queueConfig);
  }

  // ---- commands -----------------------------------------------------------------------------

  /** Stores one copy of the item in every named queue, in one batch; all or none. */
  set(cmd: SetCommand, retried = false): SetOutcome | Promise<SetOutcome> {
    if (!retried) this.counters.cmdSet++;
    if (statusDecision(this.status, 'set') === 'refuse') return { kind: 'readOnly' };
    const size = cmd.record.length - RECORD_HEADER;
    const queues = cmd.queues.map((name) => this.queue(name));
    for (const queue of queues) {
      if (size > queue.config.maxItemSize) return { kind: 'tooLarge' };
      if (!queue.config.discardOldWhenFull && queue.isFull()) return { kind: 'full' };
    }
    // discard_old_when_full drops the oldest items, which may have to be read in first.
    const loading = queues.filter((q) => q.needsLoadToDiscard());
    if (loading.length > 0) return Promise.all(loading.map((q) => q.loadHead())).then(() => this.set(cmd, true));
    const now = this.clock.now();
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
    // One promise per store batch: every set of a batch is kept (or lost) together.
    return { kind: 'stored', durable: this.store.written() };
  }

  async deleteQueue(name: string): Promise<boolean> {
    const queue = this.queues.get(name);
    if (!queue) return false;
    this.queues.delete(name);
    this.counters.queueDeletes++;
    addCounts(this.retired, queue.counters);
    const cursors = [...queue.cursors.values()];
    queue.editCursors().clear();
    await Promise.all([queue.destroy(), ...cursors.map((c) => c.destroy())]);
    return true;
  }

  async deleteCursor(queueName: string, name: string): Promise<boolean> {
    const queue = this.queues.get(queueName);
    const cursor = queue?.cursors.get(name);
    if (!queue || !cursor) return false;
    queue.editCursors().delete(name);
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
    for (const r of ranges) {
      void this.store.compactNow(r.gte, r.lt).catch((err: unknown) => {
        if (!this.closing) this.log.warn({ err }, 'compaction after flush_all failed');
      });
    }
  }

  /** `status <new>`: false when `text` names no status. */
  async setStatus(text: string): Promise<boolean> {
    const status = parseStatus(text);
    if (!status) return false;
    this.status = status;
    this.store.put(STATUS_KEY, Buffer.from(status, 'latin1'));
    await this.store.written();
    return true;
  }

  /** Server-level stats lines others add (connection limits): set by the server. */
  extraStats: () => Array<[string, string]> = () => [];

  /** Writes what is pending and closes the store. */
  async close(): Promise<void> {
    this.closing = true;
    this.housekeeper.stop();
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
