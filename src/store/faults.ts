// Failing closed: when the log or LevelDB refuses a write (disk full, descriptors exhausted,
// EIO), the store refuses new writes, says so once, and retries with backoff until the kept
// batches go through. A LevelDB that failed is closed and opened again before the retry: its
// background errors otherwise stay for the life of the process.
import { errorCode } from './level.js';
import { type StoreLog } from './storeLog.js';

export const RETRY_MS = 100;
const RETRY_MAX_MS = 2000;

/** A write that failed and is being retried: the store refuses new writes meanwhile. */
export interface StoreFault {
  /** Where: the write-ahead log, or LevelDB. */
  where: 'log' | 'leveldb';
  /** The error's code (ENOSPC, EMFILE, EIO, …) — safe to show a client; never a path. */
  code: string;
  since: number;
}

/** What a retry does, in order; the store's to carry out. */
export interface RecoverySteps {
  /** An ordered task or LevelDB write is still out: reopening now would pull LevelDB from under it. */
  busy(): boolean;
  /** Closes and opens LevelDB. */
  reopen(): Promise<void>;
  /** Appends the batches the log refused, in order; false when it refused again. */
  relog(): boolean;
  /** Every sealed batch is in the log (none waits for a retry of the log). */
  allLogged(): boolean;
  /** Applies the kept batches before anything else; resolves once every write so far is applied. */
  resume(): Promise<void>;
}

export class FaultRecovery {
  fault: StoreFault | undefined;
  /** I/O errors seen since start, by where they happened. */
  readonly errors = { log: 0, leveldb: 0 };
  /** LevelDB failed a write: reopen it before the next one. */
  levelBroken = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;
  private stopped = false;
  /** A failed reopen was reported during this fault (the next ones are only counted). */
  private reopenReported = false;

  constructor(
    private readonly steps: RecoverySteps,
    private readonly log: StoreLog,
    private readonly firstDelayMs: number = RETRY_MS,
  ) {
    this.retryDelay = firstDelayMs;
  }

  /** A write failed: refuse new writes, say so once, and retry with backoff. */
  failed(where: StoreFault['where'], err: unknown): void {
    this.errors[where]++;
    if (where === 'leveldb') this.levelBroken = true;
    if (!this.fault) {
      this.fault = { where, code: errorCode(err), since: Date.now() };
      this.log.error({ err, where, code: this.fault.code }, 'store write failed: refusing writes, retrying until it works');
    }
    this.scheduleRetry();
  }

  /** Cancels the pending retry timer (the store retries once itself before closing). */
  cancelTimer(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** The store closes: no retry from now on. */
  stop(): void {
    this.stopped = true;
    this.cancelTimer();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.retry();
    }, this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
  }

  /** Reopens LevelDB if it failed, logs what the log refused, and applies the kept batches. */
  async retry(): Promise<void> {
    if (this.stopped) return;
    if (this.levelBroken) {
      if (this.steps.busy()) return this.scheduleRetry();
      try {
        await this.steps.reopen();
      } catch (err) {
        this.reopenFailed(err);
        return this.scheduleRetry();
      }
      this.levelBroken = false;
    }
    if (!this.steps.relog()) return; // failed again, retry scheduled
    // The failed LevelDB write goes first; the fault clears once it has gone through.
    this.steps.resume().then(
      () => this.clearFault(),
      // Rejected only when the store closes with the batch unkept: the expected shutdown, and
      // close() reports the batches it gives up.
      () => undefined,
    );
  }

  private reopenFailed(err: unknown): void {
    this.errors.leveldb++;
    if (this.reopenReported) return;
    this.reopenReported = true;
    // Tolerable: the store stays in its fault state and tries again with backoff.
    this.log.warn({ err, code: errorCode(err) }, 'store: reopening LevelDB failed; retrying');
  }

  private clearFault(): void {
    if (!this.fault || this.levelBroken || !this.steps.allLogged()) return;
    const { where, code, since } = this.fault;
    this.fault = undefined;
    this.reopenReported = false;
    this.retryDelay = this.firstDelayMs;
    this.log.warn({ where, code, downMs: Date.now() - since }, 'store writable again');
  }
}
