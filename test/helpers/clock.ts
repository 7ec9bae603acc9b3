// A clock tests move by hand: timers fire, in deadline order, only inside advance().
import { type Clock, type TimerHandle } from '../../src/clock.js';

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  private pending: PendingTimer[] = [];
  private seq = 0;

  constructor(private current = 1_700_000_000_000) {}

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const timer: PendingTimer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn };
    this.pending.push(timer);
    return timer;
  }

  clearTimer(timer: TimerHandle): void {
    this.pending = this.pending.filter((t) => t !== timer);
  }

  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.pending.length;
  }

  /** Moves time forward by `ms`, firing every timer due on the way (bounded: 100,000 firings). */
  advance(ms: number): void {
    const until = this.current + ms;
    for (let fired = 0; fired < 100_000; fired++) {
      const next = this.pending.filter((t) => t.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.pending = this.pending.filter((t) => t !== next);
      this.current = Math.max(this.current, next.at);
      next.fn();
    }
    this.current = until;
  }
}
