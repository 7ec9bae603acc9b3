// The only module that touches LevelDB: group commit through the write-ahead log, range
// clears, recovery at start-up, reads.
import * as path from 'node:path';
import { ClassicLevel } from 'classic-level';
import {
  META_PREFIX,
  STATUS_KEY,
  WAL_SEQ_KEY,
  type BatchOp,
  type Item,
  type QueueMeta,
  decodeMeta,
  decodeRecord,
  decodeSeq,
  encodeSeq,
  idFromKey,
  itemKey,
  mergeBatchOps,
  prefixRange,
  queueFromMetaKey,
} from './layout.js';
import { WriteAheadLog, readLog, removeLog } from './wal.js';

export type { BatchOp };

/** Something whose writes ride in a batch and that learns when the batch is in LevelDB. */
export interface BatchParticipant {
  /**
   * The batch holding this participant's writes is sealed: add its last ops (meta). Later
   * writes go to a later batch; batches are applied, and batchDone called, in seal order.
   */
  sealBatch(ops: BatchOp[]): void;
  /** That batch is in LevelDB (`err` undefined), or failed and was never acknowledged. */
  batchDone(err: Error | undefined): void;
}

/** A promise made only when someone asks, settled once. */
class Signal {
  private promise: Promise<void> | undefined;
  private settle: ((err?: Error) => void) | undefined;
  private outcome: { err: Error | undefined } | undefined;

  wait(): Promise<void> {
    if (!this.promise) {
      if (this.outcome) return this.outcome.err ? Promise.reject(this.outcome.err) : Promise.resolve();
      this.promise = new Promise<void>((resolve, reject) => {
        this.settle = (err) => (err ? reject(err) : resolve());
      });
    }
    return this.promise;
  }

  get settled(): boolean {
    return this.outcome !== undefined;
  }

  done(err?: Error): void {
    if (this.outcome) return;
    this.outcome = { err };
    this.settle?.(err);
  }
}

/** The writes of one turn of the event loop: one log record, applied to LevelDB as a whole. */
class Batch {
  ops: BatchOp[] = [];
  participants = new Set<BatchParticipant>();
  sync = false;
  /** Its write-ahead log record; 0 when it has none. */
  seq = 0;
  /** Key and value bytes, for the cap on what may be acknowledged but not yet applied. */
  bytes = 0;
  /** Durable as promised (logged, or applied when it could not be acknowledged on logging). */
  readonly acked = new Signal();
  /** In LevelDB, so readers can load it. */
  readonly applied = new Signal();

  get empty(): boolean {
    return this.ops.length === 0 && this.participants.size === 0;
  }
}

type Task = () => Promise<void>;

export interface StoreOptions {
  /** Write every batch with fsync (and keep no write-ahead log: nothing is acknowledged sooner). */
  syncAlways: boolean;
  /** Caps one nextv() read, so a refill never holds more than this many bytes at once. */
  readBytes: number;
  /**
   * Past this many bytes logged but not yet in LevelDB, a batch is acknowledged only once it is
   * applied: producers slow to LevelDB's pace instead of the backlog growing in memory.
   */
  maxUnappliedBytes?: number;
}

const MAX_UNAPPLIED_BYTES = 2 * 1024 * 1024;
/**
 * A logged batch waits up to this long to be applied, so LevelDB gets fewer, larger writes (each
 * costs a crossing to the thread pool and back) — unless someone waits for it: a reader of items
 * only on disk, an unacknowledged producer, an ordered task; or this many bytes are waiting.
 */
const APPLY_DELAY_MS = 2;
const APPLY_NOW_BYTES = 512 * 1024;
/** Consecutive sealed batches are merged into one LevelDB write up to about this many bytes. */
const MAX_APPLY_BYTES = 1024 * 1024;
/** Start-up replays the log into LevelDB in writes of about this many bytes. */
const REPLAY_BYTES = 4 * 1024 * 1024;

/**
 * Writes from one turn of the event loop form one batch: appended to the write-ahead log and
 * acknowledged at once, then applied to LevelDB in order with the range clears and compactions
 * queued between them (one LevelDB write at a time; batches waiting meanwhile are merged).
 */
export class Store {
  private pending = new Batch();
  /** Sealed batches and tasks (range clears, compactions, syncs), in the order they run. */
  private queue: Array<Batch | Task> = [];
  private lastSealed: Batch | undefined;
  private running = false;
  private scheduled = false;
  /** Apply what is queued without waiting for more batches to join it. */
  private urgent = false;
  private applyTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private unappliedBytes = 0;
  /** Last log record in LevelDB, and the last known fsynced there. */
  private appliedSeq: number;
  private syncedSeq: number;
  /** A periodic fsync runs: log segments go once what they hold is fsynced in LevelDB. */
  private periodicSync = false;
  /**
   * A LevelDB write of acknowledged batches failed: the applied sequence number stops
   * advancing and no segment is deleted, so a restart replays everything from there.
   */
  private applyFailed = false;
  private readonly maxUnappliedBytes: number;

  private constructor(
    readonly db: ClassicLevel<Buffer, Buffer>,
    private readonly options: StoreOptions,
    private wal: WriteAheadLog | undefined,
    appliedSeq: number,
    /** Log records replayed into LevelDB at start-up. */
    readonly recovered: number,
  ) {
    this.appliedSeq = appliedSeq;
    this.syncedSeq = appliedSeq;
    this.maxUnappliedBytes = options.maxUnappliedBytes ?? MAX_UNAPPLIED_BYTES;
  }

  static async open(location: string, options: StoreOptions): Promise<Store> {
    const db = new ClassicLevel<Buffer, Buffer>(location, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      createIfMissing: true,
      // Queues write once and read once, and tables are read through mmap, which bypasses the
      // block cache: a small one is enough. A small write buffer keeps resident memory low.
      cacheSize: 512 * 1024,
      writeBufferSize: 2 * 1024 * 1024,
      // LevelDB reads table files through mmap, and mapped pages count as resident memory:
      // few open tables of modest size bound that (an evicted table is unmapped). Most tables
      // are memtables written out and moved down whole, so they are writeBufferSize large.
      // (256 KiB tables mapped 20 MB less while draining 1 M × 1 KiB, but cost a third of the
      // throughput with a 1 M backlog: see docs/benchmarks.md.)
      maxOpenFiles: 74, // LevelDB's minimum: 64 tables + 10 other files
      maxFileSize: 512 * 1024,
    });
    await db.open();
    // LevelDB ignores entries of its directory that are not its own files, such as this one.
    const walDir = path.join(location, 'wal');
    const { appliedSeq, lastSeq, recovered } = await replayLog(db, walDir);
    let wal: WriteAheadLog | undefined;
    if (options.syncAlways) removeLog(walDir);
    else wal = WriteAheadLog.create(walDir, lastSeq + 1);
    return new Store(db, options, wal, appliedSeq, recovered);
  }

  put(key: Buffer, value: Buffer, participant?: BatchParticipant): void {
    this.pending.ops.push({ type: 'put', key, value });
    this.pending.bytes += key.length + value.length;
    if (participant) this.pending.participants.add(participant);
    this.kick();
  }

  del(key: Buffer, participant?: BatchParticipant): void {
    this.pending.ops.push({ type: 'del', key });
    this.pending.bytes += key.length;
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

  /** Resolves when every write made so far is as durable as promised (`STORED` may go out). */
  written(): Promise<void> {
    const batch = this.pending.empty ? this.lastSealed : this.pending;
    return batch ? batch.acked.wait() : Promise.resolve();
  }

  /** Resolves when every write made so far is in LevelDB, where readers can load it. */
  applied(): Promise<void> {
    const batch = this.pending.empty ? this.lastSealed : this.pending;
    if (!batch || batch.applied.settled) return Promise.resolve();
    this.urgent = true;
    this.kick();
    return batch.applied.wait();
  }

  /** Deletes every key in [gte, lt) after the writes made so far, before any made later. */
  clearRange(range: { gte: Buffer; lt: Buffer }): Promise<void> {
    return this.runInOrder(() => this.db.clear(range));
  }

  /** Compacts [gte, lt) in order with writes: reclaims the tombstones a drained head leaves. */
  compactRange(gte: Buffer, lt: Buffer): Promise<void> {
    return this.runInOrder(() => this.db.compactRange(gte, lt));
  }

  /**
   * Periodic fsync: the log records written so far at once, and LevelDB's log once every
   * earlier batch is applied.
   */
  sync(): Promise<void> {
    const logSynced = this.wal?.sync();
    const dbSynced = this.runInOrder(async () => {
      const seq = this.appliedSeq;
      await this.db.batch([], { sync: true });
      this.markSynced(seq);
    });
    return Promise.all([logSynced, dbSynced]).then(() => undefined);
  }

  /**
   * With a periodic fsync, a log segment is deleted only once LevelDB's copy of its records is
   * fsynced; without, once they are applied.
   */
  setPeriodicSync(on: boolean): void {
    this.periodicSync = on;
  }

  private markSynced(seq: number): void {
    if (seq > this.syncedSeq) this.syncedSeq = seq;
    if (this.periodicSync && !this.applyFailed) this.wal?.release(this.syncedSeq);
  }

  private runInOrder(fn: () => Promise<void>): Promise<void> {
    this.seal();
    return new Promise<void>((resolve, reject) => {
      this.queue.push(() => fn().then(resolve, (err) => (reject(err), undefined)));
      this.urgent = true;
      this.kick();
    });
  }

  private idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.queue.push(async () => resolve());
      this.urgent = true;
      this.kick();
    });
  }

  /** Ends the batch being gathered: logs it (acknowledging it if it may be) and queues it. */
  private seal(): void {
    if (this.pending.empty) return;
    const batch = this.pending;
    this.pending = new Batch();
    // Participants snapshot their state now, so it matches exactly the ops of this batch.
    for (const p of batch.participants) p.sealBatch(batch.ops);
    if (this.wal) {
      try {
        batch.seq = this.wal.append(batch.ops);
      } catch {
        // Disk full or failing: go on without the log, acknowledging batches once applied.
        // LevelDB already holds, or will next, everything logged before this.
        this.wal = undefined;
      }
    }
    if (batch.seq > 0 && !batch.sync && this.unappliedBytes < this.maxUnappliedBytes) {
      batch.acked.done();
    }
    this.unappliedBytes += batch.bytes;
    if (!batch.acked.settled || this.unappliedBytes >= APPLY_NOW_BYTES) this.urgent = true;
    this.queue.push(batch);
    this.lastSealed = batch;
  }

  private kick(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    // One turn of the event loop gathers the writes of every connection into one batch.
    setImmediate(this.tick);
  }

  private readonly tick = (): void => {
    this.scheduled = false;
    // A batch of metas alone (reads moving a head or a cursor) may wait for the next write or
    // the apply timer: a plain read is at-least-once across a crash anyway.
    if (this.pending.ops.length > 0 || this.pending.sync || this.urgent) this.seal();
    else if (!this.pending.empty) this.applySoon();
    this.runNext();
  };

  private runNext(): void {
    if (this.running) return;
    const head = this.queue[0];
    if (!head) {
      this.urgent = false;
      return;
    }
    let work: Promise<void>;
    if (head instanceof Batch) {
      if (!this.urgent) return this.applySoon();
      // Whatever was sealed while LevelDB was busy goes out now as one write.
      const batches: Batch[] = [];
      let bytes = 0;
      while (this.queue[0] instanceof Batch && (batches.length === 0 || bytes < MAX_APPLY_BYTES)) {
        const batch = this.queue.shift() as Batch;
        batches.push(batch);
        bytes += batch.bytes;
      }
      // What arrives from now on waits its turn again (or asks for haste itself).
      this.urgent = this.queue.length > 0;
      work = this.apply(batches);
    } else {
      this.queue.shift();
      work = head();
    }
    this.running = true;
    void work.finally(() => {
      this.running = false;
      this.runNext();
    });
  }

  private applySoon(): void {
    this.applyTimer ??= setTimeout(() => {
      this.applyTimer = undefined;
      this.urgent = true;
      this.seal();
      this.runNext();
    }, APPLY_DELAY_MS);
  }

  private async apply(batches: Batch[]): Promise<void> {
    const ops = batches.length === 1 ? batches[0]!.ops : mergeBatchOps(batches.map((b) => b.ops));
    const seq = Math.max(...batches.map((b) => b.seq));
    // Tells start-up which log records LevelDB already holds.
    if (seq > 0 && !this.applyFailed) ops.push({ type: 'put', key: WAL_SEQ_KEY, value: encodeSeq(seq) });
    const sync = this.options.syncAlways || batches.some((b) => b.sync);
    let error: Error | undefined;
    try {
      await this.writeOps(ops, { sync });
      if (seq > this.appliedSeq && !this.applyFailed) this.appliedSeq = seq;
      if (sync) this.markSynced(this.appliedSeq);
      else if (!this.periodicSync && !this.applyFailed) this.wal?.release(this.appliedSeq);
    } catch (err) {
      error = err instanceof Error ? err : new Error(String(err));
      if (seq > 0) this.applyFailed = true;
    }
    for (const batch of batches) {
      this.unappliedBytes -= batch.bytes;
      // An acknowledged batch stays acknowledged: its log record is replayed at the next start.
      const failed = batch.acked.settled ? undefined : error;
      for (const p of batch.participants) p.batchDone(failed);
      batch.applied.done(failed);
      batch.acked.done(failed);
    }
  }

  /**
   * Through a chained batch: one native put per op costs the main thread 1.0–1.3 µs, against
   * 2.0–2.9 µs for `batch([...])`, whose native side reads three properties of every op object
   * and copies each key and value twice (measured with 200-op batches of 100 B values).
   */
  private writeOps(ops: BatchOp[], options: { sync: boolean }): Promise<void> {
    const batch = this.db.batch();
    for (const op of ops) {
      if (op.type === 'put') batch.put(op.key, op.value);
      else batch.del(op.key);
    }
    return batch.write(options);
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

  /** Applies what is pending, waits for in-order tasks, and closes the log and the database. */
  async close(): Promise<void> {
    this.seal();
    await this.idle();
    this.closed = true;
    clearTimeout(this.applyTimer);
    this.wal?.close(!this.applyFailed);
    await this.db.close();
  }

  approximateSize(range: { gte: Buffer; lt: Buffer }): Promise<number> {
    return this.db.approximateSize(range.gte, range.lt);
  }
}

/**
 * Applies the log records LevelDB lacks (those after the sequence number it records), fsynced
 * before the log files may go. Returns where LevelDB now stands and the last record seen.
 */
async function replayLog(
  db: ClassicLevel<Buffer, Buffer>,
  dir: string,
): Promise<{ appliedSeq: number; lastSeq: number; recovered: number }> {
  let appliedSeq = decodeSeq(await db.get(WAL_SEQ_KEY));
  let lastSeq = appliedSeq;
  let recovered = 0;
  let ops: BatchOp[] = [];
  let bytes = 0;
  const write = async (sync: boolean) => {
    ops.push({ type: 'put', key: WAL_SEQ_KEY, value: encodeSeq(appliedSeq) });
    await db.batch(ops, { sync });
    ops = [];
    bytes = 0;
  };
  for (const record of readLog(dir)) {
    lastSeq = Math.max(lastSeq, record.seq);
    if (record.seq <= appliedSeq) continue;
    for (const op of record.ops) {
      ops.push(op);
      bytes += op.key.length + (op.type === 'put' ? op.value.length : 0);
    }
    appliedSeq = record.seq;
    recovered++;
    if (bytes >= REPLAY_BYTES) await write(false);
  }
  if (recovered > 0) await write(true);
  return { appliedSeq, lastSeq, recovered };
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
