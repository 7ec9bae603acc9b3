// Descriptors exhausted for real, under a lowered RLIMIT_NOFILE (prlimit) — docs/durability.md
// "Connections and descriptors". With the default cap, connections beyond it are refused with a
// clear error and the store keeps its descriptors. With a cap set too high on purpose, clients
// exhaust the descriptors, LevelDB's background work fails with EMFILE: the server fails closed,
// recovers once the connections go (LevelDB reopened, no restart), and a restart after kill -9
// keeps every acknowledged item.
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { type ServerHandle, startServer } from './helpers/server.js';
import { TextClient, setCmd } from './helpers/textClient.js';
import { account, drain, newLedger } from '../bench/lib/ledger.js';
import net from 'node:net';

const started: ServerHandle[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of started) await s.kill9();
  for (const dir of new Set(started.map((s) => s.dataDir))) started.find((s) => s.dataDir === dir)!.cleanup();
  started.length = 0;
});

const hasPrlimit = (() => {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const NOFILE = 200;

/** Opens `count` idle connections; resolves with the first line each receives within `ms` (or ''). */
async function openIdle(port: number, count: number, ms: number): Promise<string[]> {
  const opened = Array.from({ length: count }, () => {
    return new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      sockets.push(socket);
      let got = '';
      const timer = setTimeout(() => resolve(got), ms);
      socket.on('data', (d) => (got += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(got || 'closed');
      });
    });
  });
  return Promise.all(opened);
}

async function setMany(
  c: TextClient,
  queue: string,
  tag: string,
  count: number,
  ledger: ReturnType<typeof newLedger>,
  bytes = 2048,
): Promise<number> {
  let refused = 0;
  for (let i = 0; i < count; i++) {
    const value = `${tag}-${i}-${'d'.repeat(bytes)}`;
    const reply = await c.call(setCmd(queue, value));
    if (reply === 'STORED\r\n') ledger.stored.add(value);
    else {
      expect(reply).toMatch(/^SERVER_ERROR store not writable \(E[A-Z]+\); retrying\r\n$/);
      refused++;
    }
  }
  return refused;
}

describe.skipIf(!hasPrlimit)('descriptor exhaustion (prlimit --nofile=200)', () => {
  const wrap = ['prlimit', `--nofile=${NOFILE}:${NOFILE}`];

  it('refuses connections over the default cap with a clear error, and the store keeps working', async () => {
    const server = await startServer({ wrap });
    started.push(server);
    const max = Number(/"maxConnections":(\d+)/.exec(server.output())![1]);
    expect(max).toBeLessThan(NOFILE - 64);
    const replies = await openIdle(server.port, max + 20, 1500);
    const refused = replies.filter((r) => r.startsWith('SERVER_ERROR too many open connections'));
    expect(refused.length).toBeGreaterThanOrEqual(20);
    for (const s of sockets.splice(0, 5)) s.destroy();
    // Enough writes for LevelDB to open new files (memtable flushes, compactions).
    const ledger = newLedger();
    await new Promise((r) => setTimeout(r, 200));
    const c = await TextClient.connect(server.port);
    expect(await setMany(c, 'q', 'cap', 2500, ledger)).toBe(0);
    const stats = await c.call('stats\r\n');
    expect(stats).toMatch(/STAT rejected_connections [1-9]\d*\r\n/);
    expect(stats).toContain(`STAT max_connections ${max}\r\n`);
    c.close();
    await server.kill9();
    const again = await startServer({ dataDir: server.dataDir });
    started.push(again);
    expect(account(ledger, await drain(again.port, ['q']), 'cap').lost).toEqual([]);
  }, 60_000);

  it('with descriptors exhausted, fails closed and recovers when they are back; nothing acknowledged is lost', async () => {
    const server = await startServer({ wrap, args: ['-max-connections', '5000'] });
    started.push(server);
    const ledger = newLedger();
    const c = await TextClient.connect(server.port);
    // Take every descriptor the process has left.
    await openIdle(server.port, NOFILE, 1500);
    // Writes continue on what is already open until LevelDB needs a new file and cannot.
    const refused = await setMany(c, 'q', 'fd', 3000, ledger);
    const during = await c.call('stats\r\n');
    // Give the descriptors back: the store recovers by itself.
    for (const s of sockets.splice(0)) s.destroy();
    let stats = '';
    for (let i = 0; i < 100 && !stats.includes('STAT store_writable 1\r\n'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      stats = await c.call('stats\r\n');
    }
    expect(stats).toContain('STAT store_writable 1\r\n');
    expect(await setMany(c, 'q', 'fd-after', 300, ledger)).toBe(0);
    c.close();
    const output = server.output();
    await server.kill9();
    const again = await startServer({ dataDir: server.dataDir });
    started.push(again);
    const remaining = await drain(again.port, ['q']);
    const result = account(ledger, remaining, 'fd'); // 'fd-after-…' values too
    expect(result.lost).toEqual([]);
    // The fault was real: EMFILE reached the store (or, at least, the writes went on regardless).
    if (refused > 0) {
      expect(during).toContain('STAT store_writable 0\r\n');
      expect(output).toContain('store write failed');
      expect(output).toContain('store writable again');
    }
    expect(ledger.stored.size).toBeGreaterThan(300);
  }, 60_000);
});
