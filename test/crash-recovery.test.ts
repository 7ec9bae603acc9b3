// Durability across `kill -9` and graceful stops (docs/protocol.md#adding-items-set "STORED is a promise", docs/protocol.md#reliable-reads crash
// safety of open items): the server is killed for real and restarted on the same LevelDB.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type ServerHandle, startServer } from './helpers/server.js';
import { TextClient, setCmd } from './helpers/textClient.js';

/** Servers and data directories a test started; removed after it whatever happened. */
const started: ServerHandle[] = [];
async function start(dataDir?: string, args?: string[]): Promise<ServerHandle> {
  const s = await startServer({ dataDir, args });
  started.push(s);
  return s;
}
afterEach(async () => {
  for (const s of started) await s.kill9();
  for (const dir of new Set(started.map((s) => s.dataDir))) started.find((s) => s.dataDir === dir)!.cleanup();
  started.length = 0;
});

// ---- writing: pipelined sets from several connections, counted as they are acknowledged -----

/** The k-th item connection `conn` writes: its queue, flags and value are all deterministic. */
function itemOf(conn: number, k: number, queues: (conn: number, k: number) => string) {
  return {
    queue: queues(conn, k),
    flags: conn * 100_000 + k,
    value: `c${conn}-k${k}-${'x'.repeat((k * 37) % 300)}`,
  };
}

interface WriterResult {
  conn: number;
  sent: number;
  /** STORED replies received: the first `acked` items this connection sent are promised. */
  acked: number;
  errors: string[];
}

interface FloodOptions {
  port: number;
  connections: number;
  /** Each connection writes at most this many. */
  perConnection: number;
  /** Sets per write, and writes in flight per connection. */
  batch: number;
  window: number;
  queues: (conn: number, k: number) => string;
  /** Called (once) when this many STORED have arrived in all; later STOREDs are still counted. */
  target: number;
  onTarget(): void;
}

/**
 * One pipelining connection: keeps `window` batches of sets in flight until it has sent
 * `perConnection` or the server goes away. It goes on writing after the target so that the
 * kill always lands with sets in flight, however fast the server acknowledges.
 */
function writer(conn: number, o: FloodOptions, acks: { total: number; hit: boolean }): Promise<WriterResult> {
  return new Promise((resolve) => {
    const result: WriterResult = { conn, sent: 0, acked: 0, errors: [] };
    const socket = net.connect(o.port, '127.0.0.1');
    socket.setNoDelay(true);
    let pending = '';
    const pump = () => {
      while (result.sent < o.perConnection && result.sent - result.acked < o.batch * o.window) {
        const parts: Buffer[] = [];
        const n = Math.min(o.batch, o.perConnection - result.sent);
        for (let j = 0; j < n; j++) {
          const it = itemOf(conn, result.sent++, o.queues);
          parts.push(setCmd(it.queue, it.value, it.flags));
        }
        socket.write(Buffer.concat(parts));
      }
      if (result.sent === o.perConnection && result.acked === result.sent) socket.end();
    };
    socket.on('connect', pump);
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      let nl: number;
      while ((nl = pending.indexOf('\r\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 2);
        if (line !== 'STORED') {
          result.errors.push(line);
          continue;
        }
        result.acked++;
        acks.total++;
        if (!acks.hit && acks.total >= o.target) {
          acks.hit = true;
          o.onTarget();
        }
      }
      pump();
    });
    socket.on('error', () => undefined); // the server is killed under it
    socket.on('close', () => resolve(result));
  });
}

async function flood(o: FloodOptions): Promise<WriterResult[]> {
  const acks = { total: 0, hit: false };
  return Promise.all(Array.from({ length: o.connections }, (_, conn) => writer(conn, o, acks)));
}

// ---- reading back ---------------------------------------------------------------------------

interface ReadItem {
  flags: number;
  value: string;
}

/** Removes every item of `queue` with pipelined plain gets (bounded: at most `max` items). */
async function drain(port: number, queue: string, max = 20_000): Promise<ReadItem[]> {
  const c = await TextClient.connect(port);
  const out: ReadItem[] = [];
  const BATCH = 200;
  try {
    for (let round = 0; round * BATCH <= max; round++) {
      c.send(`get ${queue}\r\n`.repeat(BATCH));
      let ended = false;
      for (let j = 0; j < BATCH; j++) {
        const reply = await c.readReply();
        if (reply === 'END\r\n') {
          ended = true;
          continue;
        }
        const m = /^VALUE (\S+) (\d+) (\d+)\r\n/.exec(reply);
        if (!m || m[1] !== queue) throw new Error(`unexpected reply to get ${queue}: ${JSON.stringify(reply.slice(0, 200))}`);
        const head = m[0].length;
        const len = Number(m[3]);
        expect(reply.slice(head + len)).toBe('\r\nEND\r\n');
        // Nothing writes meanwhile: once the queue answered empty, it stays empty.
        if (ended) throw new Error(`get ${queue} returned an item after an empty answer`);
        out.push({ flags: Number(m[2]), value: reply.slice(head, head + len) });
      }
      if (ended) return out;
    }
    throw new Error(`${queue} holds more than ${max} items`);
  } finally {
    c.close();
  }
}

async function statsOf(port: number): Promise<Map<string, string>> {
  const c = await TextClient.connect(port);
  try {
    const text = await c.call('stats\r\n');
    expect(text.endsWith('END\r\n')).toBe(true);
    const map = new Map<string, string>();
    for (const line of text.split('\r\n')) {
      const m = /^STAT (\S+) (\S*)$/.exec(line);
      if (m) map.set(m[1]!, m[2]!);
    }
    return map;
  } finally {
    c.close();
  }
}

/**
 * Checks what one queue held after a restart against what was sent to it: per connection, the
 * items must be exactly a prefix of what that connection sent to this queue, at least as long as
 * what was acknowledged, in order, without gaps or duplicates. With one connection per queue
 * that is the whole sequence; with several, their items interleave but each stays in order.
 */
function checkQueue(queue: string, got: ReadItem[], writers: WriterResult[], queues: (conn: number, k: number) => string): void {
  const byConn = new Map<number, ReadItem[]>();
  for (const item of got) {
    const m = /^c(\d+)-k(\d+)-/.exec(item.value);
    expect(m, `foreign item in ${queue}: ${item.value.slice(0, 40)}`).not.toBeNull();
    const conn = Number(m![1]);
    if (!byConn.has(conn)) byConn.set(conn, []);
    byConn.get(conn)!.push(item);
  }
  for (const w of writers) {
    const sentHere: Array<{ flags: number; value: string }> = [];
    let ackedHere = 0;
    for (let k = 0; k < w.sent; k++) {
      const it = itemOf(w.conn, k, queues);
      if (it.queue !== queue) continue;
      sentHere.push({ flags: it.flags, value: it.value });
      if (k < w.acked) ackedHere++;
    }
    const have = byConn.get(w.conn) ?? [];
    const label = `${queue}, connection ${w.conn}: ${have.length} items back, ${ackedHere} acknowledged, ${sentHere.length} sent`;
    expect(have.length, label).toBeGreaterThanOrEqual(ackedHere);
    expect(have.length, label).toBeLessThanOrEqual(sentHere.length);
    // Exactly the prefix, in order (so nothing missing, duplicated or reordered).
    for (let i = 0; i < have.length; i++) {
      if (have[i]!.value !== sentHere[i]!.value || have[i]!.flags !== sentHere[i]!.flags) {
        expect.fail(
          `${label}: item ${i} is ${have[i]!.value.slice(0, 20)} (flags ${have[i]!.flags}), expected ${sentHere[i]!.value.slice(0, 20)} (flags ${sentHere[i]!.flags})`,
        );
      }
    }
    byConn.delete(w.conn);
  }
  expect([...byConn.keys()], `items from unknown connections in ${queue}`).toEqual([]);
}

/** The whole kill -9 durability scenario, with or without extra server flags. */
async function killDuringFlood(opts: { args?: string[]; connections: number; target: number; prefix: string }) {
  const { connections, target, prefix } = opts;
  // Even items to the connection's own queue, odd ones to a queue all connections share.
  const queues = (conn: number, k: number) => (k % 2 === 0 ? `${prefix}own${conn}` : `${prefix}shared`);
  const first = await start(undefined, opts.args);
  const writers = await flood({
    port: first.port,
    connections,
    perConnection: target, // more than any one connection gets acknowledged before the kill
    batch: 25,
    window: 4,
    queues,
    target,
    onTarget: () => first.proc.kill('SIGKILL'), // right after the target-th STORED arrives
  });
  await first.kill9(); // waits for the exit
  expect(first.proc.signalCode).toBe('SIGKILL');
  for (const w of writers) expect(w.errors, `connection ${w.conn} replies`).toEqual([]);
  const acked = writers.reduce((a, w) => a + w.acked, 0);
  expect(acked).toBeGreaterThanOrEqual(target);
  // Sets were still in flight when the server died (the kill really interrupted writing).
  expect(writers.reduce((a, w) => a + w.sent, 0)).toBeGreaterThan(acked);

  const second = await start(first.dataDir, opts.args);
  const names = [...Array.from({ length: connections }, (_, c) => `${prefix}own${c}`), `${prefix}shared`];
  const before = await statsOf(second.port);
  let total = 0;
  for (const name of names) {
    const got = await drain(second.port, name);
    checkQueue(name, got, writers, queues);
    // stats counted exactly what was there (docs/protocol.md#statistics items) before anything was read.
    expect(before.get(`queue_${name}_items`), `queue_${name}_items after restart`).toBe(String(got.length));
    total += got.length;
  }
  expect(total).toBeGreaterThanOrEqual(acked);
  const sent = writers.reduce((a, w) => a + w.sent, 0);
  console.log(`${prefix}: ${sent} sent, ${acked} acknowledged, ${total} back after kill -9 and restart`);
  const after = await statsOf(second.port);
  for (const name of names) expect(after.get(`queue_${name}_items`)).toBe('0');
  expect(await second.stop()).toBe(0);
  return { acked, total };
}

// ---- the tests --------------------------------------------------------------------------------

describe('kill -9', () => {
  it('keeps every acknowledged item of a pipelined multi-connection flood, in order', async () => {
    const { acked, total } = await killDuringFlood({ connections: 4, target: 2_000, prefix: 'flood_' });
    expect(acked).toBeGreaterThanOrEqual(2_000);
    expect(total).toBeGreaterThanOrEqual(acked);
  });

  it('with -fsync always, keeps every acknowledged item too', async () => {
    await killDuringFlood({ args: ['-fsync', 'always'], connections: 3, target: 300, prefix: 'sync_' });
  });

  it('keeps fanout sets atomic: every queue of `a+b+c` holds the same acknowledged prefix', async () => {
    const first = await start();
    const fanKey = 'fan_a+fan_b+fan_c';
    const writers = await flood({
      port: first.port,
      connections: 2,
      perConnection: 1_000,
      batch: 20,
      window: 4,
      queues: () => fanKey,
      target: 600,
      onTarget: () => first.proc.kill('SIGKILL'),
    });
    await first.kill9();
    for (const w of writers) expect(w.errors).toEqual([]);
    const second = await start(first.dataDir);
    const got: ReadItem[][] = [];
    for (const name of ['fan_a', 'fan_b', 'fan_c']) {
      const items = await drain(second.port, name);
      checkQueue(name, items, writers, () => name);
      got.push(items);
    }
    // One atomic write per set: no queue has an item another lacks (docs/protocol.md#fanout).
    expect(got[1]).toEqual(got[0]);
    expect(got[2]).toEqual(got[0]);
    expect(await second.stop()).toBe(0);
  });

  it('returns items open at the kill to the head, in id order, and keeps doing so across restarts', async () => {
    const first = await start();
    const writer = await TextClient.connect(first.port);
    const values = Array.from({ length: 10 }, (_, i) => `open-item-${i}`);
    for (const v of values) expect(await writer.call(setCmd('oq', v, 5))).toBe('STORED\r\n');
    // Three connections each open one item, in a known order: A holds 0, B 1, C 2.
    const readers = [await TextClient.connect(first.port), await TextClient.connect(first.port), await TextClient.connect(first.port)];
    for (let i = 0; i < 3; i++) {
      expect(await readers[i]!.call('get oq/open\r\n')).toBe(`VALUE oq 5 ${values[i]!.length}\r\n${values[i]}\r\nEND\r\n`);
    }
    const s1 = await statsOf(first.port);
    expect(s1.get('queue_oq_items')).toBe('7');
    expect(s1.get('queue_oq_open_transactions')).toBe('3');
    await first.kill9();

    // Restart: all ten are there, the three open ones first, in id order.
    const second = await start(first.dataDir);
    const s2 = await statsOf(second.port);
    expect(s2.get('queue_oq_items')).toBe('10');
    expect(s2.get('queue_oq_open_transactions')).toBe('0');
    // Open the head again on the new server, then crash again: still all ten, in order.
    const again = await TextClient.connect(second.port);
    expect(await again.call('get oq/open\r\n')).toBe(`VALUE oq 5 ${values[0]!.length}\r\n${values[0]}\r\nEND\r\n`);
    await second.kill9();

    const third = await start(first.dataDir);
    expect((await statsOf(third.port)).get('queue_oq_items')).toBe('10');
    const reader = await TextClient.connect(third.port);
    for (let i = 0; i < 4; i++) {
      expect(await reader.call('get oq\r\n')).toBe(`VALUE oq 5 ${values[i]!.length}\r\n${values[i]}\r\nEND\r\n`);
    }
    reader.close();
    expect((await statsOf(third.port)).get('queue_oq_items')).toBe('6');
    const got = await drain(third.port, 'oq');
    expect(got).toEqual(values.slice(4).map((value) => ({ flags: 5, value })));
    expect((await statsOf(third.port)).get('queue_oq_items')).toBe('0');
    expect(await third.stop()).toBe(0);
  });
});

describe('graceful stop (SIGTERM)', () => {
  it('exits 0 in the middle of a pipelined flood and keeps every acknowledged item', async () => {
    const first = await start();
    const queues = (conn: number) => `term_${conn}`;
    const writers = await flood({
      port: first.port,
      connections: 3,
      perConnection: 1_000,
      batch: 25,
      window: 4,
      queues,
      target: 900,
      onTarget: () => first.proc.kill('SIGTERM'),
    });
    expect(await first.stop()).toBe(0); // waits for the exit the SIGTERM above started
    expect(first.proc.signalCode).toBeNull();
    for (const w of writers) expect(w.errors).toEqual([]);
    const second = await start(first.dataDir);
    const before = await statsOf(second.port);
    for (let conn = 0; conn < 3; conn++) {
      const got = await drain(second.port, `term_${conn}`);
      checkQueue(`term_${conn}`, got, writers, queues);
      expect(before.get(`queue_term_${conn}_items`)).toBe(String(got.length));
    }
    expect(await second.stop()).toBe(0);
  });

  it('exits 0, never returns a consumed item again, and returns open items to the head', async () => {
    const first = await start();
    const c = await TextClient.connect(first.port);
    const values = ['s0', 's1', 's2', 's3', 's4'];
    for (const v of values) expect(await c.call(setCmd('sq', v))).toBe('STORED\r\n');
    // s0 is consumed (its reply received); s1 is open on another connection at the stop.
    expect(await c.call('get sq\r\n')).toBe('VALUE sq 0 2\r\ns0\r\nEND\r\n');
    const opener = await TextClient.connect(first.port);
    expect(await opener.call('get sq/open\r\n')).toBe('VALUE sq 0 2\r\ns1\r\nEND\r\n');
    // A blocked reader must not hold up the stop.
    const waiter = await TextClient.connect(first.port);
    waiter.send('get nothing_here/t=60000\r\n');
    // ... and a consumed item of a second queue, to check more than one queue's deletes.
    expect(await c.call(setCmd('sq2', 'gone'))).toBe('STORED\r\n');
    expect(await c.call(setCmd('sq2', 'kept'))).toBe('STORED\r\n');
    expect(await c.call('get sq2\r\n')).toBe('VALUE sq2 0 4\r\ngone\r\nEND\r\n');
    expect((await statsOf(first.port)).get('queue_sq_items')).toBe('3');

    expect(await first.stop()).toBe(0);
    // The stop closed every connection.
    await Promise.all([c.waitClosed(), opener.waitClosed(), waiter.waitClosed()]);

    const second = await start(first.dataDir);
    const s = await statsOf(second.port);
    expect(s.get('queue_sq_items')).toBe('4');
    expect(s.get('queue_sq2_items')).toBe('1');
    expect(await drain(second.port, 'sq')).toEqual(['s1', 's2', 's3', 's4'].map((value) => ({ flags: 0, value })));
    expect(await drain(second.port, 'sq2')).toEqual([{ flags: 0, value: 'kept' }]);
    expect((await statsOf(second.port)).get('queue_sq_items')).toBe('0');

    // A second graceful cycle with nothing open: still nothing comes back.
    expect(await second.stop()).toBe(0);
    const third = await start(first.dataDir);
    const s3 = await statsOf(third.port);
    expect(s3.get('queue_sq_items')).toBe('0');
    expect(s3.get('queue_sq2_items')).toBe('0');
    expect(await drain(third.port, 'sq')).toEqual([]);
    expect(await third.stop()).toBe(0);
  });
});
