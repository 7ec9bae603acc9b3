// Time as the domain sees it: the wall clock and timers, injectable so tests drive expiry and
// timeouts without waiting (test/helpers/clock.ts has a manual clock).

/** A timer handle, opaque to the domain. */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once after `ms`; the timer does not keep the process alive. */
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(timer: TimerHandle): void;
}

/** Node fires longer timers at once: a delay beyond ~24.8 days is capped there. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const timer = setTimeout(fn, Math.min(ms, MAX_TIMER_MS));
    timer.unref();
    return timer;
  },
  clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout),
};
