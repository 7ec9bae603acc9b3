// monitor / confirm, status, shutdown, dump_stats (docs/protocol.md#server-commands) and the server-wide and per-queue
// stats they and ordinary traffic move (docs/protocol.md#statistics) — end to end over real TCP.
import { describe, expect, it } from 'vitest';
import { fill, queueNamer, withOwnServer } from './helpers/fixtures.js';
import { useInProcessServer } from './helpers/inProcess.js';
import { type ServerHandle } from './helpers/server.js';
import { type PollBound, closeAndWait, queueStats, stat, waitForStat } from './helpers/stats.js';
import { setCmd, value } from './helpers/textClient.js';

const fx = useInProcessServer();
const { connect } = fx;
const qname = queueNamer('m');

/** This file polls `stats` every 10 ms for up to ~3 s. */
const POLL: PollBound = { tries: 1000, intervalMs: 10, limitMs: 3000 };

/** Resolves with the exit code when the process exits, or rejects after `ms`. */
function exitOf(handle: ServerHandle, ms = 5000): Promise<number | null> {
  const { proc } = handle;
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not exit in ${ms} ms`)), ms);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('docs/protocol.md#server-commands monitor and confirm', () => {
  it('monitor q 1 streams existing and new items as VALUE…END blocks, then END after ~1 s', async () => {
    const c = await connect();
    const p = await connect();
    const q = qname();
    await fill(p, q, ['first', 'second']);
    const t0 = performance.now();
    c.send(`monitor ${q} 1\r\n`);
    expect(await c.readReply()).toBe(value(q, 'first'));
    expect(await c.readReply()).toBe(value(q, 'second'));
    // An item set while the monitor runs is streamed too.
    expect(await p.call(setCmd(q, 'third', 5))).toBe('STORED\r\n');
    expect(await c.readReply()).toBe(value(q, 'third', 5));
    expect(await c.readReply()).toBe('END\r\n');
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(2500);

    // The items are open reads of this connection: not served to anyone else.
    expect(await queueStats(p, q, ['items', 'open_transactions', 'transactions'])).toEqual({
      items: '0',
      open_transactions: '3',
      transactions: '3',
    });
    expect(await p.call(`get ${q}\r\n`)).toBe('END\r\n');
    // confirm closes the oldest two → END; asking for more than are open → ERROR.
    expect(await c.call(`confirm ${q} 2\r\n`)).toBe('END\r\n');
    expect(await queueStats(p, q, ['open_transactions'])).toEqual({ open_transactions: '1' });
    expect(await c.call(`confirm ${q} 5\r\n`)).toBe('ERROR\r\n');
    // The failed confirm closed nothing.
    expect(await queueStats(p, q, ['open_transactions', 'items'])).toEqual({ open_transactions: '1', items: '0' });
    // The unconfirmed item returns to the head when the monitor's connection goes.
    await closeAndWait(c, p, POLL);
    expect(await p.call(`get ${q}\r\n`)).toBe(value(q, 'third', 5));
    expect(await p.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('monitor q 5 2 stops after 2 items; confirm q 2 → END', async () => {
    const c = await connect();
    const p = await connect();
    const q = qname();
    await fill(p, q, ['a', 'b', 'c']);
    const t0 = performance.now();
    c.send(`monitor ${q} 5 2\r\n`);
    expect(await c.readReply()).toBe(value(q, 'a'));
    expect(await c.readReply()).toBe(value(q, 'b'));
    expect(await c.readReply()).toBe('END\r\n');
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(await queueStats(p, q, ['items', 'open_transactions'])).toEqual({ items: '1', open_transactions: '2' });
    expect(await c.call(`confirm ${q} 2\r\n`)).toBe('END\r\n');
    expect(await c.call(`confirm ${q} 1\r\n`)).toBe('ERROR\r\n');
    expect(await queueStats(p, q, ['items', 'open_transactions'])).toEqual({ items: '1', open_transactions: '0' });
    c.close();
    expect(await p.call(`get ${q}\r\n`)).toBe(value(q, 'c'));
  });

  it('unconfirmed monitor items return to the head, in order, on disconnect', async () => {
    const c = await connect();
    const p = await connect();
    const q = qname();
    await fill(p, q, ['x', 'y', 'z']);
    c.send(`monitor ${q} 5 2\r\n`);
    expect(await c.readReply()).toBe(value(q, 'x'));
    expect(await c.readReply()).toBe(value(q, 'y'));
    expect(await c.readReply()).toBe('END\r\n');
    await closeAndWait(c, p, POLL);
    for (const v of ['x', 'y', 'z']) expect(await p.call(`get ${q}\r\n`)).toBe(value(q, v));
    expect(await queueStats(p, q, ['items', 'open_transactions'])).toEqual({ items: '0', open_transactions: '0' });
  });
});

describe('docs/protocol.md#server-commands status', () => {
  it('UP → readonly → quiescent → up, with the rules each state sets', async () => {
    const c = await connect();
    const other = await connect();
    const q = qname('st');
    try {
      expect(await c.call('status\r\n')).toBe('UP\r\n');
      await fill(c, q, ['one', 'two', 'three']);

      expect(await c.call('status readonly\r\n')).toBe('END\r\n');
      expect(await c.call('status\r\n')).toBe('READONLY\r\n');
      expect(await other.call('status\r\n')).toBe('READONLY\r\n');
      expect(await c.call(setCmd(q, 'refused'))).toBe('NOT_STORED\r\n');
      expect(await other.call(setCmd(q, 'refused'))).toBe('NOT_STORED\r\n');
      expect(await c.call(`delete ${q}\r\n`)).toBe('SERVER_ERROR read only\r\n');
      expect(await c.call(`flush ${q}\r\n`)).toBe('SERVER_ERROR read only\r\n');
      expect(await c.call('flush_all\r\n')).toBe('SERVER_ERROR read only\r\n');
      // Reads still work.
      expect(await c.call(`get ${q}/peek\r\n`)).toBe(value(q, 'one'));
      expect(await c.call(`get ${q}\r\n`)).toBe(value(q, 'one'));
      expect(await other.call(`get ${q}/open\r\n`)).toBe(value(q, 'two'));
      expect(await other.call(`get ${q}/abort\r\n`)).toBe('END\r\n');
      expect((await queueStats(c, q, ['items'])).items).toBe('2');

      expect(await c.call('status quiescent\r\n')).toBe('END\r\n');
      expect(await c.call('status\r\n')).toBe('QUIESCENT\r\n');
      // Looks empty to readers; refuses writers.
      expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
      expect(await c.call(`get ${q}/peek\r\n`)).toBe('END\r\n');
      expect(await other.call(`get ${q}/open\r\n`)).toBe('END\r\n');
      expect(await c.call(setCmd(q, 'refused'))).toBe('NOT_STORED\r\n');
      expect(await c.call(`flush ${q}\r\n`)).toBe('SERVER_ERROR read only\r\n');
      expect((await queueStats(c, q, ['items'])).items).toBe('2');

      // A bad status is refused and changes nothing.
      expect(await c.call('status sideways\r\n')).toMatch(/^CLIENT_ERROR \S.*\r\n$/);
      expect(await c.call('status\r\n')).toBe('QUIESCENT\r\n');

      expect(await c.call('status UP\r\n')).toBe('END\r\n');
      expect(await c.call('status\r\n')).toBe('UP\r\n');
      expect(await c.call(setCmd(q, 'four'))).toBe('STORED\r\n');
      for (const v of ['two', 'three', 'four']) expect(await other.call(`get ${q}\r\n`)).toBe(value(q, v));
    } finally {
      await c.call('status up\r\n');
    }
  });

  it('persists across a restart', async () => {
    await withOwnServer(async (start) => {
      let s = await start();
      let c = await connect(s.port);
      expect(await c.call(setCmd('kept', 'v'))).toBe('STORED\r\n');
      expect(await c.call('status readonly\r\n')).toBe('END\r\n');
      c.close();
      expect(await s.stop()).toBe(0);

      s = await start();
      c = await connect(s.port);
      expect(await c.call('status\r\n')).toBe('READONLY\r\n');
      expect(await c.call(setCmd('kept', 'w'))).toBe('NOT_STORED\r\n');
      expect(await c.call('status quiescent\r\n')).toBe('END\r\n');
      c.close();
      await s.kill9(); // a status change is durable once acknowledged

      s = await start();
      c = await connect(s.port);
      expect(await c.call('status\r\n')).toBe('QUIESCENT\r\n');
      expect(await c.call('get kept\r\n')).toBe('END\r\n');
      expect(await c.call('status up\r\n')).toBe('END\r\n');
      c.close();
      expect(await s.stop()).toBe(0);

      s = await start();
      c = await connect(s.port);
      expect(await c.call('status\r\n')).toBe('UP\r\n');
      expect(await c.call('get kept\r\n')).toBe(value('kept', 'v'));
      c.close();
    });
  });
});

describe('docs/protocol.md#server-commands shutdown', () => {
  it('without -allow-shutdown → ERROR unknown command, and the server keeps serving', async () => {
    const c = await connect();
    expect(await c.call('shutdown\r\n')).toBe('ERROR unknown command\r\n');
    expect(await c.call('version\r\n')).toMatch(/^VERSION \d+\.\d+\.\d+\r\n$/);
    expect(fx.server.exitCode).toBeNull();
  });

  it('with -allow-shutdown: the process exits 0 and the data survives a restart', async () => {
    await withOwnServer(async (start) => {
      let s = await start({ args: ['-allow-shutdown'] });
      const c = await connect(s.port);
      const holder = await connect(s.port);
      await fill(c, 'sd', ['a', 'b', 'c']);
      // An item open at shutdown goes back to the head.
      expect(await holder.call('get sd/open\r\n')).toBe(value('sd', 'a'));
      const exited = exitOf(s);
      c.send('shutdown\r\n');
      await c.readToClose();
      expect(await exited).toBe(0);
      await holder.waitClosed();

      s = await start();
      const d = await connect(s.port);
      for (const v of ['a', 'b', 'c']) expect(await d.call('get sd\r\n')).toBe(value('sd', v));
      expect(await d.call('get sd\r\n')).toBe('END\r\n');
      d.close();
    });
  });
});

describe('docs/protocol.md#server-commands dump_stats', () => {
  it('shows one block per queue, then END', async () => {
    const c = await connect();
    const q1 = qname('da');
    const q2 = qname('db');
    await fill(c, q1, ['1', '22']);
    await fill(c, q2, ['333']);
    expect(await c.call(`get ${q2}.cur/peek\r\n`)).toBe(value(q2, '333'));
    const dump = await c.call('dump_stats\r\n');
    expect(dump.endsWith('}\r\nEND\r\n')).toBe(true);
    const lines = dump.split('\r\n').slice(0, -2);
    for (const line of lines) expect(line).toMatch(/^(queue '[^']+' \{|  [a-z_]+=\S*|  cursor '[^']+' \{|    [a-z_]+=\S*|  \}|\})$/);
    const block = (q: string) => {
      const m = new RegExp(`^queue '${q}' \\{\\r\\n((?:  .*\\r\\n)*)\\}\\r$`, 'm').exec(dump);
      expect(m, `no block for ${q} in:\n${dump}`).not.toBeNull();
      return m![1]!;
    };
    const b1 = block(q1);
    expect(b1).toMatch(/^  items=2\r$/m);
    expect(b1).toMatch(/^  bytes=3\r$/m);
    expect(b1).toMatch(/^  total_items=2\r$/m);
    for (const key of [
      'logsize',
      'expired_items',
      'mem_items',
      'mem_bytes',
      'age',
      'discarded',
      'waiters',
      'open_transactions',
      'transactions',
      'canceled_transactions',
      'total_flushes',
    ]) {
      expect(b1).toMatch(new RegExp(`^  ${key}=\\d+\\r$`, 'm'));
    }
    const b2 = block(q2);
    expect(b2).toMatch(/^  items=1\r$/m);
    expect(b2).toMatch(/^  cursor 'cur' \{\r$/m);
  });
});

describe('docs/protocol.md#statistics stats', () => {
  it('total_flushes counts flushes; mem_items and mem_bytes follow the items held in memory', async () => {
    const c = await connect();
    const q = qname('fl');
    await fill(c, q, ['aaaaa', 'bbbbb', 'ccccc']);
    expect(await queueStats(c, q, ['items', 'bytes', 'mem_items', 'mem_bytes', 'total_flushes'])).toEqual({
      items: '3',
      bytes: '15',
      mem_items: '3',
      mem_bytes: '15',
      total_flushes: '0',
    });
    expect(await c.call(`get ${q}\r\n`)).toBe(value(q, 'aaaaa'));
    expect(await queueStats(c, q, ['mem_items', 'mem_bytes'])).toEqual({ mem_items: '2', mem_bytes: '10' });
    expect(await c.call(`flush ${q}\r\n`)).toBe('END\r\n');
    expect(await queueStats(c, q, ['items', 'bytes', 'mem_items', 'mem_bytes', 'total_flushes'])).toEqual({
      items: '0',
      bytes: '0',
      mem_items: '0',
      mem_bytes: '0',
      total_flushes: '1',
    });
    expect(await c.call(`flush ${q}\r\n`)).toBe('END\r\n');
    expect((await queueStats(c, q, ['total_flushes'])).total_flushes).toBe('2');
  });

  it('logsize becomes > 0 within ~2 s of writing data (the sweep refreshes it every second)', async () => {
    const c = await connect();
    const q = qname('ls');
    await fill(
      c,
      q,
      Array.from({ length: 20 }, (_, i) => `item ${i} `.repeat(20)),
    );
    expect((await queueStats(c, q, ['items'])).items).toBe('20');
    const got = await waitForStat(c, `queue_${q}_logsize`, (v) => Number(v) > 0, { ...POLL, limitMs: 2500 }).catch(
      (err: Error) => err.message,
    );
    expect(Number(got), `logsize: ${got}`).toBeGreaterThan(0);
  });

  it('bytes_read and bytes_written count exactly the bytes on the wire', async () => {
    const c = await connect();
    const q = qname('bw');
    const first = await c.call('stats\r\n');
    const set = setCmd(q, 'hello');
    const get = `get ${q}\r\n`;
    expect(await c.call(set)).toBe('STORED\r\n');
    const reply = await c.call(get);
    expect(reply).toBe(value(q, 'hello'));
    const second = await c.call('stats\r\n');
    // Between the two stats the server read: the set, the get, and the second `stats` line; and
    // wrote: the first stats reply, STORED and the VALUE reply.
    const read = Number(stat(second, 'bytes_read')) - Number(stat(first, 'bytes_read'));
    const written = Number(stat(second, 'bytes_written')) - Number(stat(first, 'bytes_written'));
    expect(read).toBe(set.length + get.length + 'stats\r\n'.length);
    expect(written).toBe(first.length + 'STORED\r\n'.length + reply.length);
  });
});
