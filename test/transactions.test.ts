// Open transactions (docs/protocol.md#reliable-reads, docs/protocol.md#queue-limits-expiry-and-configuration): max_open_transactions, /close and /abort oldest first,
// open_transaction_timeout, and the stats that count them — end to end over real TCP.
import { describe, expect, it } from 'vitest';
import { fill, queueNamer, sleep } from './helpers/fixtures.js';
import { useInProcessServer } from './helpers/inProcess.js';
import { closeAndWait, queueStats, waitForStat } from './helpers/stats.js';
import { CLOSE_FIRST, setCmd, value } from './helpers/textClient.js';

const CONFIG = {
  queues: {
    multi: { max_open_transactions: 3 },
    multi2: { max_open_transactions: 3 },
    timed: { open_transaction_timeout: '300ms' },
    timed2: { open_transaction_timeout: '300ms', max_open_transactions: 2 },
  },
};

const { connect } = useInProcessServer({ config: CONFIG, tmpPrefix: 'siberite-tx-' });
const qname = queueNamer('t');

describe('docs/protocol.md#reliable-reads max_open_transactions', () => {
  it('3 lets one connection hold 3 open items of a queue; the 4th → CLIENT_ERROR Close current item first', async () => {
    const c = await connect();
    const other = await connect();
    await fill(c, 'multi', ['a', 'b', 'c', 'd', 'e']);
    expect(await c.call('get multi/open\r\n')).toBe(value('multi', 'a'));
    expect(await c.call('get multi/open\r\n')).toBe(value('multi', 'b'));
    expect(await c.call('get multi/open\r\n')).toBe(value('multi', 'c'));
    expect(await c.call('get multi/open\r\n')).toBe(CLOSE_FIRST);
    // A plain get while items are open is refused too; peek is allowed.
    expect(await c.call('get multi\r\n')).toBe(CLOSE_FIRST);
    expect(await c.call('get multi/peek\r\n')).toBe(value('multi', 'd'));
    expect(await queueStats(other, 'multi', ['items', 'open_transactions', 'transactions'])).toEqual({
      items: '2',
      open_transactions: '3',
      transactions: '3',
    });
    // The limit is per connection: another connection opens its own.
    expect(await other.call('get multi/open\r\n')).toBe(value('multi', 'd'));
    // close-then-open keeps the count at the limit: closes a, opens e.
    expect(await c.call('get multi/close/open\r\n')).toBe(value('multi', 'e'));
    expect(await c.call('get multi/open\r\n')).toBe(CLOSE_FIRST);
    expect(await queueStats(other, 'multi', ['items', 'open_transactions', 'transactions'])).toEqual({
      items: '0',
      open_transactions: '4',
      transactions: '5',
    });
    // The limit is per queue: an item of another queue can still be opened.
    await fill(other, 'multi2', ['m']);
    expect(await c.call('get multi2/open\r\n')).toBe(value('multi2', 'm'));
    expect(await c.call('get multi2/close\r\n')).toBe('END\r\n');
    // Clean up: c holds b, c, e; other holds d.
    for (let i = 0; i < 3; i++) expect(await c.call('get multi/close\r\n')).toBe('END\r\n');
    expect(await other.call('get multi/close\r\n')).toBe('END\r\n');
    expect(await queueStats(other, 'multi', ['items', 'open_transactions'])).toEqual({ items: '0', open_transactions: '0' });
  });

  it('/close and /abort act on the oldest open item first', async () => {
    const c = await connect();
    const other = await connect();
    await fill(other, 'multi', ['a', 'b', 'c', 'd']);
    expect(await c.call('get multi/open\r\n')).toBe(value('multi', 'a'));
    expect(await c.call('get multi/open\r\n')).toBe(value('multi', 'b'));
    expect(await c.call('get multi/open\r\n')).toBe(value('multi', 'c'));
    // close → a is confirmed (gone for good).
    expect(await c.call('get multi/close\r\n')).toBe('END\r\n');
    // abort → b (now the oldest) goes back to the head.
    expect(await c.call('get multi/abort\r\n')).toBe('END\r\n');
    expect(await other.call('get multi/peek\r\n')).toBe(value('multi', 'b'));
    expect(await queueStats(other, 'multi', ['items', 'open_transactions', 'canceled_transactions'])).toEqual({
      items: '2',
      open_transactions: '1',
      canceled_transactions: '1',
    });
    // Re-open b: c now holds c (older) then b (newer); close confirms c.
    expect(await c.call('get multi/open\r\n')).toBe(value('multi', 'b'));
    expect(await c.call('get multi/close\r\n')).toBe('END\r\n');
    // abort returns b; the head is b, then d.
    expect(await c.call('get multi/abort\r\n')).toBe('END\r\n');
    // Nothing open any more: close and abort are no-ops.
    expect(await c.call('get multi/close\r\n')).toBe('END\r\n');
    expect(await c.call('get multi/abort\r\n')).toBe('END\r\n');
    expect(await other.call('get multi\r\n')).toBe(value('multi', 'b'));
    expect(await other.call('get multi\r\n')).toBe(value('multi', 'd'));
    expect(await other.call('get multi\r\n')).toBe('END\r\n');
  });

  it('a disconnect returns all open items to the head in their original order', async () => {
    const c = await connect();
    const other = await connect();
    await fill(other, 'multi', ['p', 'q', 'r', 's']);
    for (const v of ['p', 'q', 'r']) expect(await c.call('get multi/open\r\n')).toBe(value('multi', v));
    await closeAndWait(c, other);
    for (const v of ['p', 'q', 'r', 's']) expect(await other.call('get multi\r\n')).toBe(value('multi', v));
    expect(await other.call('get multi\r\n')).toBe('END\r\n');
  });
});

describe('docs/protocol.md#queue-limits-expiry-and-configuration open_transaction_timeout', () => {
  it('returns an open item to the head by itself; another connection gets it; a later /close is a no-op', async () => {
    const owner = await connect();
    const other = await connect();
    await fill(other, 'timed', ['job', 'next']);
    const before = await queueStats(other, 'timed', ['canceled_transactions']);
    const t0 = performance.now();
    expect(await owner.call('get timed/open\r\n')).toBe(value('timed', 'job'));
    // While open, the head is "next". Nothing but the timeout returns "job" to the head, and no
    // client sees that happen: poll the head (bounded) until it is "job" again.
    expect(await other.call('get timed/peek\r\n')).toBe(value('timed', 'next'));
    let head = '';
    for (let i = 0; i < 300 && head !== value('timed', 'job'); i++) {
      head = await other.call('get timed/peek\r\n');
      if (head !== value('timed', 'job')) await sleep(5);
    }
    expect(head).toBe(value('timed', 'job'));
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2000);
    const after = await queueStats(other, 'timed', ['canceled_transactions', 'open_transactions', 'items']);
    expect(Number(after.canceled_transactions) - Number(before.canceled_transactions)).toBe(1);
    expect(after.open_transactions).toBe('0');
    expect(after.items).toBe('2');
    // The other connection takes it open; the owner's late /close confirms nothing.
    expect(await other.call('get timed/open\r\n')).toBe(value('timed', 'job'));
    expect(await owner.call('get timed/close\r\n')).toBe('END\r\n');
    expect(await queueStats(other, 'timed', ['open_transactions', 'items'])).toEqual({ open_transactions: '1', items: '1' });
    // The owner is free to open again (its timed-out item no longer counts).
    expect(await owner.call('get timed/open\r\n')).toBe(value('timed', 'next'));
    expect(await owner.call('get timed/close\r\n')).toBe('END\r\n');
    expect(await other.call('get timed/close\r\n')).toBe('END\r\n');
    expect(await queueStats(other, 'timed', ['open_transactions', 'items'])).toEqual({ open_transactions: '0', items: '0' });
  });

  it('hands the timed-out item straight to a waiter blocked on the queue', async () => {
    const owner = await connect();
    const waiter = await connect();
    const observer = await connect();
    await fill(observer, 'timed', ['only']);
    const before = Number((await queueStats(observer, 'timed', ['canceled_transactions'])).canceled_transactions);
    const t0 = performance.now();
    expect(await owner.call('get timed/open\r\n')).toBe(value('timed', 'only'));
    expect(await waiter.call('get timed/open/t=3000\r\n')).toBe(value('timed', 'only'));
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2000);
    const stats = await queueStats(observer, 'timed', ['canceled_transactions', 'open_transactions', 'waiters']);
    expect(Number(stats.canceled_transactions) - before).toBe(1);
    expect(stats.open_transactions).toBe('1');
    expect(stats.waiters).toBe('0');
    // The owner's /close is a no-op: the waiter still holds the item, and confirms it.
    expect(await owner.call('get timed/close\r\n')).toBe('END\r\n');
    expect((await queueStats(observer, 'timed', ['open_transactions'])).open_transactions).toBe('1');
    expect(await waiter.call('get timed/close\r\n')).toBe('END\r\n');
    expect(await queueStats(observer, 'timed', ['open_transactions', 'items'])).toEqual({ open_transactions: '0', items: '0' });
  });

  it('times out each open item separately, oldest first, in order back at the head', async () => {
    const owner = await connect();
    const other = await connect();
    await fill(other, 'timed2', ['one', 'two', 'three']);
    expect(await owner.call('get timed2/open\r\n')).toBe(value('timed2', 'one'));
    expect(await owner.call('get timed2/open\r\n')).toBe(value('timed2', 'two'));
    expect(await owner.call('get timed2/open\r\n')).toBe(CLOSE_FIRST);
    await waitForStat(other, 'queue_timed2_open_transactions', '0');
    expect(await other.call('get timed2\r\n')).toBe(value('timed2', 'one'));
    expect(await other.call('get timed2\r\n')).toBe(value('timed2', 'two'));
    expect(await owner.call('get timed2/close\r\n')).toBe('END\r\n');
    expect(await owner.call('get timed2/abort\r\n')).toBe('END\r\n');
    expect(await other.call('get timed2\r\n')).toBe(value('timed2', 'three'));
  });

  it('a confirmed item does not come back when its timeout would have passed', async () => {
    const c = await connect();
    await fill(c, 'timed', ['done']);
    expect(await c.call('get timed/open\r\n')).toBe(value('timed', 'done'));
    expect(await c.call('get timed/close\r\n')).toBe('END\r\n');
    // Time is the thing tested: wait past the 300 ms timeout.
    await sleep(400);
    expect(await c.call('get timed\r\n')).toBe('END\r\n');
  });
});

describe('docs/protocol.md#statistics stats for transactions', () => {
  it('transactions, open_transactions, canceled_transactions, waiters and age move', async () => {
    const c = await connect();
    const w = await connect();
    const q = qname();
    await fill(c, q, ['x']);
    const s0 = await queueStats(c, q, ['transactions', 'open_transactions', 'canceled_transactions', 'waiters', 'age']);
    expect(s0).toEqual({ transactions: '0', open_transactions: '0', canceled_transactions: '0', waiters: '0', age: '0' });

    // age: ms the last fetched item waited in the queue (time is the thing measured).
    await sleep(150);
    expect(await c.call(`get ${q}/open\r\n`)).toBe(value(q, 'x'));
    const s1 = await queueStats(c, q, ['transactions', 'open_transactions', 'age']);
    expect(s1.transactions).toBe('1');
    expect(s1.open_transactions).toBe('1');
    expect(Number(s1.age)).toBeGreaterThanOrEqual(140);
    expect(Number(s1.age)).toBeLessThan(5000);

    expect(await c.call(`get ${q}/abort\r\n`)).toBe('END\r\n');
    expect(await queueStats(c, q, ['open_transactions', 'canceled_transactions'])).toEqual({
      open_transactions: '0',
      canceled_transactions: '1',
    });
    expect(await c.call(`get ${q}/open\r\n`)).toBe(value(q, 'x'));
    expect(await c.call(`get ${q}/close\r\n`)).toBe('END\r\n');
    expect(await queueStats(c, q, ['transactions', 'open_transactions', 'canceled_transactions', 'items'])).toEqual({
      transactions: '2',
      open_transactions: '0',
      canceled_transactions: '1',
      items: '0',
    });

    // waiters: a blocked read counts while it waits, and not after.
    w.send(`get ${q}/t=3000\r\n`);
    await waitForStat(c, `queue_${q}_waiters`, '1');
    expect(await c.call(setCmd(q, 'y'))).toBe('STORED\r\n');
    expect(await w.readReply()).toBe(value(q, 'y'));
    expect((await queueStats(c, q, ['waiters'])).waiters).toBe('0');
    // A plain get counts no transaction; an item handed straight to a waiter waited ~0 ms.
    const s2 = await queueStats(c, q, ['transactions', 'age']);
    expect(s2.transactions).toBe('2');
    expect(Number(s2.age)).toBeLessThan(140);
  });
});
