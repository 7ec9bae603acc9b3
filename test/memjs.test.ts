// End to end with the real `memjs` client (memcache binary protocol, docs/protocol.md#binary-protocol) against a real
// server process. memjs matches replies by opaque only, pipelines every request on one
// connection, and cannot set flags (flags are written with the text protocol here).
import memjs from 'memjs';
import { describe, expect, it } from 'vitest';
import { useServer } from './helpers/fixtures.js';
import { waitForWaiters } from './helpers/stats.js';
import { setCmd, TextClient } from './helpers/textClient.js';

type Client = memjs.Client;

const fx = useServer();

/**
 * A memjs client on its own connection. memjs's default timeout is 0.5 s and it retries a timed
 * out request; the timeout here is above every /t= wait of the tests and retries are off
 * (retries: 1 = one attempt).
 */
function client(): Client {
  return fx.track(memjs.Client.create(`127.0.0.1:${fx.server.port}`, { timeout: 5, retries: 1, logger: { log() {} } }));
}

async function value(c: Client, key: string): Promise<string | null> {
  const { value } = await c.get(key);
  return value === null ? null : value.toString('latin1');
}

function stats(c: Client): Promise<{ server: string; stats: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    c.stats((err, srv, s) => {
      if (err) reject(err);
      else if (s === null) reject(new Error('no stats'));
      else resolve({ server: srv, stats: s });
    });
  });
}

describe('memjs', () => {
  it('set/get keep FIFO order; an empty queue reads as null', async () => {
    const c = client();
    for (let i = 0; i < 5; i++) expect(await c.set('mj_fifo', `item-${i}`)).toBe(true);
    const got: Array<string | null> = [];
    for (let i = 0; i < 5; i++) got.push(await value(c, 'mj_fifo'));
    expect(got).toEqual(['item-0', 'item-1', 'item-2', 'item-3', 'item-4']);
    const empty = await c.get('mj_fifo');
    expect(empty.value).toBeNull();
    expect(empty.flags).toBeNull();
    expect((await c.get('mj_never_set')).value).toBeNull();
  });

  it('binary-safe values, empty values', async () => {
    const c = client();
    const blob = Buffer.alloc(100_000);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 13 + 5) & 0xff;
    blob.write('\r\nEND\r\n', 77, 'latin1');
    expect(await c.set('mj_bin', blob)).toBe(true);
    expect(await c.set('mj_bin', '')).toBe(true);
    const got = await c.get('mj_bin');
    expect(Buffer.isBuffer(got.value)).toBe(true);
    expect(got.value!.equals(blob)).toBe(true);
    const empty = await c.get('mj_bin');
    expect(empty.value).not.toBeNull();
    expect(empty.value!.length).toBe(0);
    expect((await c.get('mj_bin')).value).toBeNull();
  });

  it('reliable read: work/open then work/close; /abort returns the item to the head', async () => {
    const c = client();
    expect(await c.set('mj_work', 'job-1')).toBe(true);
    expect(await c.set('mj_work', 'job-2')).toBe(true);
    expect(await value(c, 'mj_work/open')).toBe('job-1');
    expect(await value(c, 'mj_work/close')).toBeNull();
    expect(await value(c, 'mj_work/open')).toBe('job-2');
    // Another connection cannot see the open item.
    const other = client();
    expect(await value(other, 'mj_work/peek')).toBeNull();
    expect(await value(c, 'mj_work/abort')).toBeNull();
    expect(await value(other, 'mj_work/peek')).toBe('job-2');
    expect(await value(c, 'mj_work/close/open')).toBe('job-2');
    expect(await value(c, 'mj_work/close')).toBeNull();
    expect(await value(other, 'mj_work')).toBeNull();
  });

  it('an error reply (a plain get while an item is open) rejects the promise; the client keeps working', async () => {
    const c = client();
    expect(await c.set('mj_busy', 'x')).toBe(true);
    expect(await value(c, 'mj_busy/open')).toBe('x');
    await expect(c.get('mj_busy')).rejects.toThrow(/MemJS GET/);
    expect(await value(c, 'mj_busy/abort')).toBeNull();
    expect(await value(c, 'mj_busy')).toBe('x');
  });

  it('a blocking read work/t=2000 is woken by a set from a second client; later commands wait behind it', async () => {
    const reader = client();
    const writer = client();
    expect(await value(reader, 'mj_warm')).toBeNull(); // connect before timing anything
    const order: string[] = [];
    const blocked = reader.get('mj_block/t=2000').then((r) => {
      order.push('blocked');
      return r;
    });
    const behind = reader.get('mj_behind').then((r) => {
      order.push('behind');
      return r;
    });
    await waitForWaiters(fx.server.port, 'mj_block', 1);
    expect(order).toEqual([]);
    const t0 = Date.now();
    expect(await writer.set('mj_block', 'wake-up')).toBe(true);
    const r = await blocked;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(r.value!.toString()).toBe('wake-up');
    expect((await behind).value).toBeNull();
    expect(order).toEqual(['blocked', 'behind']);
  });

  it('a blocking read that times out is a miss (null), not an error', async () => {
    const c = client();
    const t0 = Date.now();
    expect(await value(c, 'mj_timeout/t=300')).toBeNull();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
  });

  it('flags set with the text protocol come back as 4 big-endian bytes', async () => {
    const t = await TextClient.connect(fx.server.port);
    try {
      expect(await t.call(setCmd('mj_flags', 'flagged', 42))).toBe('STORED\r\n');
      expect(await t.call(setCmd('mj_flags', 'big', 0xfedcba98))).toBe('STORED\r\n');
    } finally {
      t.close();
    }
    const c = client();
    const a = await c.get('mj_flags');
    expect(a.value!.toString()).toBe('flagged');
    expect(a.flags).toEqual(Buffer.from([0, 0, 0, 42]));
    const b = await c.get('mj_flags');
    expect(b.value!.toString()).toBe('big');
    expect(b.flags!.readUInt32BE(0)).toBe(0xfedcba98);
    // memjs itself writes flags 0
    expect(await c.set('mj_flags', 'plain')).toBe(true);
    expect((await c.get('mj_flags')).flags).toEqual(Buffer.alloc(4));
  });

  it('stats (callback API) returns the server stats, per-queue counts included', async () => {
    const c = client();
    for (let i = 0; i < 3; i++) expect(await c.set('mj_stats', `s${i}`)).toBe(true);
    const { server: srv, stats: s } = await stats(c);
    expect(srv).toBe(`127.0.0.1:${fx.server.port}`);
    expect(s.version).toMatch(/^siberite-\d+\.\d+\.\d+/);
    expect(s.pid).toBe(String(fx.server.proc.pid));
    expect(s.queue_mj_stats_items).toBe('3');
    expect(Number(s.curr_connections)).toBeGreaterThanOrEqual(1);
    expect(await value(c, 'mj_stats')).toBe('s0');
    expect((await stats(c)).stats.queue_mj_stats_items).toBe('2');
  });

  it('delete drops a queue (true), a missing queue is false', async () => {
    const c = client();
    expect(await c.set('mj_del', 'x')).toBe(true);
    expect(await c.delete('mj_del')).toBe(true);
    expect(await c.delete('mj_del')).toBe(false);
    expect(await value(c, 'mj_del')).toBeNull();
  });

  it('flush empties every queue', async () => {
    const c = client();
    expect(await c.set('mj_fl1', 'a')).toBe(true);
    expect(await c.set('mj_fl2', 'b')).toBe(true);
    const result = await c.flush();
    expect(result).toEqual({ [`127.0.0.1:${fx.server.port}`]: true });
    expect(await value(c, 'mj_fl1')).toBeNull();
    expect(await value(c, 'mj_fl2')).toBeNull();
  });

  it('500 concurrent sets then 500 concurrent gets: every value exactly once, in order', async () => {
    const c = client();
    const n = 500;
    const sets = await Promise.all(Array.from({ length: n }, (_, i) => c.set('mj_pipe', `value-${i}`)));
    expect(sets.every((ok) => ok === true)).toBe(true);
    const gets = await Promise.all(Array.from({ length: n + 1 }, () => value(c, 'mj_pipe')));
    expect(gets.slice(0, n)).toEqual(Array.from({ length: n }, (_, i) => `value-${i}`));
    expect(gets[n]).toBeNull();
  });

  it('two clients pipelining into one queue lose and duplicate nothing', async () => {
    const a = client();
    const b = client();
    const n = 300;
    await Promise.all([
      ...Array.from({ length: n }, (_, i) => a.set('mj_two', `a${i}`)),
      ...Array.from({ length: n }, (_, i) => b.set('mj_two', `b${i}`)),
    ]);
    // Each reader's replies are in dequeue order: the two readers share the items.
    const readers = await Promise.all([
      Promise.all(Array.from({ length: n }, () => value(a, 'mj_two'))),
      Promise.all(Array.from({ length: n }, () => value(b, 'mj_two'))),
    ]);
    const got = readers.flat().filter((v): v is string => v !== null);
    expect(got).toHaveLength(2 * n);
    expect(new Set(got).size).toBe(2 * n);
    for (const replies of readers) {
      // Items of one writer (one connection) were stored in its request order.
      for (const p of ['a', 'b']) {
        const mine = replies.filter((v): v is string => v !== null && v.startsWith(p)).map((v) => Number(v.slice(1)));
        expect(mine).toEqual(mine.slice().sort((x, y) => x - y));
      }
    }
    expect(await value(a, 'mj_two')).toBeNull();
  });
});
