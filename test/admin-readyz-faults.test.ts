// /readyz and siberite_store_writable while the store fails closed on a real full disk (the
// data directory on a small tmpfs that a filler file fills, as in disk-full.test.ts), and back
// once space is freed. Mounting needs root (CI runs as root); elsewhere the test says why it skips.
import { mkdirSync, mkdtempSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AdminHandle, httpRequest, scrape, startAdminServer } from './helpers/admin.js';
import { sampleValue } from './helpers/promParser.js';
import { TextClient, setCmd } from './helpers/textClient.js';
import { fillDisk, mountTmpfs, unmount } from './helpers/tmpfs.js';

const root = mkdtempSync(join(tmpdir(), 'siberite-admin-full-'));
let mounted = false;
let skipReason = '';
let server: AdminHandle | undefined;

beforeAll(() => {
  skipReason = mountTmpfs(root, '16m') ?? '';
  mounted = skipReason === '';
});

afterAll(async () => {
  await server?.kill9();
  if (mounted) unmount(root);
  rmdirSync(root);
});

/** Polls /readyz until it answers `status` (bounded: 20 s, 50 ms apart); the last reply. */
async function readyzUntil(port: number, status: number) {
  const deadline = Date.now() + 20_000;
  for (let i = 0; i < 400; i++) {
    const reply = await httpRequest(port, '/readyz');
    if (reply.status === status || Date.now() > deadline) return reply;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('unreachable');
}

it('/readyz fails while the store fails closed on a full disk, and recovers with it', async (ctx) => {
  if (!mounted) return ctx.skip(skipReason);
  const dataDir = join(root, 'data');
  mkdirSync(dataDir);
  server = await startAdminServer({ dataDir });
  expect((await httpRequest(server.adminPort, '/readyz')).status).toBe(200);
  const c = await TextClient.connect(server.port);
  try {
    fillDisk(join(root, 'filler'));
    // Writes meet the full disk. Those in the batch that failed wait until it is kept, so they
    // are sent without waiting for replies; the store failing closed shows on /readyz.
    const SETS = 200;
    c.send(Buffer.concat(Array.from({ length: SETS }, (_, i) => setCmd('jobs', `v${i}-${'x'.repeat(4000)}`))));
    const failing = await readyzUntil(server.adminPort, 503);
    expect(failing.status).toBe(503);
    expect(JSON.parse(failing.body)).toMatchObject({ status: 'unavailable', checks: { writable: false } });
    expect(JSON.parse(failing.body).reason).toMatch(/failing closed \(ENOSPC\)/);
    expect(failing.body).not.toContain(root);
    let m = await scrape(server.adminPort);
    expect(sampleValue(m, 'siberite_store_writable')).toBe(0);
    expect(sampleValue(m, 'siberite_ready')).toBe(0);
    expect(m.get('siberite_store_errors_total')!.samples.reduce((a, s) => a + s.value, 0)).toBeGreaterThan(0);
    // Liveness is not readiness: the process still serves.
    expect((await httpRequest(server.adminPort, '/healthz')).status).toBe(200);

    rmSync(join(root, 'filler'));
    const recovered = await readyzUntil(server.adminPort, 200);
    expect(recovered.status).toBe(200);
    m = await scrape(server.adminPort);
    expect(sampleValue(m, 'siberite_store_writable')).toBe(1);
    // Every write got its answer: kept once space came back, or refused while failing.
    for (let i = 0; i < SETS; i++) expect(await c.readLine()).toMatch(/^(STORED|SERVER_ERROR .*)$/);
    expect(await c.call(setCmd('jobs', 'after'))).toBe('STORED\r\n');
  } finally {
    c.close();
  }
}, 60_000);
