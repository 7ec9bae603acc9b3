// `siberite import` of every Go Siberite 0.6 fixture: the server started on the result serves,
// through the protocol, exactly what the Go server served from the same directory (its
// .expected.json), cursors first and then each queue — and the source is left untouched.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDataDir } from '../src/store/portable.js';
import { startServer } from './helpers/server.js';
import { statsOf } from './helpers/stats.js';
import { TextClient } from './helpers/textClient.js';
import { b64, drain, expectedOf, fingerprint, runCli, unpackFixture } from './portability-helpers.js';

/** Each test runs several node processes: slow on a loaded 2-core host (not a timing assertion). */
const SLOW = 90_000;
const FIXTURE_NAMES = ['basic', 'cursors', 'unicode-names', 'stale-cursor'];
const cleanup: string[] = [];
afterAll(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

describe.each(FIXTURE_NAMES)('import of the Go fixture %s', (name) => {
  it(
    'serves every queue and cursor exactly as the Go server did, leaving the source untouched',
    async () => {
      const from = unpackFixture(name);
      const data = join(dirname(from), 'imported');
      cleanup.push(dirname(from));
      const before = fingerprint(from);
      const run = await runCli(['import', '-from', from, '-data', data, '-quiet']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const summary = run.stdout.toString();
      expect(fingerprint(from)).toBe(before);

      const expected = expectedOf(name);
      const server = await startServer({ dataDir: data });
      const c = await TextClient.connect(server.port);
      try {
        const stats = await statsOf(c);
        for (const [queue, q] of Object.entries(expected.queues)) {
          expect(summary).toContain(queue);
          // Go counts a cursor's failed reads too, as this server does (stale-cursor aside).
          expect(stats.get(`queue_${queue}_items`), `${queue} items`).toBe(String(q.stats_items));
          for (const [cursor, cq] of Object.entries(q.cursors ?? {})) {
            expect(stats.get(`queue_${queue}.${cursor}_items`), `${queue}.${cursor} items`).toBe(String(cq.stats_items));
          }
        }
        // As the expected values were taken: every cursor (in name order), then the queue.
        for (const [queue, q] of Object.entries(expected.queues)) {
          for (const cursor of Object.keys(q.cursors ?? {}).sort()) {
            const want = q.cursors![cursor]!.values_b64;
            const got = await drain(c, `${queue}.${cursor}`, want.length + 1);
            expect(b64(got), `${queue}.${cursor}`).toEqual(want);
          }
          const got = await drain(c, queue, q.values_b64.length + 1);
          expect(b64(got), queue).toEqual(q.values_b64);
          expect(got.every((s) => s.flags === 0)).toBe(true);
        }
      } finally {
        c.close();
        expect(await server.stop()).toBe(0);
      }
      if (name === 'stale-cursor') expect(summary).toMatch(/stale-cursor\?? ticks\.slow/);
      if (name === 'basic') expect(summary).toContain('jobs: 3 zero-length items');
      if (name === 'cursors') expect(summary).toMatch(/cursor audit: Go position 121, 379 items ahead, 1 failed reads/);
    },
    SLOW,
  );
});

/** A Go-layout directory written here: what the fixtures do not show (a cursor past the tail). */
async function synthesize(root: string): Promise<string> {
  const data = join(root, 'go-data');
  const u64 = (n: number) => Buffer.from(BigInt(n).toString(16).padStart(16, '0'), 'hex');
  mkdirSync(join(data, 'drained'), { recursive: true });
  mkdirSync(join(data, 'not-a-queue'), { recursive: true });
  await (await openDataDir(join(data, 'drained', 'drained'), true)).close();
  const meta = await openDataDir(join(data, 'drained', '_.metadata'), true);
  await meta.batch([
    { type: 'put', key: Buffer.from('_c:slow'), value: u64(3) },
    { type: 'put', key: Buffer.concat([Buffer.from('_r:gone:'), u64(1)]), value: Buffer.from('x') },
    { type: 'put', key: Buffer.from('_x:odd'), value: Buffer.from('?') },
  ]);
  await meta.close();
  return data;
}

describe('import of a synthesized Go directory', () => {
  it(
    'a cursor past the tail skips the next items set, as on the Go server; skips are named',
    async () => {
      const root = mkdtempSync(join(tmpdir(), 'siberite-go-synth-'));
      cleanup.push(root);
      const from = await synthesize(root);
      const run = await runCli(['import', '-from', from, '-data', join(root, 'data'), '-quiet']);
      expect(run.code).toBe(0);
      const summary = run.stdout.toString();
      expect(summary).toMatch(/stale-cursor drained\.slow: its position 3 is past the last item id 0 .*skips the next 3 items set/);
      expect(summary).toMatch(/not-a-queue\/: no LevelDB not-a-queue\/not-a-queue\/, not a Go Siberite queue/);
      expect(summary).toMatch(/cursor drained\.gone: 1 failed reads but no stored position/);
      expect(summary).toMatch(/drained: 1 unknown metadata keys \(hex: 5f783a6f6464\)/);
      const server = await startServer({ dataDir: join(root, 'data') });
      const c = await TextClient.connect(server.port);
      try {
        for (const v of ['new-1', 'new-2', 'new-3', 'new-4']) expect(await c.call(`set drained 0 0 5\r\n${v}\r\n`)).toBe('STORED\r\n');
        expect((await drain(c, 'drained.slow', 5)).map((s) => s.data.toString())).toEqual(['new-4']);
        expect((await drain(c, 'drained', 5)).length).toBe(4);
      } finally {
        c.close();
        await server.stop();
      }
    },
    SLOW,
  );
});

describe('import refusals', () => {
  it(
    'refuses a directory that is not Go Siberite, naming what it is',
    async () => {
      const from = unpackFixture('stale-cursor');
      cleanup.push(dirname(from));
      const ours = join(dirname(from), 'ours');
      expect((await runCli(['import', '-from', from, '-data', ours, '-quiet'])).code).toBe(0);
      const own = await runCli(['import', '-from', ours, '-data', join(dirname(from), 'x'), '-quiet']);
      expect(own.code).toBe(2);
      expect(own.stderr).toMatch(
        /is a single LevelDB \(this server's data directory, or one database of a Go queue\), not a Go Siberite data directory/,
      );
      const empty = await runCli(['import', '-from', join(from, 'ticks', '_.metadata'), '-data', join(dirname(from), 'y'), '-quiet']);
      expect(empty.code).toBe(2);
      expect(empty.stderr).toMatch(/_\.metadata is a single LevelDB/);
      const into = await runCli(['import', '-from', from, '-data', from, '-quiet']);
      expect(into.code).toBe(2);
      expect(into.stderr).toMatch(/data is not a Siberite data directory \(no LevelDB there\)/);
      const missing = await runCli(['import', '-from', join(from, 'nope'), '-data', join(dirname(from), 'z')]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/is not a directory/);
    },
    SLOW,
  );

  it(
    'refuses a data directory a running server holds, and one with unapplied log records',
    async () => {
      const from = unpackFixture('stale-cursor');
      cleanup.push(dirname(from));
      const server = await startServer();
      try {
        const held = await runCli(['import', '-from', from, '-data', server.dataDir, '-quiet']);
        expect(held.code).toBe(2);
        expect(held.stderr).toMatch(/in use by a running server \(its LevelDB lock is held\): stop the server first/);
      } finally {
        await server.stop();
      }
      // A kill -9 right after a set leaves the record in wal/ only; writing past it would lose it.
      const crashed = await startServer({ dataDir: server.dataDir });
      const c = await TextClient.connect(crashed.port);
      expect(await c.call('set other 0 0 1\r\nx\r\n')).toBe('STORED\r\n');
      c.close();
      await crashed.kill9();
      const wal = await runCli(['import', '-from', from, '-data', server.dataDir, '-quiet']);
      expect(wal.code).toBe(2);
      expect(wal.stderr).toMatch(/write-ahead log records not yet in LevelDB .*start the server on it once and stop it/);
      server.cleanup();
    },
    SLOW,
  );

  it(
    'refuses to overwrite an existing queue; -merge appends after its items',
    async () => {
      const from = unpackFixture('stale-cursor');
      cleanup.push(dirname(from));
      const server = await startServer();
      let c = await TextClient.connect(server.port);
      expect(await c.call('set ticks 0 0 3\r\nold\r\n')).toBe('STORED\r\n');
      c.close();
      await server.stop();
      const refused = await runCli(['import', '-from', from, '-data', server.dataDir, '-quiet']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/queues already exist in .*: ticks \(use -merge/);
      const merged = await runCli(['import', '-from', from, '-data', server.dataDir, '-merge', '-quiet']);
      expect(merged.code).toBe(0);
      expect(merged.stdout.toString()).toMatch(/ticks +5 items +55 bytes +\(appended\)/);
      const again = await startServer({ dataDir: server.dataDir });
      c = await TextClient.connect(again.port);
      try {
        const expected = expectedOf('stale-cursor').queues.ticks!;
        // The cursor is new here: it continues within the appended items as on the Go server.
        expect(b64(await drain(c, 'ticks.slow', 10))).toEqual(expected.cursors!.slow!.values_b64);
        expect(b64(await drain(c, 'ticks', 10))).toEqual([Buffer.from('old').toString('base64'), ...expected.values_b64]);
      } finally {
        c.close();
        await again.stop();
        again.cleanup();
      }
    },
    SLOW,
  );
});
