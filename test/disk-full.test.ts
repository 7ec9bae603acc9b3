// A real full disk (docs/durability.md "Disk full"): the data directory lives on a small tmpfs
// that a filler file fills to ENOSPC. The server must refuse writes with a clear SERVER_ERROR
// (no path), stay up and keep serving reads, log the fault once, recover by itself once space
// is freed, and — restarted after kill -9 — neither lose an acknowledged item nor bring back a
// consumed one. Mounting needs root (CI runs as root); elsewhere the test says why it skips.
import { mkdirSync, mkdtempSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServerHandle, startServer } from './helpers/server.js';
import { TextClient, setCmd } from './helpers/textClient.js';
import { account, drain, holdOpen, newLedger, runLoad } from '../bench/lib/ledger.js';
import { fillDisk, mountTmpfs, unmount } from './helpers/tmpfs.js';

const root = mkdtempSync(join(tmpdir(), 'siberite-diskfull-'));
let skipReason: string | null = null;
beforeAll(() => {
  skipReason = mountTmpfs(root, '24m');
  if (skipReason) process.stdout.write(`disk-full.test.ts skipped: ${skipReason}\n`);
});
afterAll(() => {
  if (!skipReason) unmount(root);
  rmdirSync(root);
});

const QUEUES = ['jobs', 'mail'];

describe('disk full', () => {
  let server: ServerHandle | undefined;
  afterAll(async () => {
    await server?.kill9();
  });

  it('refuses writes while full, recovers by itself, and a restart keeps exactly what was acknowledged', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const dataDir = join(root, 'data');
    mkdirSync(dataDir);
    server = await startServer({ dataDir });
    const ledger = newLedger();
    const tag = 'full';

    // Before: a backlog, some of it held open.
    const c = await TextClient.connect(server.port);
    for (let i = 0; i < 300; i++) {
      const value = `${tag}-before-${i}-${'v'.repeat(200)}`;
      expect(await c.call(setCmd(QUEUES[i % 2]!, value))).toBe('STORED\r\n');
      ledger.stored.add(value);
    }
    const holders = await holdOpen(server.port, 'jobs', 2, ledger);

    // Full: the load meets the full disk. Its commands already in the batch that failed wait
    // for it to be kept; every write after that is refused at once.
    fillDisk(join(root, 'filler'));
    const during = runLoad({ port: server.port, tag, workers: 4, queues: QUEUES, maxOps: 5000, valueBytes: 2048, errorPauseMs: 5 }, ledger);
    const watcher = await TextClient.connect(server.port);
    const deadline = Date.now() + 20_000;
    while (!(await watcher.call('stats\r\n')).includes('STAT store_writable 0\r\n') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (let i = 0; i < 20; i++) {
      const reply = await c.call(setCmd('jobs', `${tag}-refused-${i}`));
      expect(reply, 'no filesystem path in a reply').not.toMatch(/\//);
      expect(reply).toBe('SERVER_ERROR store not writable (ENOSPC); retrying\r\n');
      expect(await c.call('get mail\r\n')).toBe('SERVER_ERROR store not writable (ENOSPC); retrying\r\n');
    }
    for (const line of ledger.errors.keys()) expect(line, 'no filesystem path in a reply').not.toMatch(/\//);
    watcher.close();
    // Still serving: reads that need no write, and the process itself.
    expect(await c.call('version\r\n')).toMatch(/^VERSION /);
    expect(await c.call('get mail/peek\r\n')).toMatch(/^VALUE mail 0 /);
    const stats = await c.call('stats\r\n');
    expect(stats).toContain('STAT store_writable 0\r\n');

    // Space again: the server resumes on its own, no restart.
    rmSync(join(root, 'filler'));
    let stored = '';
    for (let i = 0; i < 200 && stored !== 'STORED\r\n'; i++) {
      const value = `${tag}-probe-${i}`;
      stored = await c.call(setCmd('jobs', value));
      if (stored === 'STORED\r\n') ledger.stored.add(value);
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(stored, 'writes accepted again once space was freed').toBe('STORED\r\n');
    during.stop();
    await during.done;
    expect(await c.call('stats\r\n')).toContain('STAT store_writable 1\r\n');
    // After: more load on the recovered server, then kill -9 at once.
    const after = runLoad({ port: server.port, tag, workers: 4, queues: QUEUES, maxOps: 150 }, ledger);
    await after.done;
    c.close();
    const output = server.output();
    await server.kill9();
    for (const h of holders) h.close();
    const faults = output.match(/store write failed/g) ?? [];
    expect(faults.length, 'the fault is logged, not once per request').toBeGreaterThanOrEqual(1);
    expect(faults.length).toBeLessThan(5);
    expect(output).toContain('store writable again');

    server = await startServer({ dataDir });
    const remaining = await drain(server.port, QUEUES);
    const result = account(ledger, remaining, tag);
    expect(result.lost, 'acknowledged items lost').toEqual([]);
    expect(result.resurrected, 'consumed items brought back').toEqual([]);
    expect(result.openLost).toEqual([]);
    expect(result.duplicates).toEqual([]);
    expect(result.stored).toBeGreaterThan(400);
  }, 90_000);
});
