// The manager's periodic work: the once-a-second sweep (expiry, idle readers, size estimates,
// heap trimming) and the periodic fsync of `fsync <ms>` queues.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type Logger } from 'pino';
import { type FsyncMode, type ServerQueueConfig } from './config.js';
import { HeapTrimmer } from './memory.js';
import { type Queue } from './queue.js';
import { ReclaimBatch } from './reclaimBatch.js';
import { itemPrefix, prefixRange } from './store/layout.js';
import { type Store } from './store/store.js';

const SWEEP_INTERVAL_MS = 1000;
/** A queue's or cursor's store iterator unused this long is closed. */
const IDLE_READER_MS = 5000;
/** The same, and its consumed range compacted, for a queue that has just drained a backlog. */
const DRAINED_READER_MS = 900;
/** Queues whose on-disk size estimate one sweep refreshes. */
const SIZES_PER_SWEEP = 64;
/** Queues whose head, only on disk, one sweep reads to find expired items. */
const DISK_EXPIRY_CHECKS = 64;
/**
 * Queues one sweep visits (expiry in memory, consumed ranges, idle readers), in turn: with more,
 * each is visited every ⌈n / QUEUES_PER_SWEEP⌉ seconds. Redis, too, samples keys for expiry
 * instead of scanning them all. Walking 100,000 queues each second took 13 % of the main
 * thread's samples under load, nearly all of it cache misses on the queue objects.
 */
const QUEUES_PER_SWEEP = 10_000;
/** Items held in head windows whose records one sweep looks at for packing (recordPacking.ts). */
const PACKS_PER_SWEEP = 100_000;
/** Queues one turn of the sweep looks at before letting other work in. */
const SWEEP_SLICE = 1000;

/** What the housekeeper reads of the manager. */
export interface HousekeepingTarget {
  readonly store: Store;
  readonly queues: ReadonlyMap<string, Queue>;
  /** Requests served so far (gets, sets, peeks): how busy the server has been. */
  requestsServed(): number;
  /** True once the manager is closing: failures then are the expected shutdown. */
  readonly closing: boolean;
}

export class Housekeeper {
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  /** Where the next sweep resumes visiting queues, refreshing size estimates and reading heads for expiry. */
  private sizeCursor = 0;
  private expiryCursor = 0;
  private visitCursor = 0;
  private fsyncTimer: NodeJS.Timeout | undefined;
  /** Gives the native heap's free pages back to the system after bursts (src/memory.ts). */
  private readonly heapTrimmer = new HeapTrimmer();

  constructor(
    private readonly target: HousekeepingTarget,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
    clearInterval(this.fsyncTimer);
  }

  /** `fsync <ms>` (server-wide or any queue's): sync LevelDB's log at the shortest interval. */
  scheduleFsync(fsync: FsyncMode, queueConfig: ServerQueueConfig): void {
    clearInterval(this.fsyncTimer);
    this.fsyncTimer = undefined;
    const intervals = [fsync, queueConfig.defaults.fsync];
    for (const q of queueConfig.queues.values()) intervals.push(q.fsync);
    const ms = Math.min(...intervals.filter((f): f is number => typeof f === 'number'));
    const store = this.target.store;
    store.setPeriodicSync(Number.isFinite(ms));
    if (!Number.isFinite(ms)) return;
    this.fsyncTimer = setInterval(() => void store.sync().catch((err: unknown) => this.failed(err, 'periodic fsync failed')), ms);
    this.fsyncTimer.unref();
  }

  /**
   * Every second: drop expired items from queue heads, reclaim consumed ranges, and refresh
   * the on-disk size estimate, each over a bounded number of queues (round robin), so the sweep
   * stays cheap with 100,000 queues. Sweeps never overlap.
   */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const queues = [...this.target.queues.values()];
      await this.sweepHeads(queues);
      await this.refreshSizes(queues);
      this.heapTrimmer.onSweep(this.target.requestsServed());
    } catch (err) {
      // The next sweep tries again.
      this.failed(err, 'sweep failed');
    } finally {
      this.sweeping = false;
    }
  }

  private async sweepHeads(queues: Queue[]): Promise<void> {
    const n = queues.length;
    const writable = () => this.target.store.writable;
    // The short consumed ranges of the queues visited go out in one LevelDB write at the end.
    const reclaims = new ReclaimBatch(this.target.store);
    let packs = PACKS_PER_SWEEP;
    try {
      const visits = Math.min(n, QUEUES_PER_SWEEP);
      for (let k = 0; k < visits; k++) {
        if (k > 0 && k % SWEEP_SLICE === 0) await nextTurn();
        const queue = queues[(this.visitCursor + k) % n]!;
        if (queue.deleted) continue;
        if (writable() && queue.hasExpiringHead(false)) await queue.removeExpired(false);
        // An idle iterator pins a LevelDB snapshot (old files, memory): let it go.
        void queue.housekeep(IDLE_READER_MS, DRAINED_READER_MS, reclaims);
        // Items still held since the last visit: their records stop pinning shared buffers.
        if (packs > 0) packs -= queue.packHeld(packs);
        if (queue.cursors.size > 0) for (const cursor of queue.cursors.values()) cursor.closeIdleReader(IDLE_READER_MS);
      }
      this.visitCursor = n ? (this.visitCursor + visits) % n : 0;
      // Heads only on disk are read for expiry DISK_EXPIRY_CHECKS queues per sweep, in turn:
      // reading every queue's head each second would load 100,000 heads into memory.
      const diskChecks = Math.min(n, DISK_EXPIRY_CHECKS);
      for (let k = 0; k < diskChecks; k++) {
        const queue = queues[(this.expiryCursor + k) % n]!;
        if (!queue.deleted && writable() && queue.hasExpiringHead(true)) await queue.removeExpired(false);
      }
      this.expiryCursor = n ? (this.expiryCursor + diskChecks) % n : 0;
    } finally {
      reclaims.send();
    }
  }

  private async refreshSizes(queues: Queue[]): Promise<void> {
    const count = Math.min(queues.length, SIZES_PER_SWEEP);
    for (let i = 0; i < count; i++) {
      const queue = queues[(this.sizeCursor + i) % queues.length]!;
      if (queue.deleted) continue;
      // LevelDB's estimate counts only table files; recent writes are still in its log.
      const estimate = await this.target.store.approximateSize(prefixRange(itemPrefix(queue.name)));
      queue.logSize = Math.max(estimate, queue.storedSize());
    }
    this.sizeCursor = queues.length ? (this.sizeCursor + count) % queues.length : 0;
  }

  /** A failure of background work: worth a warning, unless the store is closing on purpose. */
  private failed(err: unknown, message: string): void {
    if (!this.target.closing) this.log.warn({ err }, message);
  }
}
