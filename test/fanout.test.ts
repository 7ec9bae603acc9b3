// Fanout `set a+b+c` (docs/protocol.md#fanout): one reply, one copy per distinct queue, all or nothing.
import { describe, expect, it } from 'vitest';
import { useAdmin } from './helpers/fixtures.js';
import { useInProcessServer } from './helpers/inProcess.js';
import { END, setCmd, value } from './helpers/textClient.js';

const fx = useInProcessServer({
  config: {
    queues: {
      full1: { max_items: 1 },
      tiny: { max_item_size: 8 },
    },
  },
  tmpPrefix: 'siberite-fanout-config-',
});
const { connect } = fx;
const { stat, waitStat } = useAdmin(fx);

const BAD_NAME = 'CLIENT_ERROR bad queue name\r\n';

describe('fanout set', () => {
  it('set a+b+c → one STORED; each queue has the item, flags included', async () => {
    const c = await connect();
    // The set and a version in one write: exactly one reply comes before VERSION.
    c.send(Buffer.concat([setCmd('fa+fb+fc', 'payload', 4242), Buffer.from('version\r\n')]));
    expect(await c.readReply()).toBe('STORED\r\n');
    expect(await c.readReply()).toMatch(/^VERSION \d+\.\d+\.\d+/);
    for (const q of ['fa', 'fb', 'fc']) {
      expect(await c.call(`get ${q}\r\n`)).toBe(value(q, 'payload', 4242));
      expect(await c.call(`get ${q}\r\n`)).toBe(END);
      expect(await stat(`queue_${q}_total_items`)).toBe('1');
    }
  });

  it('copies are independent: reading one queue leaves the others; binary and empty values', async () => {
    const c = await connect();
    const bin = Buffer.from([0, 1, 2, 13, 10, 255, 13, 10]);
    expect(await c.call(setCmd('ia+ib', bin, 1))).toBe('STORED\r\n');
    expect(await c.call(setCmd('ia+ib', ''))).toBe('STORED\r\n');
    expect(await c.call('get ia/open\r\n')).toBe(value('ia', bin, 1));
    expect(await c.call('get ia/close\r\n')).toBe(END);
    expect(await stat('queue_ib_items')).toBe('2');
    expect(await c.call('get ib\r\n')).toBe(value('ib', bin, 1));
    expect(await c.call('get ib\r\n')).toBe('VALUE ib 0 0\r\n\r\nEND\r\n');
    expect(await c.call('get ia\r\n')).toBe('VALUE ia 0 0\r\n\r\nEND\r\n');
    expect(await c.call('get ia\r\n')).toBe(END);
    expect(await c.call('get ib\r\n')).toBe(END);
  });

  it('duplicates store one copy per distinct name', async () => {
    const c = await connect();
    expect(await c.call(setCmd('da+da+db', 'x'))).toBe('STORED\r\n');
    expect(await c.call(setCmd('db+da+db+da', 'y'))).toBe('STORED\r\n');
    expect(await stat('queue_da_items')).toBe('2');
    expect(await stat('queue_db_items')).toBe('2');
    for (const q of ['da', 'db']) {
      expect(await c.call(`get ${q}\r\n`)).toBe(value(q, 'x'));
      expect(await c.call(`get ${q}\r\n`)).toBe(value(q, 'y'));
      expect(await c.call(`get ${q}\r\n`)).toBe(END);
    }
  });

  it('`q.` in a fanout means q', async () => {
    const c = await connect();
    expect(await c.call(setCmd('dot1.+dot2', 'z'))).toBe('STORED\r\n');
    expect(await c.call('get dot1\r\n')).toBe(value('dot1', 'z'));
    expect(await c.call('get dot2\r\n')).toBe(value('dot2', 'z'));
  });

  it('many queues in one set', async () => {
    const c = await connect();
    const names = Array.from({ length: 40 }, (_, i) => `m${i}`); // 40 names: a 149-byte key
    expect(await c.call(setCmd(names.join('+'), 'wide', 9))).toBe('STORED\r\n');
    for (const q of names) expect(await c.call(`get ${q}\r\n`)).toBe(value(q, 'wide', 9));
  });

  it('noreply: no reply at all', async () => {
    const c = await connect();
    c.send(Buffer.concat([Buffer.from('set na+nb 0 0 2 noreply\r\nhi\r\n'), Buffer.from('get nb\r\n')]));
    expect(await c.readReply()).toBe(value('nb', 'hi'));
    expect(await c.call('get na\r\n')).toBe(value('na', 'hi'));
  });
});

describe('fanout errors store nothing anywhere', () => {
  const cases: Array<[string, string]> = [
    ['ea+eb/c', BAD_NAME],
    ['ea+', BAD_NAME],
    ['+ea', BAD_NAME],
    ['ea++eb', BAD_NAME],
    ['ea+eb+', BAD_NAME],
    ['ea+eb.c', 'CLIENT_ERROR cannot set to a cursor\r\n'],
    ['ea.c+eb', 'CLIENT_ERROR cannot set to a cursor\r\n'],
    ['ea+eb.c.d', BAD_NAME],
    [`ea+${'x'.repeat(201)}`, BAD_NAME],
    [`ea+${Array.from({ length: 80 }, (_, i) => `q${i}`).join('+')}`, BAD_NAME], // key over 250 bytes
  ];
  for (const [key, reply] of cases) {
    it(`set ${key.length > 40 ? `${key.slice(0, 40)}… (${key.length} bytes)` : key} → ${reply.trim()}`, async () => {
      const c = await connect();
      expect(await c.call(setCmd(key, 'nope', 1))).toBe(reply);
      // The data block was consumed: the connection is still in step.
      expect(await c.call('get ea\r\n')).toBe(END);
      expect(await c.call('get eb\r\n')).toBe(END);
      expect(await stat('queue_ea_total_items')).toBe('0');
      expect(await stat('queue_eb_total_items')).toBe('0');
    });
  }

  it('a queue that is full refuses the whole fanout: NOT_STORED, nothing in the others', async () => {
    const c = await connect();
    expect(await c.call(setCmd('full1', 'first'))).toBe('STORED\r\n');
    expect(await c.call(setCmd('fx+full1+fy', 'second'))).toBe('NOT_STORED\r\n');
    expect(await c.call('get fx\r\n')).toBe(END);
    expect(await c.call('get fy\r\n')).toBe(END);
    expect(await c.call('get full1\r\n')).toBe(value('full1', 'first'));
    expect(await c.call(setCmd('fx+full1+fy', 'third'))).toBe('STORED\r\n');
    for (const q of ['fx', 'full1', 'fy']) expect(await c.call(`get ${q}\r\n`)).toBe(value(q, 'third'));
  });

  it('an item too large for one queue refuses the whole fanout', async () => {
    const c = await connect();
    expect(await c.call(setCmd('tx+tiny', '123456789'))).toBe('SERVER_ERROR object too large for cache\r\n');
    expect(await c.call('get tx\r\n')).toBe(END);
    expect(await c.call('get tiny\r\n')).toBe(END);
    expect(await c.call(setCmd('tx+tiny', '12345678'))).toBe('STORED\r\n');
    expect(await c.call('get tx\r\n')).toBe(value('tx', '12345678'));
    expect(await c.call('get tiny\r\n')).toBe(value('tiny', '12345678'));
  });
});

describe('fanout wakes readers', () => {
  it('blocking reads on every named queue, and on a cursor of one, all get the item', async () => {
    const ra = await connect();
    const rb = await connect();
    const rc = await connect();
    const p = await connect();
    ra.send('get wa/t=10000\r\n');
    rb.send('get wb/open/t=10000\r\n');
    rc.send('get wb.cur/t=10000\r\n');
    await waitStat('queue_wa_waiters', '1');
    await waitStat('queue_wb_waiters', '1');
    await waitStat('queue_wb.cur_waiters', '1');
    expect(await p.call(setCmd('wa+wb', 'wake', 5))).toBe('STORED\r\n');
    expect(await ra.readReply()).toBe(value('wa', 'wake', 5));
    expect(await rb.readReply()).toBe(value('wb', 'wake', 5));
    expect(await rc.readReply()).toBe(value('wb', 'wake', 5));
    expect(await rb.call('get wb/close\r\n')).toBe(END);
    expect(await stat('queue_wa_items')).toBe('0');
    expect(await stat('queue_wb_items')).toBe('0');
  });

  it('cursors of every named queue see the item', async () => {
    const c = await connect();
    expect(await c.call('get ca.c\r\n')).toBe(END);
    expect(await c.call('get cb.c\r\n')).toBe(END);
    expect(await c.call(setCmd('ca+cb', 'seen'))).toBe('STORED\r\n');
    expect(await c.call('get ca.c\r\n')).toBe(value('ca', 'seen'));
    expect(await c.call('get cb.c\r\n')).toBe(value('cb', 'seen'));
    expect(await c.call('get ca\r\n')).toBe(value('ca', 'seen'));
    expect(await c.call('get cb\r\n')).toBe(value('cb', 'seen'));
  });
});
