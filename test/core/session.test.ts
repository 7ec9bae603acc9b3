// Session in-process: real loopback sockets, the real text framing, a QueueManager over a real
// Store, and a manual clock, so open-item and blocked-read timeouts pass without waiting.
import { afterEach, describe, expect, it } from 'vitest';
import { type Queue } from '../../src/queue.js';
import { setCmd } from '../helpers/textClient.js';
import { type Served, queueConfig, serveCore, until } from './harness.js';

const value = (queue: string, data: string, flags = 0) => `VALUE ${queue} ${flags} ${data.length}\r\n${data}\r\nEND\r\n`;

let core: Served | undefined;
afterEach(async () => {
  await core?.close();
  core = undefined;
});

describe('Session: set and get', () => {
  it('stores and serves items in order, with gets and peek', async () => {
    core = await serveCore();
    const c = await core.connect();
    expect(await c.call(setCmd('jobs', 'one', 5))).toBe('STORED\r\n');
    expect(await c.call(setCmd('jobs', 'two'))).toBe('STORED\r\n');
    expect(await c.call('get jobs/peek\r\n')).toBe(value('jobs', 'one', 5));
    expect(await c.call('get jobs\r\n')).toBe(value('jobs', 'one', 5));
    expect(await c.call('gets jobs\r\n')).toMatch(/^VALUE jobs 0 3 \d+\r\ntwo\r\nEND\r\n$/);
    expect(await c.call('get jobs\r\n')).toBe('END\r\n');
  });

  it('answers a pipeline of sets and gets in order', async () => {
    core = await serveCore();
    const c = await core.connect();
    c.send(Buffer.concat([setCmd('p', 'a'), setCmd('p', 'b'), Buffer.from('get p\r\nget p\r\nget p\r\n')]));
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await c.readReply());
    expect(replies).toEqual(['STORED\r\n', 'STORED\r\n', value('p', 'a'), value('p', 'b'), 'END\r\n']);
  });
});

describe('Session: refusals', () => {
  it('a full queue answers NOT_STORED; a value over max_item_size, SERVER_ERROR too large', async () => {
    core = await serveCore(queueConfig({ maxItems: 1 }, { tiny: { maxItemSize: 3 } }));
    const c = await core.connect();
    expect(await c.call(setCmd('capped', 'a'))).toBe('STORED\r\n');
    expect(await c.call(setCmd('capped', 'b'))).toBe('NOT_STORED\r\n');
    expect(await c.call(setCmd('tiny', 'abcd'))).toBe('SERVER_ERROR object too large for cache\r\n');
    expect(await c.call(setCmd('tiny', 'abc'))).toBe('STORED\r\n');
  });

  it('READONLY refuses writes and still serves reads; QUIESCENT looks empty', async () => {
    core = await serveCore();
    const c = await core.connect();
    expect(await c.call(setCmd('ro', 'kept'))).toBe('STORED\r\n');
    expect(await c.call('status READONLY\r\n')).toBe('END\r\n');
    expect(await c.call('status\r\n')).toBe('READONLY\r\n');
    expect(await c.call(setCmd('ro', 'more'))).toBe('NOT_STORED\r\n');
    expect(await c.call('delete ro\r\n')).toBe('SERVER_ERROR read only\r\n');
    expect(await c.call('flush ro\r\n')).toBe('SERVER_ERROR read only\r\n');
    expect(await c.call('flush_all\r\n')).toBe('SERVER_ERROR read only\r\n');
    expect(await c.call('get ro/peek\r\n')).toBe(value('ro', 'kept'));
    expect(await c.call('status QUIESCENT\r\n')).toBe('END\r\n');
    expect(await c.call('get ro\r\n')).toBe('END\r\n');
    expect(await c.call(setCmd('ro', 'more'))).toBe('NOT_STORED\r\n');
    expect(await c.call('status up\r\n')).toBe('END\r\n');
    expect(await c.call('get ro\r\n')).toBe(value('ro', 'kept'));
    expect(await c.call('status SIDEWAYS\r\n')).toBe('CLIENT_ERROR bad status\r\n');
  });
});

describe('Session: reliable reads', () => {
  it('an open item not confirmed within open_transaction_timeout goes back to the head (clock.advance)', async () => {
    core = await serveCore(queueConfig({ openTransactionTimeout: 30_000 }));
    const a = await core.connect();
    const b = await core.connect();
    expect(await a.call(setCmd('rel', 'job'))).toBe('STORED\r\n');
    expect(await a.call('get rel/open\r\n')).toBe(value('rel', 'job'));
    expect(await b.call('get rel\r\n')).toBe('END\r\n');
    core.clock.advance(29_999);
    expect(await b.call('get rel\r\n')).toBe('END\r\n');
    core.clock.advance(1);
    expect(await b.call('get rel\r\n')).toBe(value('rel', 'job'));
    // a's item is gone: closing it confirms nothing, and a may open another.
    expect(await a.call('get rel/close\r\n')).toBe('END\r\n');
  });

  it('close confirms and abort returns; a second open without close is refused', async () => {
    core = await serveCore();
    const c = await core.connect();
    expect(await c.call(setCmd('t', 'x'))).toBe('STORED\r\n');
    expect(await c.call(setCmd('t', 'y'))).toBe('STORED\r\n');
    expect(await c.call('get t/open\r\n')).toBe(value('t', 'x'));
    expect(await c.call('get t/open\r\n')).toBe('CLIENT_ERROR Close current item first\r\n');
    expect(await c.call('get t/abort\r\n')).toBe('END\r\n');
    expect(await c.call('get t/open\r\n')).toBe(value('t', 'x'));
    expect(await c.call('get t/close/open\r\n')).toBe(value('t', 'y'));
    expect(await c.call('confirm t 1\r\n')).toBe('END\r\n');
    expect(await c.call('get t\r\n')).toBe('END\r\n');
  });

  it('a connection that goes away returns its open items to the head', async () => {
    core = await serveCore();
    const a = await core.connect();
    const b = await core.connect();
    expect(await a.call(setCmd('d', 'held'))).toBe('STORED\r\n');
    expect(await a.call('get d/open\r\n')).toBe(value('d', 'held'));
    const closed = core.nextSessionClose();
    a.close();
    await closed;
    expect(await b.call('get d\r\n')).toBe(value('d', 'held'));
  });
});

describe('Session: blocked reads', () => {
  it('a blocked get is served by a set from another connection', async () => {
    core = await serveCore();
    const a = await core.connect();
    const b = await core.connect();
    const reply = a.call('get w/t=60000\r\n');
    const queue = core.manager.queue('w') as Queue;
    await until(() => queue.waiterCount === 1);
    expect(await b.call(setCmd('w', 'now'))).toBe('STORED\r\n');
    expect(await reply).toBe(value('w', 'now'));
    expect(queue.waiterCount).toBe(0);
  });

  it('a blocked get t= times out by the clock, with END', async () => {
    core = await serveCore();
    const c = await core.connect();
    const reply = c.call('get late/t=5000\r\n');
    const queue = core.manager.queue('late') as Queue;
    await until(() => queue.waiterCount === 1);
    core.clock.advance(4999);
    expect(queue.waiterCount).toBe(1);
    core.clock.advance(1);
    expect(await reply).toBe('END\r\n');
    expect(queue.waiterCount).toBe(0);
    // The connection serves what follows as before.
    expect(await c.call('version\r\n')).toMatch(/^VERSION /);
  });

  it('a connection that goes away stops waiting', async () => {
    core = await serveCore();
    const a = await core.connect();
    const b = await core.connect();
    a.send('get gone/t=60000\r\n');
    const queue = core.manager.queue('gone') as Queue;
    await until(() => queue.waiterCount === 1);
    const closed = core.nextSessionClose();
    a.close();
    await closed;
    expect(queue.waiterCount).toBe(0);
    expect(await b.call(setCmd('gone', 'kept'))).toBe('STORED\r\n');
    expect(await b.call('get gone\r\n')).toBe(value('gone', 'kept'));
  });
});
