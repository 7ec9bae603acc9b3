// DNS mode: the servers are the addresses one name resolves to (as a Kubernetes headless service
// lists its pods), looked up again every refreshMs; servers come and go with the answer.
import { lookup } from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'siberite/client';
import { Node, until } from './servers.js';

let v4: Node;
let v6: Node | null = null;
const clients: Client[] = [];

beforeAll(async () => {
  v4 = await Node.start('127.0.0.1');
  // The same port on the IPv6 loopback, where the machine has one: a second "pod" behind the name.
  v6 = await Node.start('::1', v4.port).catch(() => null);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.end()));
  await Promise.all([v4?.destroy(), v6?.destroy()]);
});

describe('servers from DNS', () => {
  it('resolves localhost (IPv4 only) to the server and works through it', async () => {
    const c = new Client({ dns: { name: 'localhost', port: v4.port, family: 4 } });
    clients.push(c);
    await c.ready();
    expect(c.servers().map((s) => s.server)).toEqual([`127.0.0.1:${v4.port}`]);
    await c.put('dnsq', 'via-dns');
    expect((await c.get('dnsq'))!.toString()).toBe('via-dns');
  });

  it('resolves again every refreshMs: a new address joins, a vanished one leaves', async (ctx) => {
    if (!v6) ctx.skip(); // no IPv6 loopback here
    let lookups = 0;
    let withV6 = false;
    // The real lookup of localhost, plus ::1 while `withV6` (the name "gaining a pod").
    const resolve = async (name: string): Promise<string[]> => {
      lookups++;
      const real = (await lookup(name, { all: true, family: 4 })).map((a) => a.address);
      return withV6 ? [...real, '::1'] : real;
    };
    const c = new Client({ dns: { name: 'localhost', port: v4.port, refreshMs: 100, resolve } });
    clients.push(c);
    await c.ready();
    expect(c.servers()).toHaveLength(1);

    withV6 = true;
    await until(() => c.servers().length === 2, 5000, 'the second address');
    expect(c.servers().map((s) => s.server)).toEqual([`127.0.0.1:${v4.port}`, `[::1]:${v4.port}`]);
    for (let i = 0; i < 10; i++) await c.put('dnsspread', `d${i}`);
    const stats = await c.stats();
    expect(stats.map((s) => Number(s.stats!.queue_dnsspread_items))).toEqual([5, 5]);

    withV6 = false;
    await until(() => c.servers().length === 1, 5000, 'the address to leave');
    for (let i = 0; i < 5; i++) expect((await c.get('dnsspread'))!.toString()).toMatch(/^d\d$/);
    expect(await c.get('dnsspread')).toBeUndefined(); // the other five stay on the server that left
    expect(lookups).toBeGreaterThanOrEqual(3);
  });

  it('fails a call with ENOSERVER when the name does not resolve', async () => {
    const c = new Client({
      dns: { name: 'no-such-host.invalid', port: v4.port, resolve: async () => Promise.reject(new Error('ENOTFOUND')) },
    });
    clients.push(c);
    await expect(c.ready()).rejects.toMatchObject({ code: 'ENOSERVER' });
    await expect(c.put('q', 'x')).rejects.toMatchObject({ code: 'ENOSERVER' });
  });
});
