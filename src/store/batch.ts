// A batch: the writes of one turn of the event loop, logged as one record and applied to LevelDB
// as one write, and the signals that tell who waits on it when it is durable and applied.
import { type BatchOp } from './layout.js';

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
export class Signal {
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
export class Batch {
  ops: BatchOp[] = [];
  participants = new Set<BatchParticipant>();
  sync = false;
  /** A reply waits for it: log it this turn rather than with a later write. */
  wanted = false;
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
