// Blocked readers of one source and their deadlines, in arrival order (Kestrel's
// DeadlineWaitQueue): the oldest waiter is served first; one whose deadline passes is removed and
// told "nothing" (deliver(null)).
import { type Clock, type TimerHandle, systemClock } from './clock.js';
import { Deque } from './deque.js';
import { type Item } from './store/layout.js';

/** How a reader takes an item: removed for good, held open, or only looked at. */
export type TakeMode = 'remove' | 'open' | 'peek';

/** A blocked reader. `deliver` gets the item (already taken for it, unless peek) or null. */
export interface Waiter {
  mode: TakeMode;
  deliver(item: Item | null): void;
}

export class WaiterList {
  private readonly order = new Deque<Waiter>();
  private readonly deadlines = new Map<Waiter, TimerHandle>();

  constructor(private readonly clock: Clock = systemClock) {}

  get length(): number {
    return this.order.length;
  }

  /** Parks `waiter`; unless served or removed first, it gets null after `timeoutMs`. */
  add(waiter: Waiter, timeoutMs: number): void {
    this.order.push(waiter);
    this.deadlines.set(
      waiter,
      this.clock.setTimer(() => {
        if (this.remove(waiter)) waiter.deliver(null);
      }, timeoutMs),
    );
  }

  /** Removes a waiter that stopped waiting (its connection closed); false if it is not here. */
  remove(waiter: Waiter): boolean {
    if (!this.order.remove(waiter)) return false;
    this.clearDeadline(waiter);
    return true;
  }

  /** The oldest waiter, removed from the list (its deadline cancelled); undefined when none. */
  shift(): Waiter | undefined {
    const waiter = this.order.shift();
    if (waiter) this.clearDeadline(waiter);
    return waiter;
  }

  /** Wakes every waiter with nothing (the source is going away or the server stops). */
  cancelAll(): void {
    for (let waiter = this.shift(); waiter; waiter = this.shift()) waiter.deliver(null);
  }

  private clearDeadline(waiter: Waiter): void {
    this.clock.clearTimer(this.deadlines.get(waiter));
    this.deadlines.delete(waiter);
  }
}
