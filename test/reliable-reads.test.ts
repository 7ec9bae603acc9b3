// Reliable reads (docs/protocol.md#reliable-reads): /open, /close, /abort, disconnects, flush/delete of open items,
// crash safety — end to end over real TCP.
import { describe, expect, it } from 'vitest';
import { fill, queueNamer, withOwnServer } from './helpers/fixtures.js';
import { useInProcessServer } from './helpers/inProcess.js';
import { closeAndWait, stat, waitForStat } from './helpers/stats.js';
import { CLOSE_FIRST, TextClient, value } from './helpers/textClient.js';

const { connect } = useInProcessServer();
const qname = queueNamer('r');

describe('docs/protocol.md#reliable-reads reliable reads', () => {
  it('allows one open item per connection and queue; one more → Close current item first', async () => {
    const c = await connect();
    const q = qname();
    const other = qname();
    await fill(c, q, ['a', 'b', 'c']);
    await fill(c, other, ['o']);
    expect(await c.call(`get ${q}/open\r\n`)).toBe(value(q, 'a'));
    expect(await c.call(`get ${q}/open\r\n`)).toBe(CLOSE_FIRST);
    expect(await c.call(`get ${q}/t=50/open\r\n`)).toBe(CLOSE_FIRST);
    // Another queue is independent.
    expect(await c.call(`get ${other}/open\r\n`)).toBe(value(other, 'o'));
    // The refused open took nothing: close, then the next open gets b.
    expect(await c.call(`get ${q}/close/open\r\n`)).toBe(value(q, 'b'));
    expect(await c.call(`get ${q}/close\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${q}/open\r\n`)).toBe(value(q, 'c'));
    expect(await c.call(`get ${q}/close ${other}/close\r\n`)).toBe('END\r\n');
    const stats = await c.call('stats\r\n');
    expect(stat(stats, `queue_${q}_open_transactions`)).toBe('0');
    expect(stat(stats, `queue_${q}_items`)).toBe('0');
    expect(stat(stats, `queue_${other}_items`)).toBe('0');
  });

  it('does not serve an open item to anyone else, not even to peek', async () => {
    const a = await connect();
    const b = await connect();
    const q = qname();
    await fill(a, q, ['first', 'second']);
    expect(await a.call(`get ${q}/open\r\n`)).toBe(value(q, 'first'));
    expect(await b.call(`get ${q}/peek\r\n`)).toBe(value(q, 'second'));
    expect(await b.call(`get ${q}/open\r\n`)).toBe(value(q, 'second'));
    const c = await connect();
    expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${q}/peek\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${q}/open\r\n`)).toBe('END\r\n');
    expect(await a.call(`get ${q}/close\r\n`)).toBe('END\r\n');
    expect(await b.call(`get ${q}/close\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('close deletes the open item for good: a later disconnect does not bring it back', async () => {
    const a = await connect();
    const q = qname();
    await fill(a, q, ['done']);
    expect(await a.call(`get ${q}/open\r\n`)).toBe(value(q, 'done'));
    expect(await a.call(`get ${q}/close\r\n`)).toBe('END\r\n');
    const b = await connect();
    await closeAndWait(a, b);
    expect(await b.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('returns an open item to the head when its connection closes', async () => {
    const a = await connect();
    const b = await connect();
    const q = qname();
    await fill(a, q, ['x1', 'x2']);
    expect(await a.call(`get ${q}/open\r\n`)).toBe(value(q, 'x1'));
    a.close();
    await waitForStat(b, `queue_${q}_open_transactions`, '0');
    expect(await b.call(`get ${q}\r\n`)).toBe(value(q, 'x1'));
    expect(await b.call(`get ${q}\r\n`)).toBe(value(q, 'x2'));
  });

  it('hands an item returned by a disconnect straight to a blocked reader', async () => {
    const a = await connect();
    const b = await connect();
    const q = qname();
    await fill(a, q, ['only']);
    expect(await a.call(`get ${q}/open\r\n`)).toBe(value(q, 'only'));
    b.send(`get ${q}/t=5000\r\n`);
    await waitForStat(a, `queue_${q}_waiters`, '1');
    const t0 = Date.now();
    a.close();
    expect(await b.readReply()).toBe(value(q, 'only'));
    expect(Date.now() - t0).toBeLessThan(2000);
    const c = await connect();
    expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('returns the items of several connections to the head in their original order', async () => {
    const a = await connect();
    const b = await connect();
    const c = await connect();
    const q = qname();
    await fill(a, q, ['i1', 'i2', 'i3', 'i4']);
    expect(await a.call(`get ${q}/open\r\n`)).toBe(value(q, 'i1'));
    expect(await b.call(`get ${q}/open\r\n`)).toBe(value(q, 'i2'));
    expect(await c.call(`get ${q}/open\r\n`)).toBe(value(q, 'i3'));
    // Returned newest first …
    c.close();
    await waitForStat(a, `queue_${q}_open_transactions`, '2');
    b.close();
    await waitForStat(a, `queue_${q}_open_transactions`, '1');
    a.close();
    const d = await connect();
    await waitForStat(d, `queue_${q}_open_transactions`, '0');
    // … they are back in id order, ahead of the item never read.
    expect(await d.call(`get ${q} ${q} ${q} ${q} ${q}\r\n`)).toBe(
      `VALUE ${q} 0 2\r\ni1\r\nVALUE ${q} 0 2\r\ni2\r\nVALUE ${q} 0 2\r\ni3\r\nVALUE ${q} 0 2\r\ni4\r\nEND\r\n`,
    );
  });

  it('returns one connection’s open items on several queues, each to its own head', async () => {
    const a = await connect();
    const q1 = qname('m');
    const q2 = qname('n');
    await fill(a, q1, ['p1', 'p2']);
    await fill(a, q2, ['r1', 'r2']);
    expect(await a.call(`get ${q1}/open ${q2}/open\r\n`)).toBe(`VALUE ${q1} 0 2\r\np1\r\nVALUE ${q2} 0 2\r\nr1\r\nEND\r\n`);
    a.close();
    const b = await connect();
    await waitForStat(b, `queue_${q1}_open_transactions`, '0');
    await waitForStat(b, `queue_${q2}_open_transactions`, '0');
    expect(await b.call(`get ${q2} ${q1} ${q2} ${q1}\r\n`)).toBe(
      `VALUE ${q2} 0 2\r\nr1\r\nVALUE ${q1} 0 2\r\np1\r\nVALUE ${q2} 0 2\r\nr2\r\nVALUE ${q1} 0 2\r\np2\r\nEND\r\n`,
    );
  });

  it('abort returns the open item to the head', async () => {
    const a = await connect();
    const q = qname();
    await fill(a, q, ['h1', 'h2']);
    expect(await a.call(`get ${q}/open\r\n`)).toBe(value(q, 'h1'));
    expect(await a.call(`get ${q}/abort\r\n`)).toBe('END\r\n');
    let stats = await a.call('stats\r\n');
    expect(stat(stats, `queue_${q}_open_transactions`)).toBe('0');
    expect(stat(stats, `queue_${q}_canceled_transactions`)).toBe('1');
    expect(stat(stats, `queue_${q}_items`)).toBe('2');
    // Nothing is open now, so a plain get is allowed, and the aborted item comes first.
    const b = await connect();
    expect(await b.call(`get ${q}/open\r\n`)).toBe(value(q, 'h1'));
    expect(await a.call(`get ${q}\r\n`)).toBe(value(q, 'h2'));
    expect(await b.call(`get ${q}/abort\r\n`)).toBe('END\r\n');
    expect(await a.call(`get ${q}\r\n`)).toBe(value(q, 'h1'));
    stats = await a.call('stats\r\n');
    expect(stat(stats, `queue_${q}_items`)).toBe('0');
    expect(stat(stats, `queue_${q}_transactions`)).toBe('2');
  });

  it('abort wakes a blocked reader', async () => {
    const a = await connect();
    const b = await connect();
    const q = qname();
    await fill(a, q, ['w']);
    expect(await a.call(`get ${q}/open\r\n`)).toBe(value(q, 'w'));
    b.send(`get ${q}/t=5000\r\n`);
    await waitForStat(a, `queue_${q}_waiters`, '1');
    expect(await a.call(`get ${q}/abort\r\n`)).toBe('END\r\n');
    expect(await b.readReply()).toBe(value(q, 'w'));
    expect(await a.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('close and abort act on the named queue only', async () => {
    const a = await connect();
    const q1 = qname('s');
    const q2 = qname('t');
    await fill(a, q1, ['one']);
    await fill(a, q2, ['two']);
    expect(await a.call(`get ${q1}/open\r\n`)).toBe(value(q1, 'one'));
    expect(await a.call(`get ${q2}/open\r\n`)).toBe(value(q2, 'two'));
    expect(await a.call(`get ${q1}/close\r\n`)).toBe('END\r\n');
    let stats = await a.call('stats\r\n');
    expect(stat(stats, `queue_${q1}_open_transactions`)).toBe('0');
    expect(stat(stats, `queue_${q1}_items`)).toBe('0');
    expect(stat(stats, `queue_${q2}_open_transactions`)).toBe('1');
    // q2's item is still open: still refused to a plain get here, still invisible to others.
    expect(await a.call(`get ${q2}\r\n`)).toBe(CLOSE_FIRST);
    const b = await connect();
    expect(await b.call(`get ${q2}\r\n`)).toBe('END\r\n');
    // Closing or aborting a third queue touches neither.
    expect(await a.call(`get ${qname('u')}/abort\r\n`)).toBe('END\r\n');
    expect(await a.call(`get ${q1}/abort\r\n`)).toBe('END\r\n');
    stats = await a.call('stats\r\n');
    expect(stat(stats, `queue_${q2}_open_transactions`)).toBe('1');
    expect(await a.call(`get ${q2}/abort\r\n`)).toBe('END\r\n');
    expect(await b.call(`get ${q2}\r\n`)).toBe(value(q2, 'two'));
    expect(await b.call(`get ${q1}\r\n`)).toBe('END\r\n');
  });

  it('flush drops open items; a later close or abort is a silent no-op', async () => {
    const a = await connect();
    const b = await connect();
    const q = qname();
    await fill(a, q, ['f1', 'f2']);
    expect(await a.call(`get ${q}/open\r\n`)).toBe(value(q, 'f1'));
    expect(await b.call(`get ${q}/open\r\n`)).toBe(value(q, 'f2'));
    expect(await b.call(`flush ${q}\r\n`)).toBe('END\r\n');
    let stats = await a.call('stats\r\n');
    expect(stat(stats, `queue_${q}_open_transactions`)).toBe('0');
    expect(stat(stats, `queue_${q}_items`)).toBe('0');
    expect(await a.call(`get ${q}/abort\r\n`)).toBe('END\r\n');
    expect(await b.call(`get ${q}/close\r\n`)).toBe('END\r\n');
    expect(await a.call(`get ${q}/close\r\n`)).toBe('END\r\n');
    // Nothing came back: not by abort, not by a disconnect.
    const c = await connect();
    await closeAndWait(a, c);
    await closeAndWait(b, c);
    expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
    // The queue works normally afterwards.
    await fill(c, q, ['new']);
    expect(await c.call(`get ${q}/open\r\n`)).toBe(value(q, 'new'));
    expect(await c.call(`get ${q}/close\r\n`)).toBe('END\r\n');
    stats = await c.call('stats\r\n');
    expect(stat(stats, `queue_${q}_items`)).toBe('0');
  });

  it('after flush dropped its open item, the connection holds nothing open on that queue', async () => {
    const a = await connect();
    const b = await connect();
    const q = qname();
    await fill(a, q, ['gone']);
    expect(await a.call(`get ${q}/open\r\n`)).toBe(value(q, 'gone'));
    expect(await b.call(`flush ${q}\r\n`)).toBe('END\r\n');
    expect(stat(await b.call('stats\r\n'), `queue_${q}_open_transactions`)).toBe('0');
    await fill(b, q, ['next1', 'next2']);
    // The dropped item no longer counts: a plain get and a new open are not refused.
    expect(await a.call(`get ${q}\r\n`)).toBe(value(q, 'next1'));
    expect(await a.call(`get ${q}/open\r\n`)).toBe(value(q, 'next2'));
    expect(await a.call(`get ${q}/close\r\n`)).toBe('END\r\n');
    expect(stat(await a.call('stats\r\n'), `queue_${q}_items`)).toBe('0');
  });

  it('delete drops open items; a later close or abort is a silent no-op and nothing is resurrected', async () => {
    const a = await connect();
    const b = await connect();
    const q = qname();
    await fill(a, q, ['d1', 'd2']);
    expect(await a.call(`get ${q}/open\r\n`)).toBe(value(q, 'd1'));
    expect(await b.call(`delete ${q}\r\n`)).toBe('DELETED\r\n');
    expect(await a.call(`get ${q}/abort\r\n`)).toBe('END\r\n');
    expect(await b.call(`get ${q}\r\n`)).toBe('END\r\n');
    expect(await a.call(`get ${q}/close\r\n`)).toBe('END\r\n');
    // A re-created queue of the same name starts empty, and the old open item never appears in it.
    await fill(b, q, ['fresh']);
    await closeAndWait(a, b);
    expect(await b.call(`get ${q}\r\n`)).toBe(value(q, 'fresh'));
    expect(await b.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('counts open_transactions in stats', async () => {
    const a = await connect();
    const b = await connect();
    const q = qname();
    await fill(a, q, ['s1', 's2', 's3']);
    const open = async () => stat(await a.call('stats\r\n'), `queue_${q}_open_transactions`);
    expect(await open()).toBe('0');
    expect(await a.call(`get ${q}/open\r\n`)).toBe(value(q, 's1'));
    expect(await open()).toBe('1');
    expect(await b.call(`get ${q}/open\r\n`)).toBe(value(q, 's2'));
    expect(await open()).toBe('2');
    expect(await a.call(`get ${q}/close\r\n`)).toBe('END\r\n');
    expect(await open()).toBe('1');
    b.close();
    await waitForStat(a, `queue_${q}_open_transactions`, '0');
    expect(stat(await a.call('stats\r\n'), `queue_${q}_items`)).toBe('2');
  });

  it('close/open on an empty queue closes the current item and answers END', async () => {
    const a = await connect();
    const q = qname();
    await fill(a, q, ['last']);
    expect(await a.call(`get ${q}/close/open\r\n`)).toBe(value(q, 'last'));
    expect(await a.call(`get ${q}/close/open\r\n`)).toBe('END\r\n');
    expect(stat(await a.call('stats\r\n'), `queue_${q}_open_transactions`)).toBe('0');
    // Nothing is open, so a plain get is allowed.
    expect(await a.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('keeps open items across kill -9: back at the head, in order', async () => {
    await withOwnServer(async (start) => {
      const s = await start();
      const a = await TextClient.connect(s.port);
      const b = await TextClient.connect(s.port);
      await fill(a, 'crash', ['c1', 'c2', 'c3']);
      expect(await a.call('get crash/open\r\n')).toBe(value('crash', 'c1'));
      expect(await b.call('get crash/open\r\n')).toBe(value('crash', 'c2'));
      await s.kill9();
      a.close();
      b.close();
      const s2 = await start();
      const c = await TextClient.connect(s2.port);
      expect(await c.call('get crash crash crash crash\r\n')).toBe(
        'VALUE crash 0 2\r\nc1\r\nVALUE crash 0 2\r\nc2\r\nVALUE crash 0 2\r\nc3\r\nEND\r\n',
      );
      c.close();
    });
  });

  it('loses no open read when a connection goes away while its gets wait for the disk', async () => {
    await withOwnServer(async (start) => {
      const s = await start();
      const a = await TextClient.connect(s.port);
      await fill(a, 'disk_a', ['a1', 'a2']);
      await fill(a, 'disk_b', ['b1', 'b2']);
      a.close();
      expect(await s.stop()).toBe(0);
      // After a restart no item is in memory: every get below has to read the store first.
      const s2 = await start();
      for (let round = 0; round < 20; round++) {
        const gone = await TextClient.connect(s2.port);
        gone.send('get disk_a/open disk_b/open\r\nget disk_a/open\r\nget disk_b/peek\r\n');
        // Before any reply: whatever was taken for it comes back. (A plain get answered into a
        // socket whose client has just left is lost with any server: that is what /open is for.)
        gone.close();
      }
      const c = await TextClient.connect(s2.port);
      await waitForStat(c, 'curr_connections', '1');
      expect(await c.call('get disk_a disk_a disk_a\r\n')).toBe('VALUE disk_a 0 2\r\na1\r\nVALUE disk_a 0 2\r\na2\r\nEND\r\n');
      expect(await c.call('get disk_b disk_b disk_b\r\n')).toBe('VALUE disk_b 0 2\r\nb1\r\nVALUE disk_b 0 2\r\nb2\r\nEND\r\n');
      c.close();
    });
  });

  it('returns open items to the head on a graceful shutdown', async () => {
    await withOwnServer(async (start) => {
      const s = await start();
      const a = await TextClient.connect(s.port);
      await fill(a, 'graceful', ['g1', 'g2']);
      expect(await a.call('get graceful/open\r\n')).toBe(value('graceful', 'g1'));
      expect(await s.stop()).toBe(0);
      await a.waitClosed();
      const s2 = await start();
      const c = await TextClient.connect(s2.port);
      expect(await c.call('get graceful graceful graceful\r\n')).toBe('VALUE graceful 0 2\r\ng1\r\nVALUE graceful 0 2\r\ng2\r\nEND\r\n');
      c.close();
    });
  });
});
