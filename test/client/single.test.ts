// The client against one real server: every call of the API, its options, and its errors.
// Imported as users import it — through package.json's "exports" ('siberite/client' → dist/).
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, type Message, SiberiteError } from 'siberite/client';
import { TextClient } from '../helpers/textClient.js';
import { Node, freePort, until } from './servers.js';

let server: Node;
let client: Client;
let raw: TextClient;

/** A fresh queue name per test, so tests do not see each other's items. */
let seq = 0;
const q = (base: string) => `${base}${++seq}`;

async function statOf(queue: string, key: string): Promise<number> {
  const [s] = await client.stats();
  return Number(s!.stats![`queue_${queue}_${key}`] ?? 0);
}

beforeAll(async () => {
  server = await Node.start();
  client = new Client({ servers: [server.address] });
  raw = await TextClient.connect(server.port);
});
afterAll(async () => {
  await client?.end();
  raw?.close();
  await server?.destroy();
});

describe('put and get', () => {
  it('round-trips strings, bytes and empty values, in order', async () => {
    const jobs = q('jobs');
    await client.put(jobs, 'héllo');
    await client.put(jobs, Buffer.from([0, 13, 10, 255]));
    await client.put(jobs, new Uint8Array(0));
    expect((await client.get(jobs))!.toString()).toBe('héllo');
    expect(await client.get(jobs)).toEqual(Buffer.from([0, 13, 10, 255]));
    expect(await client.get(jobs)).toEqual(Buffer.alloc(0));
    expect(await client.get(jobs)).toBeUndefined();
  });

  it('waits for an item with waitMs, and is woken by a put', async () => {
    const jobs = q('wait');
    const t0 = Date.now();
    expect(await client.get(jobs, { waitMs: 200 })).toBeUndefined();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(180);
    const waiting = client.get(jobs, { waitMs: 10_000 });
    // The put comes from another connection while the read is blocked on the server.
    await until(async () => (await statOf(jobs, 'waiters')) === 1, 5000, 'the blocked read');
    await client.put(jobs, 'late');
    expect((await waiting)!.toString()).toBe('late');
  });

  it('writes one copy to each queue of a fanout', async () => {
    const [a, b] = [q('fa'), q('fb')];
    await client.put([a, b], 'both');
    expect((await client.get(a))!.toString()).toBe('both');
    expect((await client.get(b))!.toString()).toBe('both');
  });

  it('expires an item after expiresInMs (whole seconds, rounded up)', async () => {
    const jobs = q('exp');
    await client.put(jobs, 'short', { expiresInMs: 1 });
    await client.put(jobs, 'long', { expiresInMs: 3_600_000 });
    expect((await client.peek(jobs))!.toString()).toBe('short');
    await until(async () => (await client.peek(jobs))?.toString() === 'long', 4000, 'the expiry');
  });

  it('peeks without removing', async () => {
    const jobs = q('peek');
    await client.put(jobs, 'p');
    expect((await client.peek(jobs))!.toString()).toBe('p');
    expect((await client.get(jobs))!.toString()).toBe('p');
    expect(await client.peek(jobs)).toBeUndefined();
  });

  it('refuses bad names and options at the call, with EBADARG', async () => {
    const bad: Array<() => Promise<unknown>> = [
      () => client.put('a/b', 'x'),
      () => client.put('a.b', 'x'),
      () => client.put([], 'x'),
      () => client.put('q', 'x', { expiresInMs: -1 }),
      () => client.put('q', 'x', { flags: 2 ** 32 }),
      () => client.put('q', 42 as unknown as string),
      () => client.get(''),
      () => client.get('q', { waitMs: -5 }),
      () => client.open('q', { cursor: 'a+b' }),
    ];
    for (const call of bad) await expect(call()).rejects.toMatchObject({ code: 'EBADARG' });
    expect(() => client.consume('q', { concurrency: 0 })).toThrow(SiberiteError);
  });
});

describe('reliable reads', () => {
  it('close removes the item; abort hands it back; flags come back', async () => {
    const jobs = q('rel');
    await client.put(jobs, 'one', { flags: 7 });
    await client.put(jobs, 'two');
    const m1 = (await client.open(jobs))!;
    expect([m1.value.toString(), m1.flags, m1.server, m1.state]).toEqual(['one', 7, server.address, 'open']);
    expect(await statOf(jobs, 'open_transactions')).toBe(1);
    await m1.close();
    expect(m1.state).toBe('closed');
    const m2 = (await client.open(jobs))!;
    await m2.abort();
    expect(m2.state).toBe('aborted');
    await expect(m2.close()).rejects.toMatchObject({ code: 'ECLOSED' });
    expect((await client.get(jobs))!.toString()).toBe('two');
    expect(await client.get(jobs)).toBeUndefined();
    expect(await statOf(jobs, 'open_transactions')).toBe(0);
  });

  it('opens several items at once, each on its own connection', async () => {
    const jobs = q('many');
    for (let i = 0; i < 5; i++) await client.put(jobs, `i${i}`);
    const ms = await Promise.all(Array.from({ length: 5 }, () => client.open(jobs)));
    expect(ms.map((m) => m!.value.toString()).sort()).toEqual(['i0', 'i1', 'i2', 'i3', 'i4']);
    expect(await statOf(jobs, 'open_transactions')).toBe(5);
    await Promise.all(ms.map((m) => m!.close()));
    expect(await statOf(jobs, 'items')).toBe(0);
  });

  it('reads through a cursor without consuming the queue', async () => {
    const events = q('ev');
    await client.put(events, 'e1');
    const m = (await client.open(events, { cursor: 'audit' }))!;
    expect([m.queue, m.cursor, m.value.toString()]).toEqual([events, 'audit', 'e1']);
    await m.close();
    expect(await client.get(events, { cursor: 'audit' })).toBeUndefined();
    expect((await client.get(events))!.toString()).toBe('e1');
  });
});

describe('consume', () => {
  it('never holds more than `concurrency` items open', async () => {
    const jobs = q('bp');
    for (let i = 0; i < 12; i++) await client.put(jobs, `j${i}`);
    const it_ = client.consume(jobs, { concurrency: 3, waitMs: 200 });
    const got: Message[] = [];
    for (let i = 0; i < 3; i++) got.push((await it_.next()).value as Message);
    // A fourth cannot come while three are open: the next() stays pending.
    const fourth = it_.next();
    const raced = await Promise.race([fourth.then(() => 'got'), new Promise((r) => setTimeout(() => r('pending'), 300))]);
    expect(raced).toBe('pending');
    expect(await statOf(jobs, 'open_transactions')).toBe(3);
    await got[0]!.close();
    expect(((await fourth).value as Message).value.toString()).toMatch(/^j\d+$/);
    expect(await statOf(jobs, 'open_transactions')).toBeLessThanOrEqual(3);
    await it_.return!();
    await Promise.all(got.slice(1).map((m) => m.close()));
    await until(async () => (await statOf(jobs, 'open_transactions')) === 0, 3000, 'the aborts');
    expect(await statOf(jobs, 'items')).toBe(12 - 3);
  });

  it('aborts the message of a loop body that throws, and ends the loop', async () => {
    const jobs = q('throw');
    await client.put(jobs, 'boom');
    await expect(
      (async () => {
        for await (const m of client.consume(jobs, { waitMs: 200 })) {
          expect(m.value.toString()).toBe('boom');
          throw new Error('handler failed');
        }
      })(),
    ).rejects.toThrow('handler failed');
    await until(async () => (await statOf(jobs, 'open_transactions')) === 0, 3000, 'the abort');
    expect((await client.get(jobs))!.toString()).toBe('boom');
  });

  it('processes a stream with close in the loop body', async () => {
    const jobs = q('stream');
    for (let i = 0; i < 50; i++) await client.put(jobs, `s${i}`);
    const seen: string[] = [];
    for await (const m of client.consume(jobs, { concurrency: 4, waitMs: 100 })) {
      seen.push(m.value.toString());
      await m.close();
      if (seen.length === 50) break;
    }
    expect(new Set(seen).size).toBe(50);
    expect(await statOf(jobs, 'items')).toBe(0);
  });
});

describe('failures and the end', () => {
  it('fails fast with ENOSERVER when no server listens', async () => {
    const port = await freePort();
    const c = new Client({ servers: [`127.0.0.1:${port}`] });
    const t0 = Date.now();
    await expect(c.put('q', 'x')).rejects.toMatchObject({ code: 'ENOSERVER' });
    await expect(c.get('q')).rejects.toMatchObject({ code: 'ENOSERVER' });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(c.servers()[0]!.up).toBe(false);
    await c.end();
  });

  it('times out a server that accepts and never answers, and marks it down', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    const c = new Client({ servers: [`127.0.0.1:${port}`], requestTimeoutMs: 200 });
    const t0 = Date.now();
    await expect(c.put('q', 'x', { timeoutMs: 2000 })).rejects.toMatchObject({ code: 'ENOSERVER', cause: { code: 'ETIMEOUT' } });
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(c.servers()[0]!.up).toBe(false);
    await c.end();
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  it('end() aborts what is open, and refuses calls afterwards', async () => {
    const jobs = q('end');
    const c = new Client({ servers: [server.address] });
    await c.put(jobs, 'held');
    const m = (await c.open(jobs))!;
    const idle = c.consume(q('endidle'), { waitMs: 5000 });
    const pending = idle.next();
    await c.end();
    expect(m.state).toBe('aborted');
    expect(await pending).toEqual({ done: true, value: undefined });
    await expect(c.put(jobs, 'x')).rejects.toMatchObject({ code: 'ECLOSED' });
    expect((await client.get(jobs))!.toString()).toBe('held');
  });

  it('rejects a put every server refused with the refusal (EREPLY NOT_STORED)', async () => {
    expect(await raw.call('status READONLY\r\n')).toBe('END\r\n');
    try {
      await expect(client.put(q('ro'), 'x')).rejects.toMatchObject({ code: 'EREPLY', reply: 'NOT_STORED' });
    } finally {
      expect(await raw.call('status UP\r\n')).toBe('END\r\n');
    }
  });

  it('does not spin on a QUIESCENT server that answers every read at once', async () => {
    const jobs = q('quiet');
    const c = new Client({ servers: [server.address] });
    const cmdGet = async () => Number((await client.stats())[0]!.stats!.cmd_get);
    expect(await raw.call('status QUIESCENT\r\n')).toBe('END\r\n');
    try {
      const it_ = c.consume(jobs, { concurrency: 4, waitMs: 300 });
      const pending = it_.next();
      const before = await cmdGet();
      await new Promise((r) => setTimeout(r, 1000));
      const reads = (await cmdGet()) - before;
      // One read per waitMs at most (about 4 in a second); a polling loop would make thousands.
      expect(reads).toBeLessThanOrEqual(8);
      await c.end();
      expect(await pending).toEqual({ done: true, value: undefined });
    } finally {
      expect(await raw.call('status UP\r\n')).toBe('END\r\n');
    }
  });

  it('reports each server in stats()', async () => {
    const stats = await client.stats();
    expect(stats).toHaveLength(1);
    expect(stats[0]!.server).toBe(server.address);
    expect(stats[0]!.stats!.version).toMatch(/^siberite-/);
  });
});
