// The only module that touches LevelDB: group commit through the write-ahead log, range
// clears, failure handling, recovery at start-up, reads. The units it is made of: batch.ts (one
// turn's writes), wal*.ts (the log), pipeline.ts (applying to LevelDB in order), faults.ts
// (failing closed and retrying), compaction.ts, reads.ts and itemReader.ts, replay.ts (start-up).
import * as path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { type BatchOp, type QueueMeta } from './layout.js';
import { Batch, type BatchParticipant } from './batch.js';
import { type ItemReader } from './itemReader.js';
import { replayLog } from './replay.js';
import { WriteAheadLog, removeLog } from './wal.js';
import { type TornTail } from './walRead.js';
import { LEVEL_OPTIONS, errorCode } from './level.js';
import { ApplyPipeline, settledWithin } from './pipeline.js';
import { FaultRecovery, type StoreFault } from './faults.js';
import { CompactionScheduler } from './compaction.js';
import { StoreReads } from './reads.js';
import { SILENT_LOG, type StoreLog } from './storeLog.js';

export type { BatchOp };
export type { BatchParticipant } from './batch.js';
export type { ItemReader } from './itemReader.js';
export type { StoreFault } from './faults.js';
export type { StoreLog } from './storeLog.js';
export { STORE_DESCRIPTORS, errorCode } from './level.js';

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
  /** The store logs through a child of it (`module: 'store'`). */
  log?: StoreLog;
  /** First delay before retrying after an I/O error; doubles up to 2 s. */
  retryMs?: number;
}

export interface StoreHealth {
  writable: boolean;
  fault: StoreFault | undefined;
  /** I/O errors seen since start, by where they happened. */
  errors: { log: number; leveldb: number };
  /** Bytes in the write-ahead log's segments. */
  walBytes: number;
}

/** How long a stop waits for pending writes while LevelDB keeps failing them. */
const CLOSE_WAIT_MS = 3000;

/**
 * Writes from one turn of the event loop form one batch: appended to the write-ahead log and
 * acknowledged at once, then applied to LevelDB in order with the range clears and compactions
 * queued between them (pipeline.ts).
 *
 * Failing closed (faults.ts): when the log or LevelDB refuses a write, the batch is kept, in
 * order, and retried with backoff — never dropped and never acknowledged before it is kept —
 * while `writable` is false so the domain refuses new writes.
 */
export class Store {
  private pending = new Batch();
  /** Sealed batches not yet in the log (it failed): appended in order before any later one. */
  private unlogged: Batch[] = [];
  private lastSealed: Batch | undefined;
  private scheduled = false;
  /** close() has begun: nothing more is gathered into batches. */
  private closing = false;
  /** close() has ended: a batch sealed from now on is refused at once. */
  private closed = false;
  /** Counts opens of the database: an iterator from an earlier open is dead. */
  private epoch = 1;
  private readonly pipeline: ApplyPipeline;
  private readonly recovery: FaultRecovery;
  private readonly compactions: CompactionScheduler;
  private readonly reads: StoreReads;

  private constructor(
    private readonly db: ClassicLevel<Buffer, Buffer>,
    options: StoreOptions,
    private readonly wal: WriteAheadLog | undefined,
    appliedSeq: number,
    /** Log records replayed into LevelDB at start-up. */
    readonly recovered: number,
    private readonly log: StoreLog,
  ) {
    this.pipeline = new ApplyPipeline(db, wal, options, appliedSeq, {
      seal: () => this.seal(),
      kick: () => this.kick(),
      halted: () => this.recovery.levelBroken,
      applyFailed: (err) => this.recovery.failed('leveldb', err),
    });
    this.recovery = new FaultRecovery(
      {
        busy: () => this.pipeline.busy,
        reopen: () => this.reopen(),
        relog: () => this.logUnlogged(),
        allLogged: () => this.unlogged.length === 0,
        resume: () => this.resume(),
      },
      this.log,
      options.retryMs,
    );
    this.compactions = new CompactionScheduler((gte, lt) => db.compactRange(gte, lt), this.log);
    this.reads = new StoreReads(db, options.readBytes, () => this.epoch, log);
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
    const log = (options.log ?? SILENT_LOG).child({ module: 'store' });
    let wal: WriteAheadLog | undefined;
    if (options.syncAlways) removeLog(walDir);
    else wal = WriteAheadLog.create(walDir, replayed.lastSeq + 1, log);
    return new Store(db, options, wal, replayed.appliedSeq, replayed.recovered, log);
  }

  // ---- writing ------------------------------------------------------------------------------

  /** False while a write is failing: the domain refuses new writes until it is kept. */
  get writable(): boolean {
    return this.recovery.fault === undefined && !this.closing;
  }

  health(): StoreHealth {
    const { fault, errors } = this.recovery;
    return { writable: this.writable, fault, errors: { ...errors }, walBytes: this.wal?.bytes ?? 0 };
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
    this.pipeline.hurry();
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
    return this.consumedDelete(() => this.db.clear(range), 'store: clearing consumed items failed');
  }

  /**
   * Deletes `keys` now in one LevelDB write, not ordered with writes: as clearNow, only for keys
   * no write touches again. The sweep gathers the short consumed ranges of many queues here: a
   * range delete of its own per queue (an iterator and a write each) costs 100,000 LevelDB
   * calls a second with 100,000 queues in use.
   */
  deleteNow(keys: readonly Buffer[]): Promise<void> {
    return this.consumedDelete(() => {
      const chain = this.db.batch();
      for (const key of keys) chain.del(key);
      return chain.write();
    }, 'store: deleting consumed items failed');
  }

  /**
   * A delete of consumed items that failed is tolerable (a later one covers them), but an
   * operator should see why disk space is not freed: logged here, once per delete, and passed
   * on. At a stop the database is closing under it, which is expected. A LevelDB that is not
   * open throws at once (a chained batch checks when it is made): that is a failure too.
   */
  private consumedDelete(run: () => Promise<void>, message: string): Promise<void> {
    let deleting: Promise<void>;
    try {
      deleting = run();
    } catch (err) {
      deleting = Promise.reject(err);
    }
    return deleting.catch((err: unknown) => {
      if (!this.closing) this.log.warn({ err, code: errorCode(err) }, message);
      throw err;
    });
  }

  /**
   * Compacts [gte, lt) soon: lets LevelDB drop a consumed range's tombstones and files. One
   * compaction runs at a time; ranges asked for meanwhile are merged (compaction.ts).
   */
  compactNow(gte: Buffer, lt: Buffer): Promise<void> {
    return this.compactions.request(gte, lt);
  }

  /**
   * Periodic fsync: the log records written so far at once, and LevelDB's log once every
   * earlier batch is applied.
   */
  sync(): Promise<void> {
    const logSynced = this.wal?.sync();
    const dbSynced = this.runInOrder(() => this.pipeline.syncLevel());
    return Promise.all([logSynced, dbSynced]).then(() => undefined);
  }

  /** See ApplyPipeline.setPeriodicSync. */
  setPeriodicSync(on: boolean): void {
    this.pipeline.setPeriodicSync(on);
  }

  private runInOrder(fn: () => Promise<void>): Promise<void> {
    this.seal();
    return this.pipeline.addTask(fn);
  }

  /** Ends the batch being gathered: logs it (acknowledging it if it may be) and queues it. */
  private seal(): void {
    if (this.pending.empty) return;
    const batch = this.pending;
    this.pending = new Batch();
    // Participants snapshot their state now, so it matches exactly the ops of this batch.
    for (const p of batch.participants) p.sealBatch(batch.ops);
    this.lastSealed = batch;
    if (this.closed) return failBatches([batch], new Error('store closed: write refused'));
    this.pipeline.admit(batch);
    if (this.wal) {
      this.unlogged.push(batch);
      this.logUnlogged();
    } else {
      this.pipeline.enqueue(batch);
    }
  }

  /** Appends the batches not yet logged, in order; false (failing closed) at an I/O error. */
  private logUnlogged(): boolean {
    while (this.unlogged.length > 0) {
      const batch = this.unlogged[0]!;
      try {
        batch.seq = this.wal!.append(batch.ops);
      } catch (err) {
        this.recovery.failed('log', err);
        return false;
      }
      this.unlogged.shift();
      this.pipeline.enqueue(batch);
    }
    return true;
  }

  private kick(): void {
    if (this.scheduled || (this.closing && !this.closed)) return;
    this.scheduled = true;
    // One turn of the event loop gathers the writes of every connection into one batch.
    setImmediate(this.tick);
  }

  private readonly tick = (): void => {
    this.scheduled = false;
    // A batch of metas alone (cursor moves, reads below an open item) may wait for the next
    // write or the apply timer, unless a reply waits for it.
    const p = this.pending;
    if (p.ops.length > 0 || p.sync || p.wanted || this.pipeline.hurried || this.closed) this.seal();
    else if (!p.empty) this.pipeline.applySoon();
    this.pipeline.runNext();
  };

  /** After a fault: the kept batches go first; resolves once every write so far is applied. */
  private resume(): Promise<void> {
    this.pipeline.hurry();
    this.pipeline.runNext();
    return this.applied();
  }

  /** Closes and opens LevelDB: clears a background error it would otherwise keep. */
  private async reopen(): Promise<void> {
    if (this.db.status === 'open') await this.db.close();
    this.epoch++;
    await this.db.open();
  }

  // ---- reads (reads.ts) -----------------------------------------------------------------------

  /**
   * The database, once every acknowledged write is applied to it: for a consistent export from
   * one snapshot while the server runs (src/store/portableSnapshot.ts).
   */
  async snapshotSource(): Promise<ClassicLevel<Buffer, Buffer>> {
    await this.applied();
    return this.db;
  }

  loadQueueMetas(): Promise<Map<string, QueueMeta>> {
    return this.reads.loadQueueMetas();
  }

  /** A sequential reader of one queue's items (see ItemReader). */
  itemReader(queue: string): ItemReader {
    return this.reads.itemReader(queue);
  }

  readRange(range: { gte: Buffer; lt: Buffer }): Promise<Array<[Buffer, Buffer]>> {
    return this.reads.readRange(range);
  }

  getValue(key: Buffer): Promise<Buffer | undefined> {
    return this.reads.getValue(key);
  }

  approximateSize(range: { gte: Buffer; lt: Buffer }): Promise<number> {
    return this.reads.approximateSize(range);
  }

  // ---- closing -------------------------------------------------------------------------------

  /**
   * Applies what is pending, waits for in-order tasks, and closes the log and the database.
   * While failing, it tries once more; batches that still cannot be kept were never
   * acknowledged and fail, and the log keeps what LevelDB lacks for the next start.
   */
  async close(): Promise<void> {
    this.seal();
    this.recovery.cancelTimer();
    if (this.recovery.fault) await this.recovery.retry();
    // LevelDB may keep failing: wait for the queued writes and tasks at most CLOSE_WAIT_MS.
    if (!this.recovery.levelBroken && this.unlogged.length === 0) await settledWithin(this.pipeline.drained(), CLOSE_WAIT_MS);
    this.closing = true;
    this.recovery.stop();
    this.compactions.stop();
    const applied = !this.recovery.levelBroken && this.unlogged.length === 0 && this.pipeline.idle;
    // In seal order, as participants match outcomes to their batches: every logged batch (in the
    // pipeline) was sealed before any batch the log has not taken yet.
    const unkept = [...(await this.pipeline.stop(CLOSE_WAIT_MS)), ...this.unlogged];
    this.unlogged = [];
    if (unkept.length > 0) {
      const unacknowledged = unkept.filter((b) => !b.acked.settled).length;
      this.log.error(
        { batches: unkept.length, unacknowledged },
        'store closed with writes not in LevelDB: the unacknowledged failed, the log keeps the rest for the next start',
      );
    }
    failBatches(unkept, new Error('store closed before the write could be kept'));
    this.wal?.close(applied);
    if (this.db.status === 'open') await this.db.close();
    this.closed = true;
    if (!this.pending.empty) this.kick(); // gathered while closing: refused now
  }
}

/** Batches that will never be kept: whoever waits learns it (acknowledged ones stay so). */
function failBatches(batches: readonly Batch[], err: Error): void {
  for (const batch of batches) {
    for (const p of batch.participants) p.batchDone(batch.acked.settled ? undefined : err);
    batch.applied.done(err);
    batch.acked.done(err);
  }
}
