// Blocking reads `/t=<ms>` (docs/protocol.md#blocking-reads), end to end over real TCP.
import { describe, expect, it } from 'vitest';
import { queueNamer } from './helpers/fixtures.js';
import { useInProcessServer } from './helpers/inProcess.js';
import { stat, waitForStat } from './helpers/stats.js';
import { TextClient, setCmd, value } from './helpers/textClient.js';

const { connect } = useInProcessServer();
const qname = queueNamer('b');

const VERSION_LINE = /^VERSION \d+\.\d+\.\d+\r\n$/;

/** Sends a blocking get and waits until the server has parked it as waiter number `n`. */
async function block(c: TextClient, observer: TextClient, q: string, key: string, n: number): Promise<void> {
  c.send(`get ${key}\r\n`);
  await waitForStat(observer, `queue_${q}_waiters`, String(n));
}

describe('docs/protocol.md#blocking-reads blocking reads', () => {
  it('serves waiters in FIFO order, one item each', async () => {
    const p = await connect();
    const q = qname();
    const w = [await connect(), await connect(), await connect()];
    for (let i = 0; i < w.length; i++) await block(w[i]!, p, q, `${q}/t=5000`, i + 1);
    p.send(Buffer.concat([setCmd(q, 'first'), setCmd(q, 'second'), setCmd(q, 'third')]));
    for (let i = 0; i < 3; i++) expect(await p.readReply()).toBe('STORED\r\n');
    expect(await w[0]!.readReply()).toBe(value(q, 'first'));
    expect(await w[1]!.readReply()).toBe(value(q, 'second'));
    expect(await w[2]!.readReply()).toBe(value(q, 'third'));
    const stats = await p.call('stats\r\n');
    expect(stat(stats, `queue_${q}_waiters`)).toBe('0');
    expect(stat(stats, `queue_${q}_items`)).toBe('0');
    // Nothing duplicated: the items handed to waiters are gone from the queue.
    expect(await p.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('serves waiters in FIFO order when items arrive one at a time', async () => {
    const p = await connect();
    const q = qname();
    const w = [await connect(), await connect(), await connect()];
    for (let i = 0; i < w.length; i++) await block(w[i]!, p, q, `${q}/t=5000`, i + 1);
    for (let i = 0; i < 3; i++) {
      expect(await p.call(setCmd(q, `n${i}`))).toBe('STORED\r\n');
      expect(await w[i]!.readReply()).toBe(value(q, `n${i}`));
    }
    expect(await p.call(`get ${q}/peek\r\n`)).toBe('END\r\n');
  });

  it('does not let a later non-blocking reader steal an item handed to a waiter', async () => {
    const p = await connect();
    const thief = await connect();
    const w = await connect();
    const q = qname();
    await block(w, p, q, `${q}/t=5000`, 1);
    // The thief's get is pipelined right behind the set on the same connection, and another
    // connection asks the moment STORED arrives.
    p.send(Buffer.concat([setCmd(q, 'mine'), Buffer.from(`get ${q}\r\nget ${q}/peek\r\n`)]));
    expect(await p.readReply()).toBe('STORED\r\n');
    thief.send(`get ${q}\r\n`);
    expect(await p.readReply()).toBe('END\r\n');
    expect(await p.readReply()).toBe('END\r\n');
    expect(await thief.readReply()).toBe('END\r\n');
    expect(await w.readReply()).toBe(value(q, 'mine'));
  });

  it('answers END on timeout, not before the time is up', async () => {
    const c = await connect();
    const q = qname();
    for (const t of [150, 400]) {
      const t0 = performance.now();
      expect(await c.call(`get ${q}/t=${t}\r\n`)).toBe('END\r\n');
      const elapsed = performance.now() - t0;
      expect(elapsed).toBeGreaterThanOrEqual(t - 10);
      expect(elapsed).toBeLessThan(t + 1000);
    }
    expect(stat(await c.call('stats\r\n'), `queue_${q}_waiters`)).toBe('0');
  });

  it('t=0 does not wait', async () => {
    const c = await connect();
    const q = qname();
    const t0 = performance.now();
    expect(await c.call(`get ${q}/t=0\r\n`)).toBe('END\r\n');
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('returns at once when an item is there', async () => {
    const c = await connect();
    const q = qname();
    expect(await c.call(setCmd(q, 'ready'))).toBe('STORED\r\n');
    const t0 = performance.now();
    expect(await c.call(`get ${q}/t=5000\r\n`)).toBe(value(q, 'ready'));
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('wakes a waiter as soon as an item arrives', async () => {
    const p = await connect();
    const w = await connect();
    const q = qname();
    await block(w, p, q, `${q}/t=10000`, 1);
    const t0 = performance.now();
    expect(await p.call(setCmd(q, 'now', 77))).toBe('STORED\r\n');
    expect(await w.readReply()).toBe(value(q, 'now', 77));
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(await p.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('removes a waiter whose connection closes; the next item goes to the queue, not lost', async () => {
    const p = await connect();
    const w = await connect();
    const q = qname();
    await block(w, p, q, `${q}/t=5000`, 1);
    w.close();
    await waitForStat(p, `queue_${q}_waiters`, '0');
    expect(await p.call(setCmd(q, 'kept'))).toBe('STORED\r\n');
    expect(stat(await p.call('stats\r\n'), `queue_${q}_items`)).toBe('1');
    expect(await p.call(`get ${q}\r\n`)).toBe(value(q, 'kept'));
  });

  it('skips a departed waiter and serves the next one', async () => {
    const p = await connect();
    const gone = await connect();
    const w = await connect();
    const q = qname();
    await block(gone, p, q, `${q}/t=5000`, 1);
    await block(w, p, q, `${q}/t=5000`, 2);
    gone.close();
    await waitForStat(p, `queue_${q}_waiters`, '1');
    expect(await p.call(setCmd(q, 'next'))).toBe('STORED\r\n');
    expect(await w.readReply()).toBe(value(q, 'next'));
    expect(await p.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('makes later pipelined commands wait behind the blocked get (timeout)', async () => {
    const c = await connect();
    const q = qname();
    const t0 = performance.now();
    c.send(`get ${q}/t=300\r\nversion\r\n`);
    expect(await c.readReply()).toBe('END\r\n');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(await c.readReply()).toMatch(VERSION_LINE);
  });

  it('makes later pipelined commands wait behind the blocked get (item arrives)', async () => {
    const p = await connect();
    const c = await connect();
    const q = qname();
    c.send(`get ${q}/t=5000\r\nversion\r\nget ${q}\r\n`);
    await waitForStat(p, `queue_${q}_waiters`, '1');
    p.send(Buffer.concat([setCmd(q, 'one'), setCmd(q, 'two')]));
    expect(await p.readReply()).toBe('STORED\r\n');
    expect(await p.readReply()).toBe('STORED\r\n');
    expect(await c.readReply()).toBe(value(q, 'one'));
    expect(await c.readReply()).toMatch(VERSION_LINE);
    expect(await c.readReply()).toBe(value(q, 'two'));
    expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('does not wait when /t= is given with several keys', async () => {
    const c = await connect();
    const q1 = qname();
    const q2 = qname();
    const t0 = performance.now();
    expect(await c.call(`get ${q1}/t=3000 ${q2}/t=3000\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${q1}/t=3000 ${q1}/t=3000\r\n`)).toBe('END\r\n');
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(await c.call(setCmd(q2, 'z'))).toBe('STORED\r\n');
    expect(await c.call(`get ${q1}/t=3000 ${q2}/t=3000\r\n`)).toBe(value(q2, 'z'));
  });

  it('a blocking /open read holds the item open', async () => {
    const p = await connect();
    const w = await connect();
    const q = qname();
    await block(w, p, q, `${q}/open/t=5000`, 1);
    p.send(Buffer.concat([setCmd(q, 'held'), setCmd(q, 'free')]));
    expect(await p.readReply()).toBe('STORED\r\n');
    expect(await p.readReply()).toBe('STORED\r\n');
    expect(await w.readReply()).toBe(value(q, 'held'));
    const stats = await p.call('stats\r\n');
    expect(stat(stats, `queue_${q}_open_transactions`)).toBe('1');
    expect(await w.call(`get ${q}\r\n`)).toBe('CLIENT_ERROR Close current item first\r\n');
    expect(await p.call(`get ${q}\r\n`)).toBe(value(q, 'free'));
    expect(await p.call(`get ${q}\r\n`)).toBe('END\r\n');
    // Abort returns it; it is served again.
    expect(await w.call(`get ${q}/abort\r\n`)).toBe('END\r\n');
    expect(await p.call(`get ${q}\r\n`)).toBe(value(q, 'held'));
  });

  it('a blocking /close/open closes the current item, then waits for the next', async () => {
    const p = await connect();
    const w = await connect();
    const q = qname();
    expect(await p.call(setCmd(q, 'job1'))).toBe('STORED\r\n');
    expect(await w.call(`get ${q}/open\r\n`)).toBe(value(q, 'job1'));
    await block(w, p, q, `${q}/close/open/t=5000`, 1);
    let stats = await p.call('stats\r\n');
    expect(stat(stats, `queue_${q}_open_transactions`)).toBe('0');
    expect(stat(stats, `queue_${q}_items`)).toBe('0');
    expect(await p.call(setCmd(q, 'job2'))).toBe('STORED\r\n');
    expect(await w.readReply()).toBe(value(q, 'job2'));
    stats = await p.call('stats\r\n');
    expect(stat(stats, `queue_${q}_open_transactions`)).toBe('1');
    // A disconnect returns it.
    w.close();
    await waitForStat(p, `queue_${q}_open_transactions`, '0');
    expect(await p.call(`get ${q}\r\n`)).toBe(value(q, 'job2'));
  });

  it('a peek waiter sees the item and the next waiter is woken too', async () => {
    const p = await connect();
    const peeker = await connect();
    const taker = await connect();
    const q = qname();
    await block(peeker, p, q, `${q}/peek/t=5000`, 1);
    await block(taker, p, q, `${q}/t=5000`, 2);
    expect(await p.call(setCmd(q, 'seen'))).toBe('STORED\r\n');
    expect(await peeker.readReply()).toBe(value(q, 'seen'));
    expect(await taker.readReply()).toBe(value(q, 'seen'));
    expect(await p.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('a peek waiter alone leaves the item in the queue', async () => {
    const p = await connect();
    const peeker = await connect();
    const q = qname();
    await block(peeker, p, q, `${q}/peek/t=5000`, 1);
    expect(await p.call(setCmd(q, 'stay'))).toBe('STORED\r\n');
    expect(await peeker.readReply()).toBe(value(q, 'stay'));
    expect(await p.call(`get ${q}\r\n`)).toBe(value(q, 'stay'));
  });

  it('does not hand an already expired item to a waiter', async () => {
    const p = await connect();
    const w = await connect();
    const q = qname();
    const t0 = performance.now();
    await block(w, p, q, `${q}/t=400`, 1);
    expect(await p.call(setCmd(q, 'stale', 0, -1))).toBe('STORED\r\n');
    expect(await w.readReply()).toBe('END\r\n');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(390);
  });

  it('counts waiters in stats', async () => {
    const p = await connect();
    const q = qname();
    const ws = [await connect(), await connect()];
    await block(ws[0]!, p, q, `${q}/t=5000`, 1);
    await block(ws[1]!, p, q, `${q}/open/t=5000`, 2);
    p.send(Buffer.concat([setCmd(q, 'a'), setCmd(q, 'b')]));
    expect(await p.readReply()).toBe('STORED\r\n');
    expect(await p.readReply()).toBe('STORED\r\n');
    expect(await ws[0]!.readReply()).toBe(value(q, 'a'));
    expect(await ws[1]!.readReply()).toBe(value(q, 'b'));
    const stats = await p.call('stats\r\n');
    expect(stat(stats, `queue_${q}_waiters`)).toBe('0');
    expect(stat(stats, `queue_${q}_open_transactions`)).toBe('1');
    expect(await p.call(`get ${q}\r\n`)).toBe('END\r\n');
  });
});
