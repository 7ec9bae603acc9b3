// WaiterList: arrival order, deadlines, removal and cancellation, on a manual clock.
import { describe, expect, it } from 'vitest';
import { WaiterList, type Waiter } from '../../src/waiters.js';
import { type Item } from '../../src/store/layout.js';
import { ManualClock } from '../helpers/clock.js';

function recorder(log: Array<[string, Item | null]>, name: string): Waiter {
  return { mode: 'remove', deliver: (item) => log.push([name, item]) };
}

describe('WaiterList', () => {
  it('serves the oldest waiter first and cancels its deadline', () => {
    const clock = new ManualClock();
    const list = new WaiterList(clock);
    const log: Array<[string, Item | null]> = [];
    const a = recorder(log, 'a');
    const b = recorder(log, 'b');
    list.add(a, 1000);
    list.add(b, 1000);
    expect(list.shift()).toBe(a);
    expect(list.length).toBe(1);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(1000);
    expect(log).toEqual([['b', null]]);
    expect(list.length).toBe(0);
  });

  it('times each waiter out at its own deadline, with nothing', () => {
    const clock = new ManualClock();
    const list = new WaiterList(clock);
    const log: Array<[string, Item | null]> = [];
    list.add(recorder(log, 'late'), 500);
    list.add(recorder(log, 'early'), 100);
    clock.advance(99);
    expect(log).toEqual([]);
    clock.advance(1);
    expect(log).toEqual([['early', null]]);
    clock.advance(400);
    expect(log).toEqual([
      ['early', null],
      ['late', null],
    ]);
  });

  it('a removed waiter is neither served nor timed out', () => {
    const clock = new ManualClock();
    const list = new WaiterList(clock);
    const log: Array<[string, Item | null]> = [];
    const a = recorder(log, 'a');
    list.add(a, 100);
    expect(list.remove(a)).toBe(true);
    expect(list.remove(a)).toBe(false);
    clock.advance(1000);
    expect(log).toEqual([]);
    expect(list.shift()).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
  });

  it('cancelAll wakes every waiter with nothing, in order', () => {
    const clock = new ManualClock();
    const list = new WaiterList(clock);
    const log: Array<[string, Item | null]> = [];
    list.add(recorder(log, 'a'), 100);
    list.add(recorder(log, 'b'), 100);
    list.cancelAll();
    expect(log).toEqual([
      ['a', null],
      ['b', null],
    ]);
    expect(clock.pendingTimers).toBe(0);
  });
});
