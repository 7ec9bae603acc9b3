// Expiry (docs/protocol.md#adding-items-set exptime, docs/protocol.md#queue-limits-expiry-and-configuration max_age / expire_to_queue / sweep / flush_expired): time is the
// event under test here, so a few bounded waits of about a second are unavoidable. Where the
// effect has an observable end (the sweep removing items, a blocked read answering) the test
// waits for that instead, polling `stats` with a bound.
import { describe, expect, it } from 'vitest';
import { queueNamer, sleep, useServer, withOwnServer } from './helpers/fixtures.js';
import { type PollBound, stat, waitForStats } from './helpers/stats.js';
import { TextClient, setCmd, value } from './helpers/textClient.js';

const CONFIG = {
  queues: {
    aged: { max_age: '300ms' },
    swept: { max_age: '200ms' },
    pending: { max_age: '1s', expire_to_queue: 'ready' },
    delayed: { expire_to_queue: 'ready2' },
  },
};

const fx = useServer({ config: CONFIG, tmpPrefix: 'siberite-expiry-' });
const { connect } = fx;
const qname = queueNamer('e');

/** This file polls `stats` every 10 ms, for ~3 s unless a test allows more or less. */
const within = (limitMs = 3000): PollBound => ({ tries: 1000, intervalMs: 10, limitMs });

/**
 * Waits for a background sweep to pass: an already-expired probe item disappears from `items`
 * without any get only when the sweep removes it. Right after, the next sweep is ~1 s away, so a
 * test can set expired items and count them with flush_expired without the sweep taking them first.
 */
async function afterSweep(c: TextClient): Promise<void> {
  const probe = qname('probe');
  expect(await c.call(setCmd(probe, 'p', 0, -1))).toBe('STORED\r\n');
  await waitForStats(c, { [`queue_${probe}_items`]: '0' }, within(2500));
  expect(await c.call(`delete ${probe}\r\n`)).toBe('DELETED\r\n');
}

describe('docs/protocol.md#adding-items-set exptime', () => {
  it('relative seconds, absolute Unix seconds and max_age: served until then, never after', async () => {
    const c = await connect();
    const rel = qname('rel');
    const abs = qname('abs');
    // An absolute exptime 0.6–1.6 s ahead (whole Unix seconds).
    const absSeconds = Math.ceil((Date.now() + 600) / 1000);
    expect(absSeconds).toBeGreaterThanOrEqual(1_000_000);
    const t0 = Date.now();
    expect(await c.call(setCmd(rel, 'one-second', 3, 1))).toBe('STORED\r\n');
    expect(await c.call(setCmd(abs, 'absolute', 4, absSeconds))).toBe('STORED\r\n');
    // max_age 300ms caps both "never" (0) and a long exptime (100 s).
    expect(await c.call(setCmd('aged', 'never', 0, 0))).toBe('STORED\r\n');
    expect(await c.call(setCmd('aged', 'long', 0, 100))).toBe('STORED\r\n');
    // A queue without limits keeps an item with exptime 0.
    expect(await c.call(setCmd(rel, 'forever-after', 0, 0))).toBe('STORED\r\n');

    expect(await c.call(`get ${rel}/peek\r\n`)).toBe(value(rel, 'one-second', 3));
    expect(await c.call(`get ${abs}/peek\r\n`)).toBe(value(abs, 'absolute', 4));
    expect(await c.call('get aged/peek\r\n')).toBe(value('aged', 'never'));

    // Past max_age (300 ms), before the 1 s exptime.
    await sleep(Math.max(0, t0 + 450 - Date.now()));
    expect(await c.call('get aged/peek\r\n')).toBe('END\r\n');
    expect(await c.call('get aged\r\n')).toBe('END\r\n');
    if (Date.now() < t0 + 900) expect(await c.call(`get ${rel}/peek\r\n`)).toBe(value(rel, 'one-second', 3));

    // Past both the relative (1 s) and the absolute exptime.
    await sleep(Math.max(0, Math.max(t0 + 1100, absSeconds * 1000 + 100) - Date.now()));
    expect(await c.call(`get ${rel}/peek\r\n`)).toBe(value(rel, 'forever-after'));
    expect(await c.call(`get ${rel}\r\n`)).toBe(value(rel, 'forever-after'));
    expect(await c.call(`get ${abs}\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${abs}/open\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${rel}\r\n`)).toBe('END\r\n');
  });

  it('an exptime in the past (negative relative, or an old Unix time) is never served', async () => {
    const c = await connect();
    const q = qname('past');
    expect(await c.call(setCmd(q, 'neg', 0, -1))).toBe('STORED\r\n');
    expect(await c.call(setCmd(q, 'old', 0, 1_000_000))).toBe('STORED\r\n');
    expect(await c.call(setCmd(q, 'y2001', 0, 1_000_000_000))).toBe('STORED\r\n');
    expect(await c.call(setCmd(q, 'live', 0, 0))).toBe('STORED\r\n');
    expect(await c.call(`get ${q}/peek\r\n`)).toBe(value(q, 'live'));
    expect(await c.call(`get ${q}/open\r\n`)).toBe(value(q, 'live'));
    expect(await c.call(`get ${q}/close\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
    // Seen by the gets: 3 expired, none left.
    const stats = await c.call('stats\r\n');
    expect(stat(stats, `queue_${q}_expired_items`)).toBe('3');
    expect(stat(stats, `queue_${q}_items`)).toBe('0');
  });

  it('a blocked read is not handed an item that is already expired', async () => {
    const c = await connect();
    const w = await connect();
    const q = qname('wexp');
    w.send(`get ${q}/t=600\r\n`);
    await waitForStats(c, { [`queue_${q}_waiters`]: '1' }, within());
    expect(await c.call(setCmd(q, 'dead', 0, -1))).toBe('STORED\r\n');
    expect(await c.call(setCmd(q, 'alive', 0, 0))).toBe('STORED\r\n');
    expect(await w.readReply()).toBe(value(q, 'alive'));
  });
});

describe('docs/protocol.md#queue-limits-expiry-and-configuration sweep, expired_items, flush_expired', () => {
  it('the background sweep removes expired items with no get, counting expired_items', async () => {
    const c = await connect();
    for (const v of ['a', 'b', 'c']) expect(await c.call(setCmd('swept', v))).toBe('STORED\r\n');
    const before = await c.call('stats\r\n');
    expect(stat(before, 'queue_swept_items')).toBe('3');
    expect(stat(before, 'queue_swept_expired_items')).toBe('0');
    // max_age 200 ms, sweep every second: gone within ~1.3 s, without any read.
    await waitForStats(c, { queue_swept_items: '0', queue_swept_expired_items: '3', queue_swept_bytes: '0' }, within());
    expect(await c.call('get swept\r\n')).toBe('END\r\n');
  });

  it('flush_expired <q> removes the expired head items and answers their count', async () => {
    const c = await connect();
    const q = qname('fe');
    await afterSweep(c);
    const expired = ['x1', 'x2', 'x3'].map((v) => setCmd(q, v, 0, -1));
    c.send(Buffer.concat([...expired, Buffer.from(`flush_expired ${q}\r\n`)]));
    for (const _ of expired) expect(await c.readReply()).toBe('STORED\r\n');
    expect(await c.readReply()).toBe('3\r\n');
    const stats = await c.call('stats\r\n');
    expect(stat(stats, `queue_${q}_items`)).toBe('0');
    expect(stat(stats, `queue_${q}_expired_items`)).toBe('3');
    // Nothing expired left: 0. An unexpired item stays.
    expect(await c.call(setCmd(q, 'live'))).toBe('STORED\r\n');
    expect(await c.call(`flush_expired ${q}\r\n`)).toBe('0\r\n');
    expect(await c.call(`get ${q}\r\n`)).toBe(value(q, 'live'));
    // A queue that does not exist: 0.
    expect(await c.call(`flush_expired ${qname('nosuch')}\r\n`)).toBe('0\r\n');
  });
});

describe('docs/protocol.md#queue-limits-expiry-and-configuration flush_all_expired', () => {
  // A server of its own, so no other test's items add to the total.
  it('answers the total removed across queues', async () => {
    await withOwnServer(async (start) => {
      const own = await start();
      const c = await connect(own.port);
      await afterSweep(c);
      const sets = [
        setCmd('fa1', 'a', 0, -1),
        setCmd('fa1', 'b', 0, -5),
        setCmd('fa2', 'c', 0, 1_000_000),
        setCmd('fa2', 'd', 0, -1),
        setCmd('fa2', 'e', 0, -1),
        setCmd('fa3', 'live', 0, 0),
      ];
      c.send(Buffer.concat([...sets, Buffer.from('flush_all_expired\r\n')]));
      for (const _ of sets) expect(await c.readReply()).toBe('STORED\r\n');
      expect(await c.readReply()).toBe('5\r\n');
      const stats = await c.call('stats\r\n');
      expect(stat(stats, 'queue_fa1_expired_items')).toBe('2');
      expect(stat(stats, 'queue_fa2_expired_items')).toBe('3');
      expect(stat(stats, 'curr_items')).toBe('1');
      expect(await c.call('flush_all_expired\r\n')).toBe('0\r\n');
      expect(await c.call('get fa3\r\n')).toBe(value('fa3', 'live'));
      c.close();
    });
  });
});

describe('expiry across a restart', () => {
  it('an item keeps its expiry on disk: after a restart it is not served, and the sweep removes it', async () => {
    await withOwnServer(async (start) => {
      let s = await start({ args: ['-config', fx.configPath] });
      let c = await connect(s.port);
      expect(await c.call(setCmd('aged', 'short', 0, 0))).toBe('STORED\r\n'); // max_age 300 ms
      expect(await c.call(setCmd('rs', 'rel', 0, 1))).toBe('STORED\r\n');
      expect(await c.call(setCmd('rs', 'keep', 0, 0))).toBe('STORED\r\n');
      const t0 = Date.now();
      c.close();
      expect(await s.stop()).toBe(0);
      // Restart without the config file: the expiry is the item's, not the queue's setting.
      await sleep(Math.max(0, t0 + 1100 - Date.now()));
      s = await start();
      c = await connect(s.port);
      expect(await c.call('get rs/peek\r\n')).toBe(value('rs', 'keep'));
      // The sweep removes the expired "aged" item with no get (it reads the head from disk first).
      await waitForStats(c, { queue_aged_items: '0', queue_aged_expired_items: '1' }, within(3500));
      expect(await c.call('get aged\r\n')).toBe('END\r\n');
      expect(await c.call('get rs\r\n')).toBe(value('rs', 'keep'));
      c.close();
    });
  });
});

describe('docs/protocol.md#queue-limits-expiry-and-configuration expire_to_queue: the delayed-job pattern', () => {
  it('an item expiring from pending (max_age 1s) reaches a reader blocked on ready after about a second', async () => {
    const producer = await connect();
    const worker = await connect();
    const worker2 = await connect();
    worker.send('get ready/t=5000\r\n');
    worker2.send('get ready2/t=5000\r\n');
    await waitForStats(producer, { queue_ready_waiters: '1', queue_ready2_waiters: '1' }, within());
    const t0 = performance.now();
    expect(await producer.call(setCmd('pending', 'job-1', 7, 0))).toBe('STORED\r\n');
    // The same pattern by the item's own exptime, on a queue with no max_age.
    expect(await producer.call(setCmd('delayed', 'job-2', 9, 1))).toBe('STORED\r\n');
    // Not readable before its time, from either queue.
    expect(await producer.call('get pending/peek\r\n')).toBe(value('pending', 'job-1', 7));
    expect(await producer.call('get ready/peek\r\n')).toBe('END\r\n');

    // The moved items arrive with their flags. They had expiry (set + 1 s) before they moved: a
    // waiter is never handed an expired item, so receiving them shows they carry no expiry now.
    expect(await worker.readReply()).toBe(value('ready', 'job-1', 7));
    const elapsed = performance.now() - t0;
    expect(await worker2.readReply()).toBe(value('ready2', 'job-2', 9));
    expect(elapsed).toBeGreaterThanOrEqual(990);
    expect(elapsed).toBeLessThan(3000);

    const stats = await producer.call('stats\r\n');
    expect(stat(stats, 'queue_pending_items')).toBe('0');
    expect(stat(stats, 'queue_pending_expired_items')).toBe('1');
    expect(stat(stats, 'queue_delayed_expired_items')).toBe('1');
    expect(stat(stats, 'queue_ready_total_items')).toBe('1');
    expect(stat(stats, 'queue_ready2_total_items')).toBe('1');
    expect(Number(stat(stats, 'queue_expires'))).toBeGreaterThanOrEqual(2);
  });

  it('moved items wait in ready with no expiry of their own', async () => {
    const c = await connect();
    expect(await c.call(setCmd('delayed', 'later', 5, 1))).toBe('STORED\r\n');
    // Moved by the sweep (no get involved) 1–2 s after the set.
    await waitForStats(c, { queue_ready2_items: '1', queue_delayed_items: '0' }, within(3500));
    // Its exptime (set + 1 s) is behind us: were it kept, these would see nothing.
    expect(await c.call('flush_expired ready2\r\n')).toBe('0\r\n');
    expect(await c.call('get ready2/peek\r\n')).toBe(value('ready2', 'later', 5));
    expect(await c.call('get ready2\r\n')).toBe(value('ready2', 'later', 5));
    expect(stat(await c.call('stats\r\n'), 'queue_ready2_expired_items')).toBe('0');
  });
});
