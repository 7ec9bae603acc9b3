// What a reader reads from: a queue (consuming) or a cursor of a queue (not consuming).
import { type QueueConfig } from './config.js';
import { type Item } from './store/layout.js';
import { type TakeMode, type Waiter } from './waiters.js';

export interface ReadSource {
  readonly config: QueueConfig;
  /**
   * The head item, taken as `mode` says; null when empty; a promise when it must be read from
   * the store first: take again once it settles (the reader may be gone by then).
   */
  take(mode: TakeMode): Item | null | Promise<void>;
  /** Confirms an open item (done with it). False when it is no longer open here. */
  confirm(item: Item): boolean;
  /** False once a flush or delete dropped the item. */
  isOpen(item: Item): boolean;
  /** Returns an open item to be served again first. False when it is no longer open here. */
  release(item: Item): boolean;
  /** Parks a blocked reader; the source times it out (deliver(null)) after `timeoutMs`. */
  addWaiter(waiter: Waiter, timeoutMs: number): void;
  /** Forgets a blocked reader that stopped waiting (its connection closed). */
  removeWaiter(waiter: Waiter): void;
}
