// export → restore round trips: the restored server serves the same sequence (values, flags,
// 0-byte and binary values, cursor positions and retry lists, open transactions as available
// items) and a second export is line for line the first (expiry and add times included); a
// truncated or altered backup is refused naming the line, leaving the target as it was; a
// running server's export (GET /export, fetched by `siberite export -admin`) is one snapshot.
import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportBackup } from '../src/portability/exportBackup.js';
import { restoreBackup } from '../src/portability/restore.js';
import { handleExportRequest } from '../src/portability/exportHttp.js';
import { itemKey, writeRecordHeader, RECORD_HEADER } from '../src/store/layout.js';
import { openDataDir } from '../src/store/portable.js';
import { CLI, type ServerHandle, startServer } from './helpers/server.js';
import { setCmd, TextClient } from './helpers/textClient.js';
import { type Served, drain, runCli } from './portability-helpers.js';

/** Each test runs several node processes: slow on a loaded 2-core host (not a timing assertion). */
const SLOW = 90_000;
const BINARY = Buffer.concat([Buffer.from('a\r\nEND\r\nVALUE x 0 1\r\n\0'), Buffer.from(Array.from({ length: 256 }, (_, i) => i))]);
/** What each key serves, read cursors first (reading a queue moves them). */
const KEYS = ['rt.seen', 'rt.retry', 'rt.held', 'rt.fresh', 'rt', 'held'];

let source: ServerHandle;
let backup: Buffer;
const dirs: string[] = [];

/** The records of a backup without its header and trailer (which name the time and source). */
const body = (b: Buffer) => b.toString().split('\n').slice(1, -2);

async function drainAll(server: ServerHandle): Promise<Record<string, Served[]>> {
  const c = await TextClient.connect(server.port);
  try {
    const out: Record<string, Served[]> = {};
    for (const key of KEYS) out[key] = await drain(c, key, 50);
    return out;
  } finally {
    c.close();
  }
}

beforeAll(async () => {
  source = await startServer();
  const c = await TextClient.connect(source.port);
  const held = await TextClient.connect(source.port);
  const sets = [
    setCmd('rt', 'plain'),
    setCmd('rt', 'flagged', 42),
    setCmd('rt', ''),
    setCmd('rt', BINARY, 7),
    setCmd('rt', 'expires', 0, 3600),
    setCmd('rt', 'last'),
  ];
  for (const s of sets) expect(await c.call(s)).toBe('STORED\r\n');
  for (const v of ['h1', 'h2', 'h3']) expect(await c.call(setCmd('held', v))).toBe('STORED\r\n');
  expect(await c.call('get rt.seen\r\n')).toContain('plain');
  expect(await c.call('get rt.seen\r\n')).toContain('flagged');
  expect(await c.call('get rt.retry/open\r\n')).toContain('plain');
  expect(await c.call('get rt.retry/abort\r\n')).toBe('END\r\n'); // into retry's retry list
  expect(await c.call('get rt.fresh/peek\r\n')).toContain('plain'); // a cursor that read nothing
  // Open at the stop: a queue item and a cursor item, on a connection that stays open.
  expect(await held.call('get held/open\r\n')).toContain('h1');
  expect(await held.call('get rt.held/open\r\n')).toContain('plain');
  expect(await source.stop()).toBe(0);
  held.close();
  c.close();
  const run = await runCli(['export', '-data', source.dataDir, '-quiet']);
  expect(run.stderr).toMatch(/siberite export: .* queues 2, items 9, bytes [\d,]+ .*cursors 4, retry entries 2/);
  expect(run.code).toBe(0);
  backup = run.stdout;
}, SLOW);

afterAll(() => {
  source.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function target(): string {
  const d = join(source.dataDir, '..', `restore-${dirs.length}-${process.pid}`);
  dirs.push(d);
  return d;
}

describe('export and restore', () => {
  it(
    'round-trips every queue, item, cursor and open transaction exactly',
    async () => {
      const dir = target();
      const run = await runCli(['restore', '-data', dir, '-quiet'], backup);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout.toString()).toMatch(/queues 2, items 9, .*cursors 4, retry entries 2/);
      // Flags, expiry, add times, positions and retry lists: a second export says the same.
      const again = await runCli(['export', '-data', dir, '-quiet']);
      expect(body(again.stdout)).toEqual(body(backup));

      const reference = await startServer({ dataDir: source.dataDir });
      const restored = await startServer({ dataDir: dir });
      try {
        const want = await drainAll(reference);
        const got = await drainAll(restored);
        expect(got).toEqual(want);
        // And what that is, spelled out.
        const text = (k: string) => got[k]!.map((s) => s.data.toString('latin1'));
        expect(text('rt.seen')).toEqual(['', BINARY.toString('latin1'), 'expires', 'last']);
        expect(text('rt.retry')).toEqual(['plain', 'flagged', '', BINARY.toString('latin1'), 'expires', 'last']);
        expect(text('rt.held')).toEqual(['plain', 'flagged', '', BINARY.toString('latin1'), 'expires', 'last']);
        expect(text('held')).toEqual(['h1', 'h2', 'h3']);
        expect(got.rt!.map((s) => s.flags)).toEqual([0, 42, 0, 7, 0, 0]);
      } finally {
        await reference.stop();
        await restored.stop();
      }
    },
    SLOW,
  );

  it(
    'refuses a truncated or altered backup naming the line, and changes nothing',
    async () => {
      const lines = backup.toString().split('\n');
      const item = lines.findIndex((l) => l.includes('"flags":42')); // 0-based index: line item+1
      const cases: Array<[string, string, RegExp]> = [
        [
          'cut in a line',
          backup.toString().slice(0, backup.indexOf('"flags":42')),
          new RegExp(`line ${item + 1}: truncated: the backup ends in the middle of this line`),
        ],
        [
          'no trailer',
          `${lines.slice(0, -2).join('\n')}\n`,
          new RegExp(`line ${lines.length - 2}: truncated: the backup ends after this line, without its trailer`),
        ],
        [
          'a value altered',
          backup.toString().replace('"flags":42', '"flags":43'),
          new RegExp(`line ${item + 1}: checksum mismatch: the line was altered or damaged`),
        ],
        [
          'a line lost',
          [...lines.slice(0, item), ...lines.slice(item + 1)].join('\n'),
          /line \d+: queue rt \(line \d+\) declares 6 items but 5 came before this line/,
        ],
        [
          'lines swapped',
          [...lines.slice(0, item), lines[item + 1], lines[item], ...lines.slice(item + 2)].join('\n'),
          /line \d+: the SHA-256 of the lines before the trailer does not match/,
        ],
      ];
      const dir = target();
      // The command once (exit status, message on stderr), the rest through its function.
      const first = await runCli(['restore', '-data', dir, '-quiet'], cases[0]![1]);
      expect(first.stderr).toMatch(cases[0]![2]);
      expect(first.code).toBe(2);
      for (const [what, text, message] of cases.slice(1)) {
        await expect(restoreBackup(Readable.from([Buffer.from(text)]), dir, { merge: false }), what).rejects.toThrow(message);
      }
      // Nothing of the refused backups was left behind: the directory holds no queue.
      const empty = await runCli(['export', '-data', dir, '-quiet']);
      expect(empty.stderr).toMatch(/queues 0, items 0/);
      // And the same target then takes the intact backup; a second time is refused (no -merge).
      expect((await runCli(['restore', '-data', dir, '-quiet'], backup)).code).toBe(0);
      const twice = await runCli(['restore', '-data', dir, '-quiet'], backup);
      expect(twice.code).toBe(2);
      expect(twice.stderr).toMatch(/line 2: queue \w+ already exists in the target data directory \(use -merge/);
    },
    SLOW,
  );

  it(
    'Ctrl-C abandons a restore waiting for input, leaving nothing behind',
    async () => {
      const dir = target();
      const proc = spawn(process.execPath, [CLI, 'restore', '-data', dir, '-quiet'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((r) => proc.once('close', (code) => r(code)));
      // Half a backup, and the input stays open: the restore has written items and waits for more.
      proc.stdin.write(backup.subarray(0, backup.indexOf('"flags":42')));
      for (let i = 0; i < 100 && !existsSync(join(dir, 'LOCK')); i++) await new Promise((r) => setTimeout(r, 50));
      expect(existsSync(join(dir, 'LOCK'))).toBe(true);
      proc.kill('SIGINT');
      expect(await exited).toBe(2);
      expect(stderr).toMatch(/siberite restore: interrupted: nothing was written/);
      expect((await runCli(['export', '-data', dir, '-quiet'])).stderr).toMatch(/queues 0, items 0/);
    },
    SLOW,
  );

  it(
    'exports a running server over its admin port (siberite export -admin), from one snapshot',
    async () => {
      const dir = target();
      writeFileSync(`${dir}.jsonl`, backup);
      dirs.push(`${dir}.jsonl`);
      expect((await runCli(['restore', '-data', dir, '-in', `${dir}.jsonl`, '-quiet'])).code).toBe(0);
      // The handle a running server holds, and the route it serves (see docs/migration.md).
      const db = await openDataDir(dir, false);
      const token = 'portability-test-token-0123456789';
      writeFileSync(`${dir}.token`, `${token}\n`);
      dirs.push(`${dir}.token`);
      // As the admin port off loopback: a bearer token or 401.
      const http = createServer((req, res) => {
        if (req.headers.authorization !== `Bearer ${token}`) return void res.writeHead(401).end('{"error":"a bearer token is required"}');
        void handleExportRequest(db, req, res, { kind: 'server', server: 'siberite 1.0.0' });
      });
      await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
      const port = (http.address() as AddressInfo).port;
      try {
        const denied = await runCli(['export', '-admin', `127.0.0.1:${port}`]);
        expect(denied.code).toBe(2);
        expect(denied.stderr).toMatch(/refused the export \(HTTP 401\): \{"error":"a bearer token is required"\}/);
        const auth = ['-admin-token-file', `${dir}.token`];
        const run = await runCli(['export', '-admin', `127.0.0.1:${port}`, ...auth]);
        expect(run.code).toBe(0);
        expect(body(run.stdout)).toEqual(body(backup));
        expect(JSON.parse(run.stdout.toString().split('\n')[0]!).source).toEqual({ kind: 'server', server: 'siberite 1.0.0' });
        expect(run.stderr).toMatch(/siberite export: server at 127\.0\.0\.1:\d+ .*items 9/);
        const unknown = await runCli(['export', '-admin', `127.0.0.1:${port}`, ...auth, '-queue', 'nope']);
        expect(unknown.code).toBe(2);
        expect(unknown.stderr).toMatch(/refused the export \(HTTP 404\): no such queue: nope/);

        // Writes landing after the snapshot (here: while the header is being written, before any
        // item is read) are not in the export.
        const chunks: Buffer[] = [];
        const late = Buffer.alloc(RECORD_HEADER + 4);
        late.write('late', RECORD_HEADER);
        writeRecordHeader(late, 0, Date.now(), 0);
        const out = new Writable({
          highWaterMark: 1,
          write(chunk: Buffer, _enc, done) {
            chunks.push(chunk);
            if (chunks.length > 1) return done();
            const ops = Array.from({ length: 200 }, (_, i) => ({
              type: 'put' as const,
              key: itemKey('rt', 2 ** 32 + 100 + i),
              value: late,
            }));
            db.batch(ops).then(() => done(), done);
          },
        });
        const counts = await exportBackup(db, out, { source: { kind: 'test' } });
        expect(counts.items).toBe(9);
        expect(body(Buffer.concat(chunks))).toEqual(body(backup));
        expect((await db.keys({ gte: itemKey('rt', 0), lt: itemKey('rt', 2 ** 40) }).all()).length).toBe(206);
      } finally {
        await new Promise((r) => http.close(r));
        await db.close();
      }
    },
    SLOW,
  );
});
