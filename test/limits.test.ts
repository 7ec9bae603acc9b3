// Queue limits (docs/protocol.md#queue-limits-expiry-and-configuration, docs/protocol.md#adding-items-set, docs/protocol.md#fanout): max_items, max_size, discard_old_when_full, per-queue
// max_item_size, fanout into a full queue, per-queue settings overriding `default` — observed on
// the wire against a server started with a config file.
import { describe, expect, it } from 'vitest';
import { drain, withOwnServer } from './helpers/fixtures.js';
import { useInProcessServer } from './helpers/inProcess.js';
import { queueStat, stat } from './helpers/stats.js';
import { TextClient, setCmd, value } from './helpers/textClient.js';

const CONFIG = {
  default: { max_items: 2 },
  queues: {
    items3: { max_items: 3 },
    size10: { max_size: 10, max_items: null },
    size10b: { max_size: 10, max_items: null },
    sizeonly: { max_size: '1KiB' },
    discard: { max_items: 3, discard_old_when_full: true },
    discardsize: { max_size: 10, max_items: null, discard_old_when_full: true },
    small: { max_item_size: 10, max_items: null },
    fan_full: { max_items: 1 },
    fan_free: { max_items: 100 },
    big: { max_items: 5 },
    unlimited: { max_items: null },
  },
};

const fx = useInProcessServer({ config: CONFIG, tmpPrefix: 'siberite-limits-' });
const { connect } = fx;

/** Sets the values one by one (each acknowledged before the next is sent); returns the replies. */
async function setEach(c: TextClient, q: string, values: string[]): Promise<string[]> {
  const replies: string[] = [];
  for (const v of values) replies.push(await c.call(setCmd(q, v)));
  return replies;
}

describe('docs/protocol.md#queue-limits-expiry-and-configuration max_items', () => {
  it('a full queue answers NOT_STORED and keeps what it has', async () => {
    const c = await connect();
    expect(await setEach(c, 'items3', ['a', 'b', 'c'])).toEqual(['STORED\r\n', 'STORED\r\n', 'STORED\r\n']);
    expect(await c.call(setCmd('items3', 'd'))).toBe('NOT_STORED\r\n');
    expect(await c.call(setCmd('items3', 'e'))).toBe('NOT_STORED\r\n');
    expect(await queueStat(c, 'items3', 'items')).toBe('3');
    // The connection stays usable and the queue accepts again once there is room.
    expect(await c.call('get items3\r\n')).toBe(value('items3', 'a'));
    expect(await c.call(setCmd('items3', 'f'))).toBe('STORED\r\n');
    expect(await c.call(setCmd('items3', 'g'))).toBe('NOT_STORED\r\n');
    expect(await drain(c, 'items3')).toEqual(['b', 'c', 'f']);
    expect(await queueStat(c, 'items3', 'discarded')).toBe('0');
  });

  it('open items still count towards max_items', async () => {
    const c = await connect();
    const reader = await connect();
    expect(await setEach(c, 'items3', ['x', 'y', 'z'])).toEqual(['STORED\r\n', 'STORED\r\n', 'STORED\r\n']);
    expect(await reader.call('get items3/open\r\n')).toBe(value('items3', 'x'));
    // x is open, not deleted: the queue still holds 3 items.
    expect(await c.call(setCmd('items3', 'w'))).toBe('NOT_STORED\r\n');
    expect(await reader.call('get items3/close\r\n')).toBe('END\r\n');
    expect(await c.call(setCmd('items3', 'w'))).toBe('STORED\r\n');
    expect(await drain(c, 'items3')).toEqual(['y', 'z', 'w']);
  });
});

describe('docs/protocol.md#queue-limits-expiry-and-configuration max_size', () => {
  it('a queue holding max_size bytes answers NOT_STORED', async () => {
    const c = await connect();
    expect(await setEach(c, 'size10', ['12345', '67890'])).toEqual(['STORED\r\n', 'STORED\r\n']);
    expect(await queueStat(c, 'size10', 'bytes')).toBe('10');
    expect(await c.call(setCmd('size10', 'x'))).toBe('NOT_STORED\r\n');
    // A zero-length item adds no bytes, but the queue is full all the same.
    expect(await c.call(setCmd('size10', ''))).toBe('NOT_STORED\r\n');
    expect(await c.call('get size10\r\n')).toBe(value('size10', '12345'));
    expect(await c.call(setCmd('size10', 'abcde'))).toBe('STORED\r\n');
    expect(await drain(c, 'size10')).toEqual(['67890', 'abcde']);
  });

  it('full means "already holds max_size bytes": a set into a queue below the limit is stored', async () => {
    // docs/protocol.md#queue-limits-expiry-and-configuration: "the queue is full when it already holds that many items/bytes" (Kestrel's rule),
    // so a queue holding 8 of 10 bytes is not full and takes a 4-byte item (then holds 12).
    const c = await connect();
    expect(await setEach(c, 'size10b', ['1234', '5678'])).toEqual(['STORED\r\n', 'STORED\r\n']);
    expect(await c.call(setCmd('size10b', 'abcd'))).toBe('STORED\r\n');
    expect(await queueStat(c, 'size10b', 'bytes')).toBe('12');
    expect(await c.call(setCmd('size10b', 'z'))).toBe('NOT_STORED\r\n');
    expect(await drain(c, 'size10b')).toEqual(['1234', '5678', 'abcd']);
  });
});

describe('docs/protocol.md#queue-limits-expiry-and-configuration discard_old_when_full', () => {
  it('drops the oldest items to make room and counts them in discarded', async () => {
    const c = await connect();
    const replies = await setEach(c, 'discard', ['a', 'b', 'c', 'd', 'e']);
    expect(replies).toEqual(Array(5).fill('STORED\r\n'));
    const stats = await c.call('stats\r\n');
    expect(stat(stats, 'queue_discard_items')).toBe('3');
    expect(stat(stats, 'queue_discard_discarded')).toBe('2');
    expect(stat(stats, 'queue_discard_total_items')).toBe('5');
    expect(await drain(c, 'discard')).toEqual(['c', 'd', 'e']);
    // Reading is not discarding.
    expect(await queueStat(c, 'discard', 'discarded')).toBe('2');
  });

  it('holds to the limit when the sets arrive pipelined in one write', async () => {
    const c = await connect();
    expect(await queueStat(c, 'discard', 'items')).toBe('0');
    const before = Number(await queueStat(c, 'discard', 'discarded'));
    const values = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
    c.send(Buffer.concat(values.map((v) => setCmd('discard', v))));
    for (const _ of values) expect(await c.readReply()).toBe('STORED\r\n');
    const stats = await c.call('stats\r\n');
    expect(stat(stats, 'queue_discard_items')).toBe('3');
    expect(Number(stat(stats, 'queue_discard_discarded')) - before).toBe(3);
    expect(await drain(c, 'discard')).toEqual(['p4', 'p5', 'p6']);
  });

  it('without discard_old_when_full, pipelined sets past the limit are refused', async () => {
    const c = await connect();
    const values = ['a', 'b', 'c', 'd', 'e'];
    c.send(Buffer.concat(values.map((v) => setCmd('items3', v))));
    const replies: string[] = [];
    for (const _ of values) replies.push(await c.readReply());
    expect(replies).toEqual([...Array(3).fill('STORED\r\n'), 'NOT_STORED\r\n', 'NOT_STORED\r\n']);
    expect(await drain(c, 'items3')).toEqual(['a', 'b', 'c']);
  });

  it('holds to the limit after a restart, when the oldest items are only on disk', async () => {
    await withOwnServer(async (start) => {
      let s = await start({ args: ['-config', fx.configPath] });
      let c = await TextClient.connect(s.port);
      expect(await setEach(c, 'discard', ['r1', 'r2', 'r3'])).toEqual(Array(3).fill('STORED\r\n'));
      c.close();
      expect(await s.stop()).toBe(0);
      s = await start({ args: ['-config', fx.configPath] });
      c = await TextClient.connect(s.port);
      expect(await c.call(setCmd('discard', 'r4'))).toBe('STORED\r\n');
      const stats = await c.call('stats\r\n');
      expect(stat(stats, 'queue_discard_items')).toBe('3');
      expect(stat(stats, 'queue_discard_discarded')).toBe('1');
      expect(await drain(c, 'discard')).toEqual(['r2', 'r3', 'r4']);
      c.close();
    });
  });

  it('works by bytes with max_size too', async () => {
    const c = await connect();
    expect(await setEach(c, 'discardsize', ['aaaa', 'bbbb', 'cc'])).toEqual(Array(3).fill('STORED\r\n'));
    // 10 bytes held: a 4-byte item needs room, so the oldest item (aaaa) goes.
    expect(await c.call(setCmd('discardsize', 'dddd'))).toBe('STORED\r\n');
    const stats = await c.call('stats\r\n');
    expect(stat(stats, 'queue_discardsize_discarded')).toBe('1');
    expect(await drain(c, 'discardsize')).toEqual(['bbbb', 'cc', 'dddd']);
  });
});

describe('docs/protocol.md#queue-limits-expiry-and-configuration max_item_size per queue', () => {
  it('a larger value → SERVER_ERROR object too large for cache; the connection stays open', async () => {
    const c = await connect();
    expect(await c.call(setCmd('small', '0123456789'))).toBe('STORED\r\n');
    expect(await c.call(setCmd('small', '0123456789A'))).toBe('SERVER_ERROR object too large for cache\r\n');
    // Pipelined after the refused one: its data block was skipped, framing is intact.
    c.send(Buffer.concat([setCmd('small', 'x'.repeat(100)), setCmd('small', 'ok'), Buffer.from('get small\r\n')]));
    expect(await c.readReply()).toBe('SERVER_ERROR object too large for cache\r\n');
    expect(await c.readReply()).toBe('STORED\r\n');
    expect(await c.readReply()).toBe(value('small', '0123456789'));
    expect(await c.call('get small\r\n')).toBe(value('small', 'ok'));
    expect(await c.call('get small\r\n')).toBe('END\r\n');
    expect(c.closed).toBe(false);
    // The limit is this queue's only: another queue takes the same value.
    expect(await c.call(setCmd('unlimited', '0123456789A'))).toBe('STORED\r\n');
    expect(await c.call('get unlimited\r\n')).toBe(value('unlimited', '0123456789A'));
  });
});

describe('docs/protocol.md#fanout fanout into a full queue', () => {
  it('stores nowhere and answers NOT_STORED', async () => {
    const c = await connect();
    expect(await c.call(setCmd('fan_full', 'first'))).toBe('STORED\r\n');
    expect(await c.call(setCmd('fan_free+fan_full', 'both'))).toBe('NOT_STORED\r\n');
    expect(await c.call(setCmd('fan_full+fan_free', 'both'))).toBe('NOT_STORED\r\n');
    const stats = await c.call('stats\r\n');
    expect(stat(stats, 'queue_fan_free_items')).toBe('0');
    expect(stat(stats, 'queue_fan_full_items')).toBe('1');
    expect(await c.call('get fan_free\r\n')).toBe('END\r\n');
    // With room in both, the fanout stores one copy in each.
    expect(await c.call('get fan_full\r\n')).toBe(value('fan_full', 'first'));
    expect(await c.call(setCmd('fan_free+fan_full', 'both'))).toBe('STORED\r\n');
    expect(await c.call('get fan_free\r\n')).toBe(value('fan_free', 'both'));
    expect(await c.call('get fan_full\r\n')).toBe(value('fan_full', 'both'));
  });

  it('a value too large for one of the queues stores nowhere', async () => {
    const c = await connect();
    expect(await c.call(setCmd('fan_free+small', 'x'.repeat(11)))).toBe('SERVER_ERROR object too large for cache\r\n');
    const stats = await c.call('stats\r\n');
    expect(stat(stats, 'queue_fan_free_items')).toBe('0');
    expect(stat(stats, 'queue_small_items')).toBe('0');
  });
});

describe('docs/protocol.md#queue-limits-expiry-and-configuration/docs/protocol.md#command-line per-queue settings override default', () => {
  it('a queue not listed gets default max_items; listed ones their own', async () => {
    const c = await connect();
    // `plain` is not in the config: default max_items 2.
    expect(await setEach(c, 'plain', ['1', '2', '3'])).toEqual(['STORED\r\n', 'STORED\r\n', 'NOT_STORED\r\n']);
    // `big` overrides it with 5.
    expect(await setEach(c, 'big', ['1', '2', '3', '4', '5', '6'])).toEqual([...Array(5).fill('STORED\r\n'), 'NOT_STORED\r\n']);
    // `unlimited` lifts it with null.
    const many = Array.from({ length: 20 }, (_, i) => String(i));
    c.send(Buffer.concat(many.map((v) => setCmd('unlimited', v))));
    for (const _ of many) expect(await c.readReply()).toBe('STORED\r\n');
    // `sizeonly` sets only max_size, and still inherits default max_items 2.
    expect(await setEach(c, 'sizeonly', ['a', 'b', 'c'])).toEqual(['STORED\r\n', 'STORED\r\n', 'NOT_STORED\r\n']);
    const stats = await c.call('stats\r\n');
    expect(stat(stats, 'queue_plain_items')).toBe('2');
    expect(stat(stats, 'queue_big_items')).toBe('5');
    expect(stat(stats, 'queue_unlimited_items')).toBe('20');
    expect(stat(stats, 'queue_sizeonly_items')).toBe('2');
  });
});
