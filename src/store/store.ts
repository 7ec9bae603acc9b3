// The only module that touches LevelDB: group commit, range clears, recovery reads.
import { ClassicLevel } from 'classic-level';
import {
  META_PREFIX,
  STATUS_KEY,
  type Item,
  type QueueMeta,
  decodeMeta,
  decodeRecord,
  idFromKey,
  itemKey,
  prefixRange,
  queueFromMetaKey,
} from './layout.js';

export type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/** Something whose writes ride in a batch and that learns when the batch is on disk. */
export interface BatchParticipant {
  /**
   * The batch holding this participant's writes is sealed: add its last ops (meta). Later
   * writes go to a later batch; batches are written, and batchDone called, in seal order.
   */
  sealBatch(ops: BatchOp[]): void;
  /** That batch is written (`err` undefined) or failed. */
  batchDone(err: Error | undefined): void;
}

interface RawBatch {
  _batch(ops: BatchOp[], options: { sync: boolean }): Promise<void>;
}

class PendingBatch {
  ops: BatchOp[] = [];
  participants = new Set<BatchParticipant>();
  sync = false;
  private promise: Promise<void> | undefined;
  private settle: ((err?: Error) => void) | undefined;

  get empty(): boolean {
    return this.ops.length === 0 && this.participants.size === 0;
  }

  /** Resolves when this batch is written. */
  written(): Promise<void> {
    if (!this.promise) {
      this.promise = new Promise<void>((resolve, reject) => {
        this.settle = (err) => (err ? reject(err) : resolve());
      });
    }
    return this.promise;
  }

  finish(err: Error | undefined): void {
    this.settle?.(err);
  }
}

export interface StoreOptions {
  /** Write every batch with fsync. */
  syncAlways: boolean;
  /** Caps one nextv() read, so a refill never holds more than this many bytes at once. */
  readBytes: number;
}

/** Writes from one turn of the event loop go to LevelDB as one batch; tasks run in order. */
export class Store {
  private pending = new PendingBatch();
  /** Tasks that must run in order with batches (range clears, compactions). */
  private tasks: Array<() => Promise<void>> = [];
  private running = false;
  private scheduled = false;
  private closed = false;
  /** Batches written since start (stats and tests). */
  batches = 0;

  private constructor(
    readonly db: ClassicLevel<Buffer, Buffer>,
    private readonly options: StoreOptions,
  ) {}

  static async open(location: string, options: StoreOptions): Promise<Store> {
    const db = new ClassicLevel<Buffer, Buffer>(location, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      createIfMissing: true,
      // Queues write once and read once: a small block cache is enough, and a small write
      // buffer keeps resident memory low.
      cacheSize: 2 * 1024 * 1024,
      writeBufferSize: 2 * 1024 * 1024,
      // LevelDB reads table files through mmap, and mapped pages count as resident memory:
      // few open tables of modest size bound that (an evicted table is unmapped).
      maxOpenFiles: 74, // LevelDB's minimum: 64 tables + 10 other files
      maxFileSize: 512 * 1024,
    });
    await db.open();
    return new Store(db, options);
  }

  put(key: Buffer, value: Buffer, participant?: BatchParticipant): void {
    this.pending.ops.push({ type: 'put', key, value });
    if (participant) this.pending.participants.add(participant);
    this.kick();
  }

  del(key: Buffer, participant?: BatchParticipant): void {
    this.pending.ops.push({ type: 'del', key });
    if (participant) this.pending.participants.add(participant);
    this.kick();
  }

  /** Adds `participant` to the next batch (to persist its meta) without an op of its own. */
  touch(participant: BatchParticipant): void {
    this.pending.participants.add(participant);
    this.kick();
  }

  /** Ask for the batch being gathered to be written with fsync. */
  requireSync(): void {
    this.pending.sync = true;
  }

  /** Resolves when every write made so far is in LevelDB (and fsynced if it asked to be). */
  written(): Promise<void> {
    if (this.pending.empty) return this.idle();
    return this.pending.written();
  }

  /** Deletes every key in [gte, lt) after the writes made so far, before any made later. */
  clearRange(range: { gte: Buffer; lt: Buffer }): Promise<void> {
    return this.runInOrder(() => this.db.clear(range));
  }

  /** Compacts [gte, lt) in order with writes: reclaims the tombstones a drained head leaves. */
  compactRange(gte: Buffer, lt: Buffer): Promise<void> {
    return this.runInOrder(() => this.db.compactRange(gte, lt));
  }

  /** Writes an empty synchronous batch: fsyncs LevelDB's log (periodic fsync). */
  sync(): Promise<void> {
    return this.runInOrder(() => this.db.batch([], { sync: true }));
  }

  private runInOrder(fn: () => Promise<void>): Promise<void> {
    this.sealPending();
    return new Promise<void>((resolve, reject) => {
      this.tasks.push(() => fn().then(resolve, (err) => (reject(err), undefined)));
      this.kick();
    });
  }

  private idle(): Promise<void> {
    if (!this.running && this.tasks.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.tasks.push(async () => resolve());
      this.kick();
    });
  }

  /** Turns the batch being gathered into a task, so later work is ordered after it. */
  private sealPending(): void {
    if (this.pending.empty) return;
    const batch = this.pending;
    this.pending = new PendingBatch();
    // Participants snapshot their state now, so it matches exactly the ops of this batch.
    for (const p of batch.participants) p.sealBatch(batch.ops);
    this.tasks.push(() => this.writeBatch(batch));
  }

  private kick(): void {
    if (this.running || this.scheduled || this.closed) return;
    this.scheduled = true;
    // One turn of the event loop gathers the writes of every connection into one batch.
    setImmediate(this.runNext);
  }

  private readonly runNext = (): void => {
    this.scheduled = false;
    if (this.running) return;
    if (this.tasks.length === 0) this.sealPending();
    const task = this.tasks.shift();
    if (!task) return;
    this.running = true;
    task().finally(() => {
      this.running = false;
      // Whatever gathered while the disk was busy goes out now as the next group.
      if (this.tasks.length > 0 || !this.pending.empty) this.runNext();
    });
  };

  private async writeBatch(batch: PendingBatch): Promise<void> {
    let error: Error | undefined;
    try {
      await this.writeOps(batch.ops, { sync: batch.sync || this.options.syncAlways });
      this.batches++;
    } catch (err) {
      error = err instanceof Error ? err : new Error(String(err));
    }
    for (const p of batch.participants) p.batchDone(error);
    batch.finish(error);
  }

  /**
   * Our ops are already encoded buffers: skip abstract-level's per-op cloning, validation and
   * encoding (a quarter of the server's CPU under load) and hand them to classic-level's native
   * batch directly. abstract-level documents `_batch` as the implementation's entry point.
   */
  private writeOps(ops: BatchOp[], options: { sync: boolean }): Promise<void> {
    if (this.db.status !== 'open') return this.db.batch(ops, options);
    return (this.db as unknown as RawBatch)._batch(ops, options);
  }

  // ---- reads -------------------------------------------------------------------------------

  async loadQueueMetas(): Promise<Map<string, QueueMeta>> {
    const out = new Map<string, QueueMeta>();
    for await (const [key, value] of this.db.iterator(prefixRange(META_PREFIX))) {
      out.set(queueFromMetaKey(key), decodeMeta(value));
    }
    return out;
  }

  /** The first item id ≥ fromId of `queue`, or undefined when there is none. */
  async firstId(queue: string, fromId: number): Promise<number | undefined> {
    const range = { gte: itemKey(queue, fromId), lt: itemKey(queue, Number.MAX_SAFE_INTEGER) };
    const keys = await this.db.keys({ ...range, limit: 1 }).all();
    return keys.length ? idFromKey(keys[0]!) : undefined;
  }

  /** A sequential reader of one queue's items (see ItemReader). */
  itemReader(queue: string): ItemReader {
    return new ItemReader(this.db, queue, this.options.readBytes);
  }

  async readRange(range: { gte: Buffer; lt: Buffer }): Promise<Array<[Buffer, Buffer]>> {
    return this.db.iterator(range).all();
  }

  async getValue(key: Buffer): Promise<Buffer | undefined> {
    return this.db.get(key);
  }

  static readonly statusKey = STATUS_KEY;

  /** Writes what is pending, waits for in-order tasks, and closes the database. */
  async close(): Promise<void> {
    await this.written();
    await this.idle();
    this.closed = true;
    await this.db.close();
  }

  approximateSize(range: { gte: Buffer; lt: Buffer }): Promise<number> {
    return this.db.approximateSize(range.gte, range.lt);
  }
}

interface RawIterator {
  seek(target: Buffer): void;
  nextv(size: number): Promise<Array<[Buffer, Buffer]>>;
  close(): Promise<void>;
}

/**
 * Reads one queue's items in id order through one long-lived LevelDB iterator, re-positioned
 * with seek() and replaced only when its snapshot holds nothing more. (An iterator opened per
 * read makes classic-level's resident memory grow with every item read: measured ~1.4 KiB per
 * 1 KiB item, never returned; one iterator reading on stays flat.)
 */
export class ItemReader {
  private it: RawIterator | null = null;
  /** The id after the last item the iterator returned: where it stands without a seek. */
  private position = -1;
  /** Ids below this were committed when the iterator's snapshot was taken. */
  private snapshotEnd = 0;
  private busy = false;
  lastUsed = 0;

  constructor(
    private readonly db: ClassicLevel<Buffer, Buffer>,
    private readonly queue: string,
    private readonly readBytes: number,
  ) {}

  /**
   * Up to `maxItems` items with fromId ≤ id < toId, in id order, stopping at about the store's
   * read cap in bytes; at least one when any exists. `toId` must be a committed bound.
   */
  async read(fromId: number, toId: number, maxItems: number): Promise<Item[]> {
    if (this.busy) throw new Error('ItemReader: one read at a time');
    this.busy = true;
    this.lastUsed = Date.now();
    try {
      let items = await this.next(fromId, toId, maxItems);
      if (items.length === 0 && this.snapshotEnd < toId) {
        // The snapshot is used up but newer items were written since: take a new snapshot.
        await this.close();
        items = await this.next(fromId, toId, maxItems);
      }
      // Caught up: let the snapshot go, so compaction can drop what was read and consumed.
      if (items.length === 0) await this.close();
      return items;
    } finally {
      this.busy = false;
    }
  }

  private async next(fromId: number, toId: number, maxItems: number): Promise<Item[]> {
    if (!this.it) {
      this.it = this.db.iterator({
        gte: itemKey(this.queue, fromId),
        lt: itemKey(this.queue, Number.MAX_SAFE_INTEGER),
        highWaterMarkBytes: this.readBytes,
      }) as unknown as RawIterator;
      this.position = fromId;
      this.snapshotEnd = toId;
    } else if (fromId !== this.position) {
      this.it.seek(itemKey(this.queue, fromId));
    }
    const entries = await this.it.nextv(maxItems);
    const items: Item[] = [];
    for (const [k, v] of entries) {
      const id = idFromKey(k);
      if (id >= toId) break;
      items.push(decodeRecord(id, v));
    }
    // After a break the iterator stands past what we return: a seek puts it back next time.
    this.position = items.length === entries.length && items.length > 0 ? items[items.length - 1]!.id + 1 : -1;
    return items;
  }

  /** Releases the iterator (and its snapshot); the next read opens a new one. */
  async close(): Promise<void> {
    const it = this.it;
    this.it = null;
    this.position = -1;
    if (it) await it.close().catch(() => undefined);
  }

  /** Closes the iterator once unused for `ms`; true when it holds no snapshot (any more). */
  closeIfIdle(ms: number): boolean {
    if (this.busy || Date.now() - this.lastUsed <= ms) return false;
    if (this.it) void this.close();
    return true;
  }
}
