// Queue in-process: a real Store over LevelDB in a temp dir, a manual clock, no server. Order,
// open items, peeks, waiters and their deadlines, expiry by moving the clock, flush and delete.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DomainHarness, drain, numbered, recordingWaiter, take, text } from '../helpers/domain.js';

let h: DomainHarness;
beforeEach(async () => {
  h = await DomainHarness.open();
});
afterEach(async () => {
  await h.close();
});

describe('Queue: order', () => {
  it('serves items first in, first out', async () => {
    const q = await h.queue('fifo');
    for (let i = 0; i < 5; i++) h.set(q, `item-${i}`);
    expect(q.items).toBe(5);
    expect(await drain(q)).toEqual(['item-0', 'item-1', 'item-2', 'item-3', 'item-4']);
    expect(q.items).toBe(0);
    expect(q.counters.getHits).toBe(5);
    expect(q.counters.getMisses).toBe(1);
  });

  it('keeps the order past the head window, reading the rest back from the store', async () => {
    const q = await h.queue('long');
    const sent = numbered('n', 5000);
    for (const value of sent) h.set(q, value);
    expect(q.memItems).toBeLessThan(sent.length); // the window is capped: the rest stay on disk
    expect(await drain(q)).toEqual(sent);
  });

  it('keeps what was stored and not what was consumed across a reopen of the store', async () => {
    let q = await h.queue('durable');
    for (let i = 0; i < 10; i++) h.set(q, `d${i}`);
    await h.store.written();
    for (let i = 0; i < 3; i++) await take(q);
    await h.store.written();
    await h.store.close();
    await h.reopen();
    q = await h.queue('durable');
    expect(q.items).toBe(7);
    expect(await drain(q)).toEqual(['d3', 'd4', 'd5', 'd6', 'd7', 'd8', 'd9']);
  });
});

describe('Queue: open items and peeks', () => {
  it('an open item is held apart; release returns it to the head, confirm deletes it', async () => {
    const q = await h.queue('tx');
    for (const v of ['a', 'b', 'c']) h.set(q, v);
    const a = (await take(q, 'open'))!;
    expect(text(a)).toBe('a');
    expect(q.isOpen(a)).toBe(true);
    expect(q.items).toBe(2);
    expect(q.openCount).toBe(1);
    expect(q.headId()).toBe(a.id);

    expect(q.release(a)).toBe(true);
    expect(q.release(a)).toBe(false); // no longer open
    expect(q.counters.canceledTransactions).toBe(1);
    expect(q.items).toBe(3);

    const again = (await take(q, 'open'))!;
    expect(text(again)).toBe('a'); // back first, in id order
    expect(q.confirm(again)).toBe(true);
    expect(q.confirm(again)).toBe(false);
    expect(q.isOpen(again)).toBe(false);
    expect(await drain(q)).toEqual(['b', 'c']);
  });

  it('an item released behind newer ones goes back in id order', async () => {
    const q = await h.queue('tx-order');
    for (const v of ['a', 'b', 'c']) h.set(q, v);
    const a = (await take(q, 'open'))!;
    const b = (await take(q, 'open'))!;
    q.release(b);
    q.release(a);
    expect(await drain(q)).toEqual(['a', 'b', 'c']);
  });

  it('a peek looks at the head without taking it', async () => {
    const q = await h.queue('peek');
    h.set(q, 'only');
    expect(text(await take(q, 'peek'))).toBe('only');
    expect(text(await take(q, 'peek'))).toBe('only');
    expect(q.items).toBe(1);
    expect(text(await take(q))).toBe('only');
    expect(await take(q, 'peek')).toBeNull();
  });
});

describe('Queue: waiters', () => {
  it('serves blocked readers oldest first: peekers see an item, one taker takes it', async () => {
    const q = await h.queue('wait');
    const got: Array<string | null> = [];
    const peeker = recordingWaiter('peek', got);
    const first = recordingWaiter('remove', got);
    const second = recordingWaiter('open', got);
    q.addWaiter(peeker, 10_000);
    q.addWaiter(first, 10_000);
    q.addWaiter(second, 10_000);
    h.set(q, 'x');
    expect(got).toEqual(['x', 'x']); // the peeker saw it, the first taker took it
    expect(q.waiterCount).toBe(1);
    h.set(q, 'y');
    expect(got).toEqual(['x', 'x', 'y']);
    expect(q.openCount).toBe(1); // the second taker holds y open
    expect(q.items).toBe(0);
    expect(h.clock.pendingTimers).toBe(0); // served waiters leave no deadline behind
  });

  it('times a blocked reader out at its deadline, on the clock, with nothing', async () => {
    const q = await h.queue('timeout');
    const got: Array<string | null> = [];
    const waiter = recordingWaiter('remove', got);
    q.addWaiter(waiter, 1000);
    h.clock.advance(999);
    expect(got).toEqual([]);
    h.clock.advance(1);
    expect(got).toEqual([null]);
    expect(q.waiterCount).toBe(0);
    h.set(q, 'late');
    expect(got).toEqual([null]); // a timed-out reader is not served
    expect(q.items).toBe(1);
  });

  it('a removed waiter (its connection closed) is neither served nor timed out', async () => {
    const q = await h.queue('gone');
    const got: Array<string | null> = [];
    const waiter = recordingWaiter('remove', got);
    q.addWaiter(waiter, 100);
    q.removeWaiter(waiter);
    h.clock.advance(1000);
    h.set(q, 'kept');
    expect(got).toEqual([]);
    expect(q.items).toBe(1);
  });

  it('a released item goes straight to a blocked reader', async () => {
    const q = await h.queue('handoff');
    h.set(q, 'one');
    const item = (await take(q, 'open'))!;
    const got: Array<string | null> = [];
    q.addWaiter(recordingWaiter('remove', got), 5000);
    q.release(item);
    expect(got).toEqual(['one']);
    expect(q.items).toBe(0);
  });
});

describe('Queue: expiry on the clock', () => {
  it('an item past its expiry is never served; it goes to the expire sink', async () => {
    const q = await h.queue('ttl');
    h.set(q, 'short', 1000);
    h.set(q, 'forever');
    h.clock.advance(999);
    expect(text(await take(q, 'peek'))).toBe('short');
    h.clock.advance(1);
    expect(text(await take(q))).toBe('forever');
    expect(q.counters.expiredItems).toBe(1);
    expect(h.expired.map(([from, item]) => [from, text(item)])).toEqual([['ttl', 'short']]);
  });

  it('removeExpired drops expired heads and reports how many', async () => {
    const q = await h.queue('sweep');
    for (let i = 0; i < 3; i++) h.set(q, `old${i}`, 500);
    h.set(q, 'young', 5000);
    expect(q.hasExpiringHead(false)).toBe(false);
    h.clock.advance(500);
    expect(q.hasExpiringHead(false)).toBe(true);
    expect(await q.removeExpired(true)).toBe(3);
    expect(q.items).toBe(1);
  });

  it('an open item that expired while open is expired, not served, when released', async () => {
    const q = await h.queue('open-ttl');
    h.set(q, 'brief', 100);
    const item = (await take(q, 'open'))!;
    h.clock.advance(100);
    expect(q.release(item)).toBe(true);
    expect(q.counters.expiredItems).toBe(1);
    expect(await take(q)).toBeNull();
  });

  it('an expired item is not handed to a waiter', async () => {
    const q = await h.queue('expired-offer');
    h.set(q, 'brief', 100);
    const item = (await take(q, 'open'))!;
    const got: Array<string | null> = [];
    q.addWaiter(recordingWaiter('remove', got), 10_000);
    h.clock.advance(100);
    q.release(item);
    expect(got).toEqual([]);
    expect(q.waiterCount).toBe(1);
    expect(q.counters.expiredItems).toBe(1);
  });
});

describe('Queue: flush and delete', () => {
  it('flush drops every item, open ones too; waiters keep waiting for new items', async () => {
    const q = await h.queue('flush');
    for (const v of ['a', 'b', 'c']) h.set(q, v);
    const open = (await take(q, 'open'))!;
    await q.flush();
    expect(q.items).toBe(0);
    expect(q.isOpen(open)).toBe(false);
    expect(q.confirm(open)).toBe(false);
    expect(q.counters.totalFlushes).toBe(1);
    const got: Array<string | null> = [];
    q.addWaiter(recordingWaiter('remove', got), 1000);
    h.set(q, 'after');
    expect(got).toEqual(['after']);
  });

  it('delete wakes every waiter with nothing and clears their deadlines', async () => {
    const q = await h.queue('delete');
    const got: Array<string | null> = [];
    q.addWaiter(recordingWaiter('remove', got), 1000);
    q.addWaiter(recordingWaiter('peek', got), 2000);
    await q.destroy();
    expect(got).toEqual([null, null]);
    expect(q.deleted).toBe(true);
    expect(h.clock.pendingTimers).toBe(0);
    await h.store.written();
    expect((await h.store.loadQueueMetas()).has('delete')).toBe(false);
  });

  it('a load in flight when the queue is flushed installs nothing (the generation guard)', async () => {
    const q = await h.queueOnDisk('guard', numbered('stale', 20));
    const loading = q.take('remove');
    expect(loading).toBeInstanceOf(Promise); // the items are only on disk
    const flushed = q.flush();
    await loading;
    await flushed;
    expect(q.memItems).toBe(0);
    expect(await take(q)).toBeNull();
    h.set(q, 'fresh');
    expect(await drain(q)).toEqual(['fresh']);
  });

  it('a load in flight when the queue is deleted installs nothing', async () => {
    const q = await h.queueOnDisk('guard-delete', numbered('stale', 20));
    const loading = q.take('remove');
    expect(loading).toBeInstanceOf(Promise);
    const deleted = q.destroy();
    await loading;
    await deleted;
    expect(q.memItems).toBe(0);
    expect(q.items).toBe(0);
    expect(h.budget.used).toBe(0); // nothing installed counts against the shared budget
  });
});
