// The only module that touches LevelDB: group commit through the write-ahead log, range
// clears, failure handling, recovery at start-up, reads.
import * as path from 'node:path';
import { ClassicLevel } from 'classic-level';
import {
  META_PREFIX,
  STATUS_KEY,
  WAL_SEQ_KEY,
  type BatchOp,
  type QueueMeta,
  decodeMeta,
  encodeSeq,
  mergeBatchOps,
  prefixRange,
  queueFromMetaKey,
} from './layout.js';
import { Batch, type BatchParticipant } from './batch.js';
import { ItemReader } from './itemReader.js';
import { replayLog } from './replay.js';
import { WriteAheadLog, removeLog } from './wal.js';
import { type TornTail } from './walRead.js';
import { LEVEL_OPTIONS, errorCode } from './level.js';

export type { BatchOp };
export type { BatchParticipant } from './batch.js';
export type { ItemReader } from './itemReader.js';
export { STORE_DESCRIPTORS, errorCode } from './level.js';

/** What the store reports to operators (pino's Logger fits). */
export interface StoreLog {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

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
  log?: StoreLog;
  /** First delay before retrying after an I/O error; doubles up to RETRY_MAX_MS. */
  retryMs?: number;
}

/** A write that failed and is being retried: the store refuses new writes meanwhile. */
export interface StoreFault {
  /** Where: the write-ahead log, or LevelDB. */
  where: 'log' | 'leveldb';
  /** The error's code (ENOSPC, EMFILE, EIO, …) — safe to show a client; never a path. */
  code: string;
  since: number;
}

export interface StoreHealth {
  writable: boolean;
  fault: StoreFault | undefined;
  /** I/O errors seen since start, by where they happened. */
  errors: { log: number; leveldb: number };
  /** Bytes in the write-ahead log's segments. */
  walBytes: number;
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
const RETRY_MS = 100;
const RETRY_MAX_MS = 2000;
/** How long a stop waits for pending writes while LevelDB keeps failing them. */
const CLOSE_WAIT_MS = 3000;

type Task = () => Promise<void>;

/**
 * Writes from one turn of the event loop form one batch: appended to the write-ahead log and
 * acknowledged at once, then applied to LevelDB in order with the range clears and compactions
 * queued between them (one LevelDB write at a time; batches waiting meanwhile are merged).
 *
 * Failing closed: when the log or LevelDB refuses a write (disk full, descriptors exhausted,
 * EIO), the batch is kept, in order, and retried with backoff — it is never dropped and never
 * acknowledged before it is kept — while `writable` is false so the domain refuses new writes.
 * A LevelDB that failed is closed and opened again before the retry: its background errors
 * otherwise stay for the life of the process.
 */
export class Store {
  private pending = new Batch();
  /** Sealed batches not yet in the log (it failed): appended in order before any later one. */
  private unlogged: Batch[] = [];
  /** Sealed batches and tasks (range clears, compactions, syncs), in the order they run. */
  private queue: Array<Batch | Task> = [];
  private lastSealed: Batch | undefined;
  private running = false;
  private scheduled = false;
  /** Apply what is queued without waiting for more batches to join it. */
  private urgent = false;
  private applyTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private unappliedBytes = 0;
  /** Last log record in LevelDB, and the last known fsynced there. */
  private appliedSeq: number;
  private syncedSeq: number;
  /** A periodic fsync runs: log segments go once what they hold is fsynced in LevelDB. */
  private periodicSync = false;
  private readonly maxUnappliedBytes: number;
  private fault: StoreFault | undefined;
  /** LevelDB failed a write: reopen it before the next one. */
  private levelBroken = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;
  private readonly errors = { log: 0, leveldb: 0 };
  /** Counts opens of the database: an iterator from an earlier open is dead. */
  private epoch = 1;
  /** The compaction running (settled when none), and the merged range waiting for it. */
  private compacting: Promise<void> = Promise.resolve();
  private nextCompaction: { gte: Buffer; lt: Buffer; done: Promise<void> } | undefined;

  private constructor(
    private readonly db: ClassicLevel<Buffer, Buffer>,
    private readonly options: StoreOptions,
    private readonly wal: WriteAheadLog | undefined,
    appliedSeq: number,
    /** Log records replayed into LevelDB at start-up. */
    readonly recovered: number,
  ) {
    this.appliedSeq = appliedSeq;
    this.syncedSeq = appliedSeq;
    this.maxUnappliedBytes = options.maxUnappliedBytes ?? MAX_UNAPPLIED_BYTES;
    this.retryDelay = options.retryMs ?? RETRY_MS;
  }

  /**
   * Opens the database and replays the log records it lacks. A torn tail of the log is cut off
   * (`onTornTail`); other damage throws LogDamageError (walRead.ts) and nothing is changed.
   */
  static async open(location: string, options: StoreOptions, onTornTail?: (tail: TornTail) => void): Promise<Store> {
    const db = new ClassicLevel<Buffer, Buffer>(location, LEVEL_OPTIONS);
    await db.open();
    // LevelDB ignores entries of its directory that are not its own files, such as this one.
    const walDir = path.join(location, 'wal');
    let replayed;
    try {
      replayed = await replayLog(db, walDir, onTornTail);
    } catch (err) {
      await db.close();
      throw err;
    }
    let wal: WriteAheadLog | undefined;
    if (options.syncAlways) removeLog(walDir);
    else wal = WriteAheadLog.create(walDir, replayed.lastSeq + 1);
    return new Store(db, options, wal, replayed.appliedSeq, replayed.recovered);
  }

  // ---- writing ------------------------------------------------------------------------------

  /** False while a write is failing: the domain refuses new writes until it is kept. */
  get writable(): boolean {
    return this.fault === undefined && !this.closing;
  }

  health(): StoreHealth {
    return { writable: this.writable, fault: this.fault, errors: { ...this.errors }, walBytes: this.wal?.bytes ?? 0 };
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
    return this.unacknowledged() ?? Promise.resolve();
  }

  /**
   * The promise of the newest batch not yet acknowledged (one object per batch, so callers can
   * group on it), or null when every write so far is kept: a reply may go out at once.
   */
  unacknowledged(): Promise<void> | null {
    if (!this.pending.empty) {
      this.pending.wanted = true;
      return this.pending.acked.wait();
    }
    const last = this.lastSealed;
    return last && !last.acked.settled ? last.acked.wait() : null;
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

  /**
   * Deletes [gte, lt) now, not ordered with writes: only for ranges no write touches again
   * (a queue's consumed ids). Failures are the caller's to ignore: a later call covers the range.
   */
  clearNow(range: { gte: Buffer; lt: Buffer }): Promise<void> {
    return this.db.clear(range);
  }

  /**
   * Compacts [gte, lt) soon: lets LevelDB drop a consumed range's tombstones and files. One
   * compaction runs at a time; ranges asked for meanwhile are merged into the next one (each
   * manual compaction also writes out the memtable: thousands of flushes in a burst queued
   * thousands of them, and a stop waited seconds for them).
   */
  compactNow(gte: Buffer, lt: Buffer): Promise<void> {
    const next = this.nextCompaction;
    if (next) {
      if (Buffer.compare(gte, next.gte) < 0) next.gte = gte;
      if (Buffer.compare(lt, next.lt) > 0) next.lt = lt;
      return next.done;
    }
    const queued = { gte, lt, done: Promise.resolve() };
    queued.done = this.compacting.then(() => {
      this.nextCompaction = undefined;
      if (this.closing) return;
      return this.db.compactRange(queued.gte, queued.lt);
    });
    this.nextCompaction = queued;
    this.compacting = queued.done.catch(() => undefined);
    return queued.done;
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
    if (this.periodicSync) this.wal?.release(this.syncedSeq);
  }

  private runInOrder(fn: () => Promise<void>): Promise<void> {
    this.seal();
    return new Promise<void>((resolve, reject) => {
      this.queue.push(() => fn().then(resolve, (err) => (reject(err), undefined)));
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
    this.lastSealed = batch;
    this.unappliedBytes += batch.bytes;
    if (this.wal) {
      this.unlogged.push(batch);
      this.logUnlogged();
    } else {
      this.enqueue(batch);
    }
  }

  /** Appends the batches not yet logged, in order; stops (and fails closed) at an I/O error. */
  private logUnlogged(): void {
    while (this.unlogged.length > 0) {
      const batch = this.unlogged[0]!;
      try {
        batch.seq = this.wal!.append(batch.ops);
      } catch (err) {
        this.failed('log', err);
        return;
      }
      this.unlogged.shift();
      this.enqueue(batch);
    }
  }

  private enqueue(batch: Batch): void {
    if (batch.seq > 0 && !batch.sync && this.unappliedBytes < this.maxUnappliedBytes) batch.acked.done();
    if (!batch.acked.settled || this.unappliedBytes >= APPLY_NOW_BYTES) this.urgent = true;
    this.queue.push(batch);
  }

  private kick(): void {
    if (this.scheduled || this.closing) return;
    this.scheduled = true;
    // One turn of the event loop gathers the writes of every connection into one batch.
    setImmediate(this.tick);
  }

  private readonly tick = (): void => {
    this.scheduled = false;
    // A batch of metas alone (cursor moves, reads below an open item) may wait for the next
    // write or the apply timer, unless a reply waits for it.
    if (this.pending.ops.length > 0 || this.pending.sync || this.pending.wanted || this.urgent) this.seal();
    else if (!this.pending.empty) this.applySoon();
    this.runNext();
  };

  private runNext(): void {
    if (this.running || this.levelBroken) return;
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
    // The batches' own ops are written as they are (not copied): a failed write retries them.
    const ops = batches.length === 1 ? batches[0]!.ops : mergeBatchOps(batches.map((b) => b.ops));
    const seq = Math.max(...batches.map((b) => b.seq));
    const sync = this.options.syncAlways || batches.some((b) => b.sync);
    try {
      await this.writeOps(ops, seq, { sync });
    } catch (err) {
      // Kept, in order, for the retry (after a reopen): nothing after them runs before.
      this.queue.unshift(...batches);
      this.levelBroken = true;
      this.failed('leveldb', err);
      return;
    }
    if (seq > this.appliedSeq) this.appliedSeq = seq;
    if (sync) this.markSynced(this.appliedSeq);
    else if (!this.periodicSync) this.wal?.release(this.appliedSeq);
    for (const batch of batches) {
      this.unappliedBytes -= batch.bytes;
      for (const p of batch.participants) p.batchDone(undefined);
      batch.applied.done();
      batch.acked.done();
    }
  }

  /**
   * Through a chained batch: one native put per op costs the main thread 1.0–1.3 µs, against
   * 2.0–2.9 µs for `batch([...])`, whose native side reads three properties of every op object
   * and copies each key and value twice (measured with 200-op batches of 100 B values).
   */
  private writeOps(ops: readonly BatchOp[], seq: number, options: { sync: boolean }): Promise<void> {
    const batch = this.db.batch();
    for (const op of ops) {
      if (op.type === 'put') batch.put(op.key, op.value);
      else batch.del(op.key);
    }
    // Tells start-up which log records LevelDB already holds.
    if (seq > 0) batch.put(WAL_SEQ_KEY, encodeSeq(seq));
    return batch.write(options);
  }

  // ---- failing closed -----------------------------------------------------------------------

  /** A write failed: refuse new writes, say so once, and retry with backoff. */
  private failed(where: StoreFault['where'], err: unknown): void {
    this.errors[where]++;
    if (!this.fault) {
      this.fault = { where, code: errorCode(err), since: Date.now() };
      this.options.log?.error({ err, where, code: this.fault.code }, 'store write failed: refusing writes, retrying until it works');
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closing) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.retry();
    }, this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
  }

  private async retry(): Promise<void> {
    if (this.closing) return;
    if (this.levelBroken) {
      if (this.running) return this.scheduleRetry(); // an ordered task is still out
      try {
        await this.reopen();
      } catch (err) {
        this.errors.leveldb++;
        return this.scheduleRetry();
      }
      this.levelBroken = false;
    }
    this.logUnlogged();
    if (this.unlogged.length > 0) return; // failed again, retry scheduled
    this.urgent = true;
    this.runNext();
    // The failed LevelDB write goes first; the fault clears once it has gone through.
    void this.applied().then(
      () => this.clearFault(),
      () => undefined,
    );
  }

  private clearFault(): void {
    if (!this.fault || this.levelBroken || this.unlogged.length > 0) return;
    const { where, code, since } = this.fault;
    this.fault = undefined;
    this.retryDelay = this.options.retryMs ?? RETRY_MS;
    this.options.log?.warn({ where, code, downMs: Date.now() - since }, 'store writable again');
  }

  /** Closes and opens LevelDB: clears a background error it would otherwise keep. */
  private async reopen(): Promise<void> {
    if (this.db.status === 'open') await this.db.close();
    this.epoch++;
    await this.db.open();
  }

  // ---- reads -------------------------------------------------------------------------------

  /**
   * The database, once every acknowledged write is applied to it: for a consistent export from
   * one snapshot while the server runs (src/store/portableSnapshot.ts).
   */
  async snapshotSource(): Promise<ClassicLevel<Buffer, Buffer>> {
    await this.applied();
    return this.db;
  }

  async loadQueueMetas(): Promise<Map<string, QueueMeta>> {
    const out = new Map<string, QueueMeta>();
    for await (const [key, value] of this.db.iterator(prefixRange(META_PREFIX))) {
      out.set(queueFromMetaKey(key), decodeMeta(value));
    }
    return out;
  }

  /** A sequential reader of one queue's items (see ItemReader). */
  itemReader(queue: string): ItemReader {
    return new ItemReader(this.db, queue, this.options.readBytes, () => this.epoch);
  }

  async readRange(range: { gte: Buffer; lt: Buffer }): Promise<Array<[Buffer, Buffer]>> {
    return this.db.iterator(range).all();
  }

  async getValue(key: Buffer): Promise<Buffer | undefined> {
    return this.db.get(key);
  }

  approximateSize(range: { gte: Buffer; lt: Buffer }): Promise<number> {
    return this.db.approximateSize(range.gte, range.lt);
  }

  /**
   * Applies what is pending, waits for in-order tasks, and closes the log and the database.
   * While failing, it tries once more; batches that still cannot be kept were never
   * acknowledged and fail, and the log keeps what LevelDB lacks for the next start.
   */
  async close(): Promise<void> {
    this.seal();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.fault) await this.retry().catch(() => undefined);
    if (!this.levelBroken && this.unlogged.length === 0) {
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
      await Promise.race([this.idle(), gaveUp]);
      clearTimeout(timer);
    }
    this.closing = true;
    clearTimeout(this.applyTimer);
    clearTimeout(this.retryTimer);
    const applied = !this.levelBroken && this.unlogged.length === 0 && this.queue.length === 0 && !this.running;
    const gaveUp = new Error('store closed before the write could be kept');
    for (const batch of [...this.unlogged, ...this.queue]) {
      if (!(batch instanceof Batch)) continue;
      for (const p of batch.participants) p.batchDone(batch.acked.settled ? undefined : gaveUp);
      batch.applied.done(gaveUp);
      batch.acked.done(gaveUp);
    }
    this.wal?.close(applied);
    if (this.db.status === 'open') await this.db.close();
  }

  private idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.queue.push(async () => resolve());
      this.urgent = true;
      this.kick();
    });
  }
}
