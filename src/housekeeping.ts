// The manager's periodic work: the once-a-second sweep (expiry, idle readers, size estimates,
// heap trimming) and the periodic fsync of `fsync <ms>` queues.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type Logger } from 'pino';
import { type FsyncMode, type ServerQueueConfig } from './config.js';
import { HeapTrimmer } from './memory.js';
import { type Queue } from './queue.js';
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
  /** Where the next sweep resumes refreshing size estimates, and reading heads for expiry. */
  private sizeCursor = 0;
  private expiryCursor = 0;
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
   * the on-disk size estimate of a bounded number of queues (round robin), so the sweep stays
   * cheap with thousands of queues. Sweeps never overlap.
   */
  private async sweep(): Promise<void> {
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
    for (let i = 0; i < n; i++) {
      if (i > 0 && i % SWEEP_SLICE === 0) await nextTurn();
      const queue = queues[i]!;
      if (queue.deleted) continue;
      // Heads only on disk are read for expiry DISK_EXPIRY_CHECKS queues per sweep, in turn:
      // reading every queue's head each second would load 100,000 heads into memory.
      const diskTurn = (i - this.expiryCursor + n) % n < DISK_EXPIRY_CHECKS;
      if (writable() && queue.hasExpiringHead(diskTurn)) await queue.removeExpired(false);
      // An idle iterator pins a LevelDB snapshot (old files, memory): let it go.
      queue.housekeep(IDLE_READER_MS, DRAINED_READER_MS);
      for (const cursor of queue.cursors.values()) cursor.closeIdleReader(IDLE_READER_MS);
    }
    this.expiryCursor = n ? (this.expiryCursor + DISK_EXPIRY_CHECKS) % n : 0;
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
