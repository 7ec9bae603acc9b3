// Crash safety of cursors and fanout (docs/protocol.md#adding-items-set "STORED is a promise", docs/protocol.md#durable-cursors, docs/protocol.md#fanout): the server is
// killed with SIGKILL and restarted on the same data directory.
//
// A cursor read is answered before the cursor's new position is written (it rides in the next
// group-commit batch). To know a read is on disk before killing, each test sends one more
// acknowledged write on the same connection — a `set` to another queue — and waits for its
// STORED: batches are written in order, so that STORED means the position is written too.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Clients, drain, fill } from './helpers/fixtures.js';
import { type ServerHandle, startServer } from './helpers/server.js';
import { statsOf } from './helpers/stats.js';
import { END, TextClient, setCmd, value } from './helpers/textClient.js';

const servers: ServerHandle[] = [];
const clients = new Clients();
const dirs: string[] = [];

afterEach(async () => {
  clients.closeAll();
  // Every server first: restarted servers share a data directory with the killed ones.
  const started = servers.splice(0);
  for (const s of started) await s.kill9();
  for (const s of started) s.cleanup();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(options: { dataDir?: string; args?: string[] } = {}): Promise<ServerHandle> {
  const s = await startServer(options);
  servers.push(s);
  return s;
}

/** kill -9, then a new server on the same data directory. */
async function crashAndRestart(s: ServerHandle, args?: string[]): Promise<ServerHandle> {
  clients.closeAll();
  await s.kill9();
  return start({ dataDir: s.dataDir, ...(args ? { args } : {}) });
}

const connect = (s: ServerHandle): Promise<TextClient> => clients.connect(s.port);

/** An acknowledged write after the commands before it: they are on disk once it answers. */
async function barrier(c: TextClient): Promise<void> {
  expect(await c.call(setCmd('zz_barrier', 'x'))).toBe('STORED\r\n');
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

describe('cursor positions and retry lists survive kill -9', () => {
  it('after reading k items, a restart continues at k+1 (each cursor its own k)', async () => {
    let s = await start();
    let c = await connect(s);
    await fill(c, 'pos', range(1, 10));
    for (let i = 1; i <= 4; i++) expect(await c.call('get pos.c\r\n')).toBe(value('pos', String(i)));
    for (let i = 1; i <= 7; i++) expect(await c.call('get pos.d\r\n')).toBe(value('pos', String(i)));
    expect(await c.call('get pos.e/peek\r\n')).toBe(value('pos', '1')); // named, nothing read
    expect(await c.call('get pos\r\n')).toBe(value('pos', '1'));
    expect(await c.call('get pos\r\n')).toBe(value('pos', '2'));
    await barrier(c);

    s = await crashAndRestart(s);
    c = await connect(s);
    const st = await statsOf(c);
    expect(st.get('queue_pos_items')).toBe('8');
    expect(st.get('queue_pos.c_items')).toBe('6');
    expect(st.get('queue_pos.d_items')).toBe('3');
    expect(st.get('queue_pos.e_items')).toBe('8');
    expect(await drain(c, 'pos.c', 'pos')).toEqual(range(5, 10));
    expect(await drain(c, 'pos.d', 'pos')).toEqual(range(8, 10));
    expect(await drain(c, 'pos.e', 'pos')).toEqual(range(3, 10)); // behind the head: continues from it
    expect(await drain(c, 'pos', 'pos')).toEqual(range(3, 10));
  });

  it('positions survive repeated crashes, with reads through a cursor far behind a long queue', async () => {
    let s = await start();
    let c = await connect(s);
    await fill(c, 'long', range(1, 3000));
    let next = 1;
    for (let round = 0; round < 3; round++) {
      c.send('get long.c\r\n'.repeat(700));
      for (let i = 0; i < 700; i++) expect(await c.readReply()).toBe(value('long', String(next++)));
      await barrier(c);
      s = await crashAndRestart(s);
      c = await connect(s);
      expect((await statsOf(c)).get('queue_long.c_items')).toBe(String(3000 - next + 1));
    }
    expect(await c.call('get long.c\r\n')).toBe(value('long', String(next)));
  });

  it('a retry list (aborted reads) survives kill -9 and is served first, in order', async () => {
    let s = await start();
    const a = await connect(s);
    const b = await connect(s);
    await fill(a, 'rl', range(1, 4));
    expect(await a.call('get rl.c/open\r\n')).toBe(value('rl', '1'));
    expect(await b.call('get rl.c/open\r\n')).toBe(value('rl', '2'));
    expect(await b.call('get rl.c/abort\r\n')).toBe(END);
    expect(await a.call('get rl.c/abort\r\n')).toBe(END);
    await barrier(a);
    await barrier(b);

    s = await crashAndRestart(s);
    const c = await connect(s);
    const st = await statsOf(c);
    expect(st.get('queue_rl.c_items')).toBe('4');
    expect(st.get('queue_rl.c_open_transactions')).toBe('0');
    expect(await drain(c, 'rl.c', 'rl')).toEqual(['1', '2', '3', '4']);
    expect(await drain(c, 'rl', 'rl')).toEqual(['1', '2', '3', '4']); // the queue itself untouched
  });

  it('an item open on a cursor at kill -9 is in the retry list after restart, served first; closing it sticks', async () => {
    let s = await start();
    let a = await connect(s);
    const b = await connect(s);
    await fill(a, 'op', range(1, 4));
    expect(await a.call('get op.c/open\r\n')).toBe(value('op', '1'));
    expect(await b.call('get op.c\r\n')).toBe(value('op', '2'));
    await barrier(a);
    await barrier(b);

    s = await crashAndRestart(s);
    a = await connect(s);
    expect((await statsOf(a)).get('queue_op.c_items')).toBe('3'); // 1 (retry), 3, 4
    expect(await a.call('get op.c/open\r\n')).toBe(value('op', '1'));
    expect(await a.call('get op.c/close\r\n')).toBe(END);
    expect(await a.call('get op.c/open\r\n')).toBe(value('op', '3'));
    await barrier(a);

    s = await crashAndRestart(s);
    a = await connect(s);
    // 1 was closed (gone from the retry list); 3 was open at the crash: served first again.
    expect(await drain(a, 'op.c', 'op')).toEqual(['3', '4']);
  });

  it('a cursor item still open at a graceful stop is served first after restart', async () => {
    let s = await start();
    let a = await connect(s);
    await fill(a, 'gs', range(1, 2));
    expect(await a.call('get gs.c/open\r\n')).toBe(value('gs', '1'));
    expect(await s.stop()).toBe(0);
    a.close();
    s = await start({ dataDir: s.dataDir });
    a = await connect(s);
    expect(await drain(a, 'gs.c', 'gs')).toEqual(['1', '2']);
  });

  it('flush q.c and delete q.c / delete q are persistent', async () => {
    let s = await start();
    let c = await connect(s);
    await fill(c, 'fd', range(1, 5));
    await fill(c, 'gone', range(1, 2));
    for (let i = 1; i <= 3; i++) expect(await c.call('get fd.f\r\n')).toBe(value('fd', String(i)));
    expect(await c.call('get fd.f/open\r\n')).toBe(value('fd', '4'));
    expect(await c.call('get fd.f/abort\r\n')).toBe(END);
    expect(await c.call('get fd\r\n')).toBe(value('fd', '1'));
    expect(await c.call('flush fd.f\r\n')).toBe(END);
    for (let i = 1; i <= 2; i++) expect(await c.call('get fd.d\r\n')).toBe(value('fd', String(i + 1)));
    expect(await c.call('delete fd.d\r\n')).toBe('DELETED\r\n');
    expect(await c.call('get gone.c\r\n')).toBe(value('gone', '1'));
    expect(await c.call('delete gone\r\n')).toBe('DELETED\r\n');
    await barrier(c);

    s = await crashAndRestart(s);
    c = await connect(s);
    const st = await statsOf(c);
    expect([...st.keys()].filter((k) => k.startsWith('queue_fd.d_') || k.startsWith('queue_gone'))).toEqual([]);
    expect(st.get('queue_fd.f_items')).toBe('4');
    expect(await drain(c, 'fd.f', 'fd')).toEqual(['2', '3', '4', '5']); // rewound, no retry left
    expect(await drain(c, 'fd.d', 'fd')).toEqual(['2', '3', '4', '5']); // a fresh cursor at the head
    expect(await c.call('get gone.c\r\n')).toBe(END);
    expect(await c.call('get gone\r\n')).toBe(END);
  });
});

describe('fanout survives kill -9', () => {
  it('a fanout write answered STORED is in every queue after restart, flags included', async () => {
    let s = await start();
    let c = await connect(s);
    expect(await c.call('get fo2.c\r\n')).toBe(END); // a cursor on one of them, at the empty head
    const n = 200;
    c.send(Buffer.concat(range(1, n).map((v) => setCmd('fo1+fo2+fo3', v, 77))));
    for (let i = 0; i < n; i++) expect(await c.readReply()).toBe('STORED\r\n');
    // No barrier: STORED itself is the promise.
    s = await crashAndRestart(s);
    c = await connect(s);
    const st = await statsOf(c);
    for (const q of ['fo1', 'fo2', 'fo3']) expect(st.get(`queue_${q}_items`)).toBe(String(n));
    for (const q of ['fo1', 'fo2', 'fo3']) {
      for (let i = 1; i <= n; i++) expect(await c.call(`get ${q}\r\n`)).toBe(value(q, String(i), 77));
      expect(await c.call(`get ${q}\r\n`)).toBe(END);
    }
    expect(await c.call('get fo2.c\r\n')).toBe(END); // read after the plain gets removed all
  });

  it('a fanout with a bad name is in none of the queues, before or after restart', async () => {
    let s = await start();
    let c = await connect(s);
    expect(await c.call(setCmd('na+nb/x', 'bad'))).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call(setCmd('na+nb.c', 'bad'))).toBe('CLIENT_ERROR cannot set to a cursor\r\n');
    expect(await c.call(setCmd('na++nb', 'bad'))).toBe('CLIENT_ERROR bad queue name\r\n');
    await barrier(c);
    s = await crashAndRestart(s);
    c = await connect(s);
    const st = await statsOf(c);
    expect([...st.keys()].filter((k) => k.startsWith('queue_na') || k.startsWith('queue_nb'))).toEqual([]);
    expect(await c.call('get na\r\n')).toBe(END);
    expect(await c.call('get nb\r\n')).toBe(END);
  });

  it("each queue's copy keeps its own expiry (max_age of one queue does not leak to the others)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'siberite-recovery-config-'));
    dirs.push(dir);
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ queues: { aged: { max_age: 300 } } }));
    const args = ['-config', config];
    let s = await start({ args });
    let c = await connect(s);
    const t0 = Date.now();
    expect(await c.call(setCmd('keep1+aged', 'one'))).toBe('STORED\r\n');
    expect(await c.call(setCmd('aged+keep2', 'two'))).toBe('STORED\r\n');
    s = await crashAndRestart(s, args);
    c = await connect(s);
    // Expiry is a matter of time: wait until aged's max_age (300 ms) has passed for both items.
    const wait = t0 + 500 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    expect(await c.call('get keep1\r\n')).toBe(value('keep1', 'one'));
    expect(await c.call('get keep2\r\n')).toBe(value('keep2', 'two'));
    expect(await c.call('get aged\r\n')).toBe(END);
  });
});
