// Manual compactions of consumed ranges, one at a time. Each manual compaction also writes out
// the memtable: a burst of flushes once queued thousands of them, and a stop waited seconds for
// them. So one runs at a time, and the ranges asked for meanwhile are merged into the next.
import { type StoreLog } from './storeLog.js';
import { errorCode } from './level.js';

interface QueuedCompaction {
  gte: Buffer;
  lt: Buffer;
  done: Promise<void>;
}

export class CompactionScheduler {
  /** The compaction running (settled when none). */
  private running: Promise<void> = Promise.resolve();
  /** The merged range waiting for it. */
  private next: QueuedCompaction | undefined;
  private stopped = false;

  constructor(
    private readonly compactRange: (gte: Buffer, lt: Buffer) => Promise<void>,
    private readonly log: StoreLog,
  ) {}

  /**
   * Compacts [gte, lt) once the running compaction ends, together with every range asked for
   * until then. The promise settles with that compaction (resolves at once after stop()).
   */
  request(gte: Buffer, lt: Buffer): Promise<void> {
    const next = this.next;
    if (next) {
      if (Buffer.compare(gte, next.gte) < 0) next.gte = gte;
      if (Buffer.compare(lt, next.lt) > 0) next.lt = lt;
      return next.done;
    }
    const queued: QueuedCompaction = { gte, lt, done: Promise.resolve() };
    queued.done = this.running.then(() => {
      this.next = undefined;
      if (this.stopped) return;
      return this.compactRange(queued.gte, queued.lt);
    });
    this.next = queued;
    this.running = queued.done.catch((err: unknown) => {
      // Tolerable: compaction only reclaims space, and the range is asked for again with the
      // next consumed one. The requester learns of it through `done`; the next one still runs.
      if (!this.stopped) this.log.warn({ err, code: errorCode(err) }, 'store: compaction failed');
    });
    return queued.done;
  }

  /** The store closes: compactions not yet started are skipped. */
  stop(): void {
    this.stopped = true;
  }
}
