// Limits a hostile or broken client cannot get past, and small promises of the protocol that
// faults exposed (docs/durability.md "Limits"): the input budget for values still arriving,
// the idle timeout, `quit` ending the pipeline, totals in `stats` that never go down.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type ServerHandle, startServer } from './helpers/server.js';
import { TextClient, setCmd } from './helpers/textClient.js';
import { parseStats } from './helpers/stats.js';

/** `stats` asked on `c`, as an object. */
async function statsObj(c: TextClient): Promise<Record<string, string>> {
  return Object.fromEntries(parseStats(await c.call('stats\r\n')));
}

const started: ServerHandle[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of started.splice(0)) {
    await s.kill9();
    s.cleanup();
  }
});
async function start(args: string[] = []): Promise<ServerHandle> {
  const s = await startServer({ args });
  started.push(s);
  return s;
}

/** Resident memory of a process, in MB, from /proc. */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

describe('the input budget (bytes of values still arriving)', () => {
  it('refuses a connection that would take it past the budget, and memory stays bounded', async () => {
    const s = await start(['-max-input-bytes', String(32 * 1024 * 1024)]);
    const baseline = rssMb(s.proc.pid!);
    // 60 connections each announce 8 MB and send half of it, then stall.
    const half = Buffer.alloc(4 * 1024 * 1024, 0x61);
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, () => {
        return new Promise<string>((resolve) => {
          const socket = net.connect(s.port, '127.0.0.1', () => {
            socket.write(`set big 0 0 ${8 * 1024 * 1024}\r\n`);
            socket.write(half, () => setTimeout(() => resolve('stalled'), 1500));
          });
          sockets.push(socket);
          let got = '';
          socket.on('data', (d) => (got += d.toString('latin1')));
          socket.on('error', () => undefined);
          socket.on('close', () => resolve(got || 'closed'));
        });
      }),
    );
    const refused = outcomes.filter((o) => o.startsWith('SERVER_ERROR out of memory'));
    // Whoever pushes the total past the budget is refused: the others keep what they have.
    expect(refused.length).toBeGreaterThan(20);
    const stats = await statsObj(await TextClient.connect(s.port));
    expect(Number(stats.input_bytes)).toBeLessThanOrEqual(32 * 1024 * 1024 + 8 * 1024 * 1024);
    expect(Number(stats.input_refused_connections)).toBeGreaterThanOrEqual(refused.length);
    // 60 × 4 MB would be 240 MB held; the budget keeps it near 32 MB.
    expect(rssMb(s.proc.pid!) - baseline).toBeLessThan(120);
    // Once the stalled connections go, their bytes are given back.
    for (const sock of sockets.splice(0)) sock.destroy();
    const c = await TextClient.connect(s.port);
    let used = '';
    for (let i = 0; i < 50 && used !== '0'; i++) {
      used = (await statsObj(c)).input_bytes!;
      if (used !== '0') await new Promise((r) => setTimeout(r, 50));
    }
    expect(used).toBe('0');
    expect(await c.call(setCmd('big', 'fits'))).toBe('STORED\r\n');
  }, 30_000);
});

describe('-idle-timeout', () => {
  it('closes a connection idle that long, but not one in a blocking read', async () => {
    const s = await start(['-idle-timeout', '300ms']);
    const idle = await TextClient.connect(s.port);
    const waiting = await TextClient.connect(s.port);
    waiting.send('get q/t=1200\r\n');
    const t0 = Date.now();
    await idle.waitClosed();
    expect(Date.now() - t0).toBeLessThan(1100);
    expect(waiting.closed).toBe(false);
    expect(await waiting.readReply()).toBe('END\r\n');
    const stats = await statsObj(await TextClient.connect(s.port));
    expect(Number(stats.idle_closed_connections)).toBeGreaterThanOrEqual(1);
    expect(stats.idle_timeout).toBe('0'); // shown in seconds, rounded
  });

  it('is off by default', async () => {
    const s = await start();
    const stats = await statsObj(await TextClient.connect(s.port));
    expect(stats.idle_timeout).toBe('0');
    expect(Number(stats.max_connections)).toBeGreaterThan(100);
  });
});

describe('quit', () => {
  it('ends the pipeline: nothing after it in the same write runs', async () => {
    const s = await start();
    const c = await TextClient.connect(s.port);
    c.send('set a 0 0 1\r\nx\r\nquit\r\nget a\r\nset a 0 0 1\r\ny\r\n');
    expect(await c.readToClose()).toBe('STORED\r\n');
    const d = await TextClient.connect(s.port);
    expect(await d.call('get a\r\n')).toBe('VALUE a 0 1\r\nx\r\nEND\r\n');
    expect(await d.call('get a\r\n')).toBe('END\r\n');
  });
});

describe('totals in stats are counters', () => {
  it('never go down when a queue is deleted', async () => {
    const s = await start();
    const c = await TextClient.connect(s.port);
    for (let i = 0; i < 3; i++) await c.call(setCmd('gone', `v${i}`));
    await c.call('get gone\r\n');
    await c.call('get gone\r\n');
    await c.call('get empty\r\n');
    const before = await statsObj(c);
    expect(await c.call('delete gone\r\n')).toBe('DELETED\r\n');
    expect(await c.call('delete empty\r\n')).toBe('DELETED\r\n');
    const after = await statsObj(c);
    for (const key of ['total_items', 'get_hits', 'get_misses', 'cmd_get', 'cmd_set']) {
      expect(Number(after[key]), key).toBe(Number(before[key]));
    }
    expect(after.total_items).toBe('3');
    expect(after.get_hits).toBe('2');
    expect(after.curr_items).toBe('0');
  });
});
