// Durable cursors `q.c` (docs/protocol.md#durable-cursors, docs/protocol.md#server-commands, docs/protocol.md#statistics): reads that do not remove, independent
// positions, reliable reads and blocking reads on a cursor, flush/delete, stats.
import { describe, expect, it } from 'vitest';
import { drain, fill, useAdmin } from './helpers/fixtures.js';
import { useInProcessServer } from './helpers/inProcess.js';
import { CLOSE_FIRST, END, setCmd, value } from './helpers/textClient.js';

const fx = useInProcessServer({ config: { queues: { ott: { open_transaction_timeout: 200 } } }, tmpPrefix: 'siberite-cursors-config-' });
const { connect } = fx;
const admin = useAdmin(fx);
const { stat, waitStat } = admin;

describe('reading through a cursor', () => {
  it('get q.c reads without removing; plain get q still returns every item afterwards', async () => {
    const c = await connect();
    await fill(c, 'nr', ['one', 'two', 'three'], 7);
    expect(await c.call('get nr.c\r\n')).toBe(value('nr', 'one', 7));
    expect(await c.call('get nr.c\r\n')).toBe(value('nr', 'two', 7));
    expect(await c.call('get nr.c\r\n')).toBe(value('nr', 'three', 7));
    expect(await c.call('get nr.c\r\n')).toBe(END);
    expect(await stat('queue_nr_items')).toBe('3');
    expect(await c.call('get nr\r\n')).toBe(value('nr', 'one', 7));
    expect(await c.call('get nr\r\n')).toBe(value('nr', 'two', 7));
    expect(await c.call('get nr\r\n')).toBe(value('nr', 'three', 7));
    expect(await c.call('get nr\r\n')).toBe(END);
  });

  it('answers with the bare queue name, also through gets and a multi-key get', async () => {
    const c = await connect();
    await fill(c, 'bn', ['x', 'y']);
    const gets = await c.call('gets bn.c\r\n');
    expect(gets).toMatch(/^VALUE bn 0 1 \d+\r\nx\r\nEND\r\n$/);
    expect(await c.call('get bn.d bn.c\r\n')).toBe('VALUE bn 0 1\r\nx\r\nVALUE bn 0 1\r\ny\r\nEND\r\n');
    // `q.` means q itself.
    expect(await c.call('get bn./peek\r\n')).toBe(value('bn', 'x'));
  });

  it('a new cursor starts at the current head: consumed items are not seen, present ones are', async () => {
    const c = await connect();
    await fill(c, 'nh', ['a1', 'a2', 'a3', 'a4']);
    expect(await c.call('get nh\r\n')).toBe(value('nh', 'a1'));
    expect(await c.call('get nh\r\n')).toBe(value('nh', 'a2'));
    expect(await c.call('get nh.c\r\n')).toBe(value('nh', 'a3'));
    await fill(c, 'nh', ['a5']);
    expect(await c.call('get nh.late\r\n')).toBe(value('nh', 'a3'));
    expect(await drain(c, 'nh.c', 'nh')).toEqual(['a4', 'a5']);
    expect(await drain(c, 'nh.late', 'nh')).toEqual(['a4', 'a5']);
    // A cursor first named on an empty queue sees what is set afterwards.
    expect(await c.call('get ne.c\r\n')).toBe(END);
    await fill(c, 'ne', ['later']);
    expect(await c.call('get ne.c\r\n')).toBe(value('ne', 'later'));
    expect(await c.call('get ne.c\r\n')).toBe(END);
  });

  it('each cursor advances independently; many cursors per queue', async () => {
    const c = await connect();
    const items = ['i0', 'i1', 'i2', 'i3', 'i4'];
    await fill(c, 'many', items);
    const n = 60;
    // Cursor k reads k % 6 items (pipelined per cursor).
    for (let k = 0; k < n; k++) {
      const reads = k % 6;
      if (reads === 0) continue;
      c.send(`get many.k${k}\r\n`.repeat(reads));
      for (let r = 0; r < reads; r++) {
        expect(await c.readReply()).toBe(r < items.length ? value('many', items[r]!) : END);
      }
    }
    const reply = await admin.call('stats\r\n');
    for (let k = 0; k < n; k++) {
      const reads = k % 6;
      if (reads === 0) {
        expect(reply).not.toContain(`queue_many.k${k}_`); // never named: no such cursor
        continue;
      }
      expect(reply).toContain(`STAT queue_many.k${k}_items ${items.length - Math.min(reads, items.length)}\r\n`);
    }
    for (let k = 0; k < n; k++) {
      const reads = k % 6;
      if (reads === 0) continue;
      expect(await c.call(`get many.k${k}\r\n`)).toBe(reads < items.length ? value('many', items[reads]!) : END);
    }
    expect(await stat('queue_many_items')).toBe('5');
  });

  it('a cursor left behind by plain gets continues from the current head; one ahead is unaffected', async () => {
    const c = await connect();
    await fill(c, 'lb', ['1', '2', '3', '4', '5', '6']);
    expect(await c.call('get lb.behind\r\n')).toBe(value('lb', '1'));
    for (const d of ['1', '2', '3']) expect(await c.call('get lb.ahead\r\n')).toBe(value('lb', d));
    for (const d of ['1', '2', '3', '4']) expect(await c.call('get lb\r\n')).toBe(value('lb', d));
    expect(await stat('queue_lb.behind_items')).toBe('2');
    expect(await c.call('get lb.behind\r\n')).toBe(value('lb', '5'));
    expect(await c.call('get lb.ahead\r\n')).toBe(value('lb', '5'));
    expect(await c.call('get lb.behind\r\n')).toBe(value('lb', '6'));
    expect(await c.call('get lb.behind\r\n')).toBe(END);
    expect(await c.call('get lb.ahead\r\n')).toBe(value('lb', '6'));
  });
});

describe('reliable reads on a cursor', () => {
  it('/open, /peek, /close, /close/open, /abort', async () => {
    const c = await connect();
    await fill(c, 'rel', ['r1', 'r2', 'r3', 'r4']);
    expect(await c.call('get rel.c/peek\r\n')).toBe(value('rel', 'r1'));
    expect(await c.call('get rel.c/peek\r\n')).toBe(value('rel', 'r1'));
    expect(await c.call('get rel.c/open\r\n')).toBe(value('rel', 'r1'));
    expect(await stat('queue_rel.c_open_transactions')).toBe('1');
    expect(await stat('queue_rel.c_items')).toBe('3');
    // peek is allowed while an item is open; it shows what the cursor serves next
    expect(await c.call('get rel.c/peek\r\n')).toBe(value('rel', 'r2'));
    expect(await c.call('get rel.c/open\r\n')).toBe(CLOSE_FIRST);
    expect(await c.call('get rel.c\r\n')).toBe(CLOSE_FIRST);
    expect(await c.call('get rel.c/close/open\r\n')).toBe(value('rel', 'r2'));
    expect(await c.call('get rel.c/abort\r\n')).toBe(END);
    expect(await stat('queue_rel.c_open_transactions')).toBe('0');
    expect(await stat('queue_rel.c_items')).toBe('3'); // r2 (retry), r3, r4
    expect(await c.call('get rel.c/peek\r\n')).toBe(value('rel', 'r2'));
    expect(await c.call('get rel.c/open\r\n')).toBe(value('rel', 'r2'));
    expect(await c.call('get rel.c/close\r\n')).toBe(END);
    expect(await c.call('get rel.c/close\r\n')).toBe(END); // nothing open: no-op
    expect(await c.call('get rel.c/abort\r\n')).toBe(END); // nothing open: no-op
    expect(await c.call('get rel.c\r\n')).toBe(value('rel', 'r3'));
    expect(await c.call('get rel.c/open\r\n')).toBe(value('rel', 'r4'));
    expect(await c.call('get rel.c/close/open\r\n')).toBe(END);
    expect(await c.call('get rel.c\r\n')).toBe(END);
    // None of it touched the queue itself.
    expect(await stat('queue_rel_items')).toBe('4');
    expect(await stat('queue_rel_open_transactions')).toBe('0');
    expect(await drain(c, 'rel', 'rel')).toEqual(['r1', 'r2', 'r3', 'r4']);
  });

  it('an aborted read is served first to the next reader of that cursor, on another connection too', async () => {
    const a = await connect();
    const b = await connect();
    const d = await connect();
    await fill(a, 'ab', ['x1', 'x2', 'x3', 'x4']);
    expect(await a.call('get ab.c/open\r\n')).toBe(value('ab', 'x1'));
    expect(await a.call('get ab.c/abort\r\n')).toBe(END);
    expect(await b.call('get ab.c\r\n')).toBe(value('ab', 'x1'));
    expect(await b.call('get ab.c\r\n')).toBe(value('ab', 'x2'));
    // Two aborts: served again in their original order.
    expect(await a.call('get ab.c/open\r\n')).toBe(value('ab', 'x3'));
    expect(await b.call('get ab.c/open\r\n')).toBe(value('ab', 'x4'));
    expect(await b.call('get ab.c/abort\r\n')).toBe(END);
    expect(await a.call('get ab.c/abort\r\n')).toBe(END);
    expect(await stat('queue_ab.c_items')).toBe('2');
    expect(await d.call('get ab.c\r\n')).toBe(value('ab', 'x3'));
    expect(await d.call('get ab.c\r\n')).toBe(value('ab', 'x4'));
    expect(await d.call('get ab.c\r\n')).toBe(END);
    // Another cursor of the same queue never saw any of this.
    expect(await drain(d, 'ab.other', 'ab')).toEqual(['x1', 'x2', 'x3', 'x4']);
  });

  it('a disconnect with an open cursor item puts it in the retry list, served first', async () => {
    const a = await connect();
    const b = await connect();
    await fill(b, 'dc', ['d1', 'd2']);
    expect(await a.call('get dc.c/open\r\n')).toBe(value('dc', 'd1'));
    expect(await stat('queue_dc.c_open_transactions')).toBe('1');
    a.close();
    await waitStat('queue_dc.c_open_transactions', '0');
    expect(await stat('queue_dc.c_items')).toBe('2');
    expect(await b.call('get dc.c\r\n')).toBe(value('dc', 'd1'));
    expect(await b.call('get dc.c\r\n')).toBe(value('dc', 'd2'));
    expect(await b.call('get dc.c\r\n')).toBe(END);
  });

  it('an item returned by a disconnect wakes a reader blocked on that cursor', async () => {
    const a = await connect();
    const b = await connect();
    await fill(b, 'dw', ['only']);
    expect(await a.call('get dw.c/open\r\n')).toBe(value('dw', 'only'));
    b.send('get dw.c/t=10000\r\n');
    await waitStat('queue_dw.c_waiters', '1');
    a.close();
    expect(await b.readReply()).toBe(value('dw', 'only'));
    expect(await b.call('get dw.c\r\n')).toBe(END);
  });

  it('an open cursor item past open_transaction_timeout goes to the retry list and wakes a blocked reader', async () => {
    const a = await connect();
    const b = await connect();
    await fill(a, 'ott', ['o1', 'o2']);
    expect(await a.call('get ott.c/open\r\n')).toBe(value('ott', 'o1'));
    expect(await b.call('get ott.c\r\n')).toBe(value('ott', 'o2'));
    // b waits on the exhausted cursor; the timeout (200 ms) returns o1, which wakes b.
    const started = Date.now();
    expect(await b.call('get ott.c/t=10000\r\n')).toBe(value('ott', 'o1'));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await stat('queue_ott.c_open_transactions')).toBe('0');
    // a's item is no longer a's: its close is a silent no-op, and a may open again.
    expect(await a.call('get ott.c/close\r\n')).toBe(END);
    expect(await a.call('get ott.c/open\r\n')).toBe(END);
    // Timed out with no reader waiting: it is served first to the next reader.
    expect(await a.call('get ott.d/open\r\n')).toBe(value('ott', 'o1'));
    await waitStat('queue_ott.d_open_transactions', '0');
    expect(await stat('queue_ott.d_items')).toBe('2');
    expect(await b.call('get ott.d\r\n')).toBe(value('ott', 'o1'));
    expect(await b.call('get ott.d\r\n')).toBe(value('ott', 'o2'));
  });

  it('at most one open item per connection per cursor; other cursors, the queue, other connections are separate', async () => {
    const a = await connect();
    const b = await connect();
    await fill(a, 'mo', ['m1', 'm2', 'm3']);
    expect(await a.call('get mo.c/open\r\n')).toBe(value('mo', 'm1'));
    expect(await a.call('get mo.c/open\r\n')).toBe(CLOSE_FIRST);
    expect(await a.call('get mo.c\r\n')).toBe(CLOSE_FIRST);
    expect(await a.call('get mo.d/open\r\n')).toBe(value('mo', 'm1'));
    expect(await a.call('get mo/open\r\n')).toBe(value('mo', 'm1'));
    expect(await b.call('get mo.c/open\r\n')).toBe(value('mo', 'm2'));
    expect(await a.call('get mo.c/close/open\r\n')).toBe(value('mo', 'm3'));
    expect(await a.call('get mo.c/close\r\n')).toBe(END);
    expect(await b.call('get mo.c/close\r\n')).toBe(END);
    expect(await a.call('get mo.d/close\r\n')).toBe(END);
    expect(await a.call('get mo/close\r\n')).toBe(END);
    expect(await stat('queue_mo.c_items')).toBe('0');
    expect(await stat('queue_mo.d_items')).toBe('2');
    expect(await stat('queue_mo_items')).toBe('2');
  });
});

describe('blocking reads on a cursor', () => {
  it('/t=<ms> times out with END when the cursor has nothing', async () => {
    const c = await connect();
    await fill(c, 'to', ['t1']);
    expect(await c.call('get to.c\r\n')).toBe(value('to', 't1'));
    const started = Date.now();
    expect(await c.call('get to.c/t=100\r\n')).toBe(END);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(await stat('queue_to.c_waiters')).toBe('0');
  });

  it('a blocked cursor read is woken by a new set; the queue keeps the item', async () => {
    const a = await connect();
    const b = await connect();
    a.send('get wk.c/t=10000\r\n');
    await waitStat('queue_wk.c_waiters', '1');
    expect(await b.call(setCmd('wk', 'hello', 3))).toBe('STORED\r\n');
    expect(await a.readReply()).toBe(value('wk', 'hello', 3));
    expect(await stat('queue_wk.c_waiters')).toBe('0');
    expect(await b.call('get wk\r\n')).toBe(value('wk', 'hello', 3));
    // A blocked /open read holds what it was woken with.
    a.send('get wk.c/open/t=10000\r\n');
    await waitStat('queue_wk.c_waiters', '1');
    expect(await b.call(setCmd('wk', 'second'))).toBe('STORED\r\n');
    expect(await a.readReply()).toBe(value('wk', 'second'));
    expect(await stat('queue_wk.c_open_transactions')).toBe('1');
    expect(await a.call('get wk.c/close\r\n')).toBe(END);
    expect(await stat('queue_wk.c_open_transactions')).toBe('0');
  });

  it('cursor waiters are served in FIFO order, one item each', async () => {
    const w = [await connect(), await connect(), await connect()];
    const p = await connect();
    for (let i = 0; i < w.length; i++) {
      w[i]!.send('get ff.c/t=10000\r\n');
      await waitStat('queue_ff.c_waiters', String(i + 1));
    }
    for (let i = 0; i < w.length; i++) {
      expect(await p.call(setCmd('ff', `f${i}`))).toBe('STORED\r\n');
      expect(await w[i]!.readReply()).toBe(value('ff', `f${i}`));
    }
    // Several items in one write: still one each, in order.
    for (let i = 0; i < w.length; i++) {
      w[i]!.send('get ff.c/t=10000\r\n');
      await waitStat('queue_ff.c_waiters', String(i + 1));
    }
    await fill(p, 'ff', ['g0', 'g1', 'g2']);
    for (let i = 0; i < w.length; i++) expect(await w[i]!.readReply()).toBe(value('ff', `g${i}`));
    expect(await p.call('get ff.c\r\n')).toBe(END);
    expect(await stat('queue_ff_items')).toBe('6');
  });

  it('one set wakes a plain waiter of the queue and a waiter of each cursor', async () => {
    const plain = await connect();
    const c1 = await connect();
    const c2 = await connect();
    const p = await connect();
    plain.send('get bw/t=10000\r\n');
    c1.send('get bw.one/t=10000\r\n');
    c2.send('get bw.two/t=10000\r\n');
    await waitStat('queue_bw_waiters', '1');
    await waitStat('queue_bw.one_waiters', '1');
    await waitStat('queue_bw.two_waiters', '1');
    expect(await p.call(setCmd('bw', 'all'))).toBe('STORED\r\n');
    expect(await plain.readReply()).toBe(value('bw', 'all'));
    expect(await c1.readReply()).toBe(value('bw', 'all'));
    expect(await c2.readReply()).toBe(value('bw', 'all'));
    expect(await stat('queue_bw_items')).toBe('0');
  });
});

describe('flush and delete', () => {
  it('flush q.c → END: rewinds to the current head and empties the retry list', async () => {
    const a = await connect();
    const b = await connect();
    await fill(a, 'fc', ['1', '2', '3', '4', '5']);
    expect(await a.call('get fc.c\r\n')).toBe(value('fc', '1'));
    expect(await a.call('get fc.c\r\n')).toBe(value('fc', '2'));
    expect(await a.call('get fc.c/open\r\n')).toBe(value('fc', '3'));
    expect(await a.call('get fc.c/abort\r\n')).toBe(END); // 3 is in the retry list
    expect(await b.call('get fc.c/open\r\n')).toBe(value('fc', '3')); // open on b at the flush
    expect(await a.call('get fc.c/open\r\n')).toBe(value('fc', '4'));
    expect(await a.call('get fc.c/abort\r\n')).toBe(END); // 4 is in the retry list
    expect(await a.call('get fc\r\n')).toBe(value('fc', '1')); // head is now 2
    expect(await a.call('flush fc.c\r\n')).toBe(END);
    expect(await stat('queue_fc.c_items')).toBe('4');
    expect(await stat('queue_fc.c_open_transactions')).toBe('0');
    // b's item was dropped by the flush: closing or aborting it is a silent no-op.
    expect(await b.call('get fc.c/abort\r\n')).toBe(END);
    expect(await drain(a, 'fc.c', 'fc')).toEqual(['2', '3', '4', '5']);
    expect(await b.call('get fc.c\r\n')).toBe(END);
    expect(await stat('queue_fc_items')).toBe('4');
    // flush of a cursor never named before: END, and the cursor starts at the head.
    expect(await a.call('flush fc.fresh\r\n')).toBe(END);
    expect(await a.call('get fc.fresh\r\n')).toBe(value('fc', '2'));
  });

  it('delete q.c → DELETED, then NOT_FOUND; a later read starts a fresh cursor at the head', async () => {
    const c = await connect();
    await fill(c, 'dl', ['1', '2', '3']);
    expect(await c.call('get dl.c\r\n')).toBe(value('dl', '1'));
    expect(await c.call('get dl.c/open\r\n')).toBe(value('dl', '2'));
    expect(await c.call('get dl.c/abort\r\n')).toBe(END);
    expect(await c.call('get dl.keep\r\n')).toBe(value('dl', '1'));
    expect(await c.call('delete dl.c\r\n')).toBe('DELETED\r\n');
    expect(await c.call('delete dl.c\r\n')).toBe('NOT_FOUND\r\n');
    expect(await c.call('delete dl.never\r\n')).toBe('NOT_FOUND\r\n');
    expect(await c.call('delete nosuchqueue.c\r\n')).toBe('NOT_FOUND\r\n');
    const stats = await admin.call('stats\r\n');
    expect(stats).not.toContain('queue_dl.c_');
    expect(stats).toContain('STAT queue_dl.keep_items 2\r\n');
    expect(stats).toContain('STAT queue_dl_items 3\r\n');
    expect(await drain(c, 'dl.c', 'dl')).toEqual(['1', '2', '3']);
    expect(await c.call('get dl.keep\r\n')).toBe(value('dl', '2'));
  });

  it('flush q with cursors: every cursor continues from the new head', async () => {
    const c = await connect();
    await fill(c, 'fq', ['1', '2', '3']);
    expect(await c.call('get fq.c\r\n')).toBe(value('fq', '1'));
    expect(await c.call('get fq.d/peek\r\n')).toBe(value('fq', '1'));
    expect(await c.call('flush fq\r\n')).toBe(END);
    expect(await stat('queue_fq_items')).toBe('0');
    expect(await stat('queue_fq.c_items')).toBe('0');
    expect(await stat('queue_fq.d_items')).toBe('0');
    expect(await c.call('get fq.c\r\n')).toBe(END);
    await fill(c, 'fq', ['4', '5']);
    expect(await stat('queue_fq.c_items')).toBe('2');
    expect(await drain(c, 'fq.c', 'fq')).toEqual(['4', '5']);
    expect(await drain(c, 'fq.d', 'fq')).toEqual(['4', '5']);
    expect(await drain(c, 'fq', 'fq')).toEqual(['4', '5']);
  });

  it('delete q drops its cursors; a later cursor read starts fresh', async () => {
    const a = await connect();
    const b = await connect();
    await fill(a, 'dq', ['1', '2', '3']);
    expect(await a.call('get dq.c\r\n')).toBe(value('dq', '1'));
    expect(await b.call('get dq.d/open\r\n')).toBe(value('dq', '1'));
    expect(await a.call('delete dq\r\n')).toBe('DELETED\r\n');
    const stats = await admin.call('stats\r\n');
    expect(stats).not.toContain('queue_dq_');
    expect(stats).not.toContain('queue_dq.');
    expect(await admin.call('dump_stats\r\n')).not.toContain("queue 'dq'");
    expect(await a.call('delete dq.c\r\n')).toBe('NOT_FOUND\r\n');
    await fill(a, 'dq', ['n1', 'n2']);
    expect(await a.call('get dq.c\r\n')).toBe(value('dq', 'n1'));
    // b's open item went with the queue: closing it is a no-op, and b may open again.
    expect(await b.call('get dq.d/close\r\n')).toBe(END);
    expect(await b.call('get dq.d/open\r\n')).toBe(value('dq', 'n1'));
    expect(await b.call('get dq.d/close/open\r\n')).toBe(value('dq', 'n2'));
    expect(await b.call('get dq.d/close\r\n')).toBe(END);
    expect(await stat('queue_dq.c_items')).toBe('1');
    expect(await stat('queue_dq.d_items')).toBe('0');
  });
});

describe('stats and errors', () => {
  it('stats: queue_<q>.<c>_items, _open_transactions, _waiters, right after the queue', async () => {
    const a = await connect();
    const b = await connect();
    const w = await connect();
    await fill(a, 'st', ['1', '2', '3']);
    expect(await a.call('get st.c\r\n')).toBe(value('st', '1'));
    expect(await a.call('get st.c/open\r\n')).toBe(value('st', '2'));
    let stats = await admin.call('stats\r\n');
    expect(stats).toContain(
      'STAT queue_st_total_flushes 0\r\n' +
        'STAT queue_st.c_items 1\r\nSTAT queue_st.c_open_transactions 1\r\nSTAT queue_st.c_waiters 0\r\n',
    );
    expect(stats).toContain('STAT queue_st_items 3\r\n');
    expect(stats).toContain('STAT queue_st_open_transactions 0\r\n');
    expect(await b.call('get st.c\r\n')).toBe(value('st', '3'));
    w.send('get st.c/t=10000\r\n');
    await waitStat('queue_st.c_waiters', '1');
    stats = await admin.call('stats\r\n');
    expect(stats).toContain('STAT queue_st.c_items 0\r\nSTAT queue_st.c_open_transactions 1\r\nSTAT queue_st.c_waiters 1\r\n');
    expect(stats).toContain('STAT queue_st_waiters 0\r\n');
    expect(await b.call(setCmd('st', '4'))).toBe('STORED\r\n');
    expect(await w.readReply()).toBe(value('st', '4'));
    expect(await stat('queue_st.c_waiters')).toBe('0');
    expect(await stat('queue_st.c_items')).toBe('0');
    expect(await a.call('get st.c/close\r\n')).toBe(END);
    expect(await stat('queue_st.c_open_transactions')).toBe('0');
  });

  it('dump_stats shows cursors inside their queue block', async () => {
    const c = await connect();
    await fill(c, 'ds', ['1', '2']);
    expect(await c.call('get ds.b\r\n')).toBe(value('ds', '1'));
    expect(await c.call('get ds.a/open\r\n')).toBe(value('ds', '1'));
    const dump = await admin.call('dump_stats\r\n');
    expect(dump.endsWith('END\r\n')).toBe(true);
    const start = dump.indexOf("queue 'ds' {\r\n");
    expect(start).toBeGreaterThanOrEqual(0);
    const block = dump.slice(start, dump.indexOf('\r\n}\r\n', start) + 5);
    expect(block).toContain('  items=2\r\n');
    expect(block).toContain(
      "  cursor 'a' {\r\n    items=1\r\n    open_transactions=1\r\n    waiters=0\r\n  }\r\n" +
        "  cursor 'b' {\r\n    items=1\r\n    open_transactions=0\r\n    waiters=0\r\n  }\r\n}\r\n",
    );
    expect(await c.call('get ds.a/close\r\n')).toBe(END);
  });

  it('set q.c → CLIENT_ERROR cannot set to a cursor; q.a.b → CLIENT_ERROR bad queue name', async () => {
    const c = await connect();
    expect(await c.call(setCmd('sc.c', 'nope'))).toBe('CLIENT_ERROR cannot set to a cursor\r\n');
    expect(await c.call('get sc\r\n')).toBe(END); // nothing stored, connection still in step
    expect(await c.call('get sc.a.b\r\n')).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call('get sc.a.b/open\r\n')).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call(setCmd('sc.a.b', 'nope'))).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call('delete sc.a.b\r\n')).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call('flush sc.a.b\r\n')).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call('get sc.a+b\r\n')).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call('get sc.c/opne\r\n')).toBe('CLIENT_ERROR bad get option\r\n');
    expect(await c.call(setCmd('sc', 'yes'))).toBe('STORED\r\n');
    expect(await c.call('get sc.c\r\n')).toBe(value('sc', 'yes'));
    const stats = await admin.call('stats\r\n');
    expect(stats).not.toContain('queue_sc.a');
  });
});

describe('concurrent readers', () => {
  it('two cursors at different speeds while a plain consumer removes from the head', async () => {
    // What each must see: a cursor serves, in id order, every item still in the queue at the
    // moment of its read (ready or open on the queue) that it has not served yet; an item a plain
    // get has already removed is never served by a cursor that had not reached it.
    const fast = await connect();
    const slow = await connect();
    const consumer = await connect();
    const opener = await connect();
    const m = (i: number) => `m${i}`;
    await fill(consumer, 'race', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(m));
    for (let i = 1; i <= 6; i++) expect(await fast.call('get race.fast\r\n')).toBe(value('race', m(i)));
    for (let i = 1; i <= 2; i++) expect(await slow.call('get race.slow\r\n')).toBe(value('race', m(i)));
    for (let i = 1; i <= 4; i++) expect(await consumer.call('get race\r\n')).toBe(value('race', m(i)));
    // slow had not reached m3, m4: they are gone; it continues from the head.
    expect(await slow.call('get race.slow\r\n')).toBe(value('race', m(5)));
    expect(await fast.call('get race.fast\r\n')).toBe(value('race', m(7)));
    // The opener holds m5 open (not removed); the consumer removes m6 behind it.
    expect(await opener.call('get race/open\r\n')).toBe(value('race', m(5)));
    expect(await consumer.call('get race\r\n')).toBe(value('race', m(6)));
    // slow is at m6, which is gone: next for slow is m7.
    expect(await slow.call('get race.slow\r\n')).toBe(value('race', m(7)));
    expect(await fast.call('get race.fast\r\n')).toBe(value('race', m(8)));
    // The opener gives m5 back: both cursors have served it already, neither sees it again.
    expect(await opener.call('get race/abort\r\n')).toBe(END);
    expect(await consumer.call('get race\r\n')).toBe(value('race', m(5)));
    expect(await consumer.call('get race\r\n')).toBe(value('race', m(7)));
    expect(await slow.call('get race.slow\r\n')).toBe(value('race', m(8)));
    await fill(consumer, 'race', [m(11)]);
    expect(await drain(fast, 'race.fast', 'race')).toEqual([m(9), m(10), m(11)]);
    expect(await consumer.call('get race\r\n')).toBe(value('race', m(8)));
    expect(await consumer.call('get race\r\n')).toBe(value('race', m(9)));
    expect(await drain(slow, 'race.slow', 'race')).toEqual([m(10), m(11)]);
    expect(await drain(consumer, 'race', 'race')).toEqual([m(10), m(11)]);
  });

  it('random interleaving of two cursors, a plain consumer and an opener matches the model', async () => {
    // Model: `present` holds the ids still in the queue (ready or open); a cursor at position p
    // serves the smallest present id ≥ p. A plain get removes the smallest ready id.
    let seed = 0x5eed1234;
    const rand = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const conns = { a: await connect(), b: await connect(), consumer: await connect(), opener: await connect() };
    const present = new Set<number>();
    const pos = { a: 0, b: 0 };
    let next = 0;
    let openId: number | null = null;
    const smallest = (pred: (id: number) => boolean) => {
      let best: number | null = null;
      for (const id of present) if (pred(id) && (best === null || id < best)) best = id;
      return best;
    };
    const expectItem = (id: number | null) => (id === null ? END : value('rnd', `v${id}`));
    // Both cursors exist from the start, at the head of the empty queue.
    expect(await conns.a.call('get rnd.a\r\n')).toBe(END);
    expect(await conns.b.call('get rnd.b\r\n')).toBe(END);
    for (let step = 0; step < 400; step++) {
      const op = rand(10);
      if (op < 3) {
        const n = 1 + rand(3);
        const values: string[] = [];
        for (let i = 0; i < n; i++) {
          present.add(next);
          values.push(`v${next++}`);
        }
        await fill(conns.consumer, 'rnd', values);
      } else if (op < 7) {
        const which = op < 6 ? 'a' : 'b'; // a reads three times as often as b
        const id = smallest((x) => x >= pos[which]);
        expect(await conns[which].call(`get rnd.${which}\r\n`), `step ${step} cursor ${which}`).toBe(expectItem(id));
        if (id !== null) pos[which] = id + 1;
      } else if (op === 7) {
        const id = smallest((x) => x !== openId);
        expect(await conns.consumer.call('get rnd\r\n'), `step ${step} plain get`).toBe(expectItem(id));
        if (id !== null) present.delete(id);
      } else if (openId === null) {
        const id = smallest(() => true);
        expect(await conns.opener.call('get rnd/open\r\n'), `step ${step} open`).toBe(expectItem(id));
        openId = id;
      } else if (op === 8) {
        expect(await conns.opener.call('get rnd/close\r\n')).toBe(END);
        present.delete(openId);
        openId = null;
      } else {
        expect(await conns.opener.call('get rnd/abort\r\n')).toBe(END);
        openId = null;
      }
    }
  });

  it('a 1,000-item queue is read completely by three cursors on three connections, each item once, in order', async () => {
    const producer = await connect();
    const n = 1000;
    const expected = Array.from({ length: n }, (_, i) => `item-${i}`);
    await fill(producer, 'big', expected);
    const readers = ['x', 'y', 'z'];
    const conns = await Promise.all(readers.map(() => connect()));
    const results = await Promise.all(
      readers.map(async (name, r) => {
        const c = conns[r]!;
        c.send(`get big.${name}\r\n`.repeat(n + 1));
        const got: string[] = [];
        for (let i = 0; i < n; i++) {
          const reply = await c.readReply();
          const m = /^VALUE big 0 (\d+)\r\n/.exec(reply);
          if (!m) throw new Error(`cursor ${name} read ${i}: ${JSON.stringify(reply)}`);
          got.push(reply.slice(m[0].length, m[0].length + Number(m[1])));
        }
        expect(await c.readReply()).toBe(END);
        return got;
      }),
    );
    for (const got of results) expect(got).toEqual(expected);
    expect(await stat('queue_big_items')).toBe(String(n));
    for (const name of readers) expect(await stat(`queue_big.${name}_items`)).toBe('0');
  });

  it('three cursors blocked on /t= read 1,000 items while they are being written', async () => {
    const producer = await connect();
    const n = 1000;
    const expected = Array.from({ length: n }, (_, i) => `live-${i}`);
    const readers = ['x', 'y', 'z'];
    const conns = await Promise.all(readers.map(() => connect()));
    // Name the cursors first, so they start at the (empty) head.
    for (let r = 0; r < readers.length; r++) expect(await conns[r]!.call(`get live.${readers[r]}\r\n`)).toBe(END);
    const reading = Promise.all(
      readers.map(async (name, r) => {
        const c = conns[r]!;
        c.send(`get live.${name}/t=10000\r\n`.repeat(n));
        const got: string[] = [];
        for (let i = 0; i < n; i++) {
          const reply = await c.readReply();
          const m = /^VALUE live 0 (\d+)\r\n/.exec(reply);
          if (!m) throw new Error(`cursor ${name} read ${i}: ${JSON.stringify(reply)}`);
          got.push(reply.slice(m[0].length, m[0].length + Number(m[1])));
        }
        return got;
      }),
    );
    // Written in ten pipelined bursts, so reads and writes interleave.
    for (let i = 0; i < n; i += 100) await fill(producer, 'live', expected.slice(i, i + 100));
    const results = await reading;
    for (const got of results) expect(got).toEqual(expected);
    for (let r = 0; r < readers.length; r++) expect(await conns[r]!.call(`get live.${readers[r]}\r\n`)).toBe(END);
  });

  it('two connections sharing one cursor split the items: each once, in order per connection', async () => {
    const producer = await connect();
    const n = 600;
    await fill(
      producer,
      'shared',
      Array.from({ length: n }, (_, i) => String(i)),
    );
    const conns = [await connect(), await connect()];
    const per = 400; // 800 reads for 600 items: 200 END
    const results = await Promise.all(
      conns.map(async (c) => {
        c.send('get shared.c\r\n'.repeat(per));
        const got: number[] = [];
        let ends = 0;
        for (let i = 0; i < per; i++) {
          const reply = await c.readReply();
          if (reply === END) {
            ends++;
            continue;
          }
          const m = /^VALUE shared 0 (\d+)\r\n(\d+)\r\nEND\r\n$/.exec(reply);
          if (!m) throw new Error(`unexpected ${JSON.stringify(reply)}`);
          got.push(Number(m[2]));
        }
        return { got, ends };
      }),
    );
    for (const { got } of results) for (let i = 1; i < got.length; i++) expect(got[i]!).toBeGreaterThan(got[i - 1]!);
    const all = [...results[0]!.got, ...results[1]!.got].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(results[0]!.ends + results[1]!.ends).toBe(2 * per - n);
  });
});
