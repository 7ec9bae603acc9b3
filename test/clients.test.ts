// End to end with real client libraries and tools: npm memcached, python-memcached, pylibmc
// (text mode) and libmemcached's command line tools, each against a real server process.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Memcached from 'memcached';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useServer } from './helpers/fixtures.js';
import { TextClient } from './helpers/textClient.js';

const SCRIPTS = resolve(import.meta.dirname, 'clients');
// Debian's python3-memcache and python3-pylibmc live in the system interpreter; a pyenv or venv
// `python3` earlier on PATH would not see them.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs a program to completion (bounded by a timeout); never rejects. */
function run(file: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((res) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, timeout: options.timeoutMs ?? 15_000, encoding: 'buffer', maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        res({ code, stdout, stderr: stderr.toString() });
      },
    );
  });
}

const fx = useServer();

/** Raw view of a queue: what a plain `get` answers, byte for byte. */
async function rawGet(key: string): Promise<string> {
  const c = await TextClient.connect(fx.server.port);
  try {
    return await c.call(`get ${key}\r\n`);
  } finally {
    c.close();
  }
}

describe('npm memcached', () => {
  let mc: Memcached;
  beforeAll(() => {
    mc = new Memcached(`127.0.0.1:${fx.server.port}`, { retries: 0, timeout: 2000 });
  });
  afterAll(() => {
    mc.end();
  });

  const set = (key: string, value: unknown) =>
    new Promise<boolean>((res, rej) => mc.set(key, value, 0, (err, ok) => (err ? rej(err) : res(ok))));
  const get = (key: string) => new Promise<unknown>((res, rej) => mc.get(key, (err, data) => (err ? rej(err) : res(data))));

  it('keeps FIFO order on one queue', async () => {
    for (let i = 0; i < 6; i++) expect(await set('npm_fifo', `item-${i}`)).toBe(true);
    const got = [];
    for (let i = 0; i < 6; i++) got.push(await get('npm_fifo'));
    expect(got).toEqual(['item-0', 'item-1', 'item-2', 'item-3', 'item-4', 'item-5']);
  });

  it('reads an empty queue as a miss', async () => {
    const v = await get('npm_empty');
    expect(v === undefined || v === false).toBe(true);
  });

  it('does a reliable read with /open then /close', async () => {
    expect(await set('work', 'job-1')).toBe(true);
    expect(await set('work', 'job-2')).toBe(true);
    expect(await get('work/open')).toBe('job-1');
    const closed = await get('work/close');
    expect(closed === undefined || closed === false).toBe(true);
    expect(await get('work/open')).toBe('job-2');
    // abort returns it to the head
    const aborted = await get('work/abort');
    expect(aborted === undefined || aborted === false).toBe(true);
    expect(await get('work/open')).toBe('job-2');
    await get('work/close');
    const empty = await get('work');
    expect(empty === undefined || empty === false).toBe(true);
  });

  it('round-trips its serialisation flags (number, JSON, Buffer)', async () => {
    expect(await set('npm_types', 42)).toBe(true); // flag 8 (numeric)
    expect(await set('npm_types', { a: [1, 2], b: 'x y' })).toBe(true); // flag 2 (JSON)
    expect(await set('npm_types', 'plain')).toBe(true); // flag 0
    expect(await get('npm_types')).toBe(42);
    expect(await get('npm_types')).toEqual({ a: [1, 2], b: 'x y' });
    expect(await get('npm_types')).toBe('plain');
    // The flags are what the server stored and returned: check them on the wire.
    expect(await set('npm_flags', 7)).toBe(true);
    expect(await rawGet('npm_flags')).toBe('VALUE npm_flags 8 1\r\n7\r\nEND\r\n');
  });

  it('round-trips values with CR LF inside and binary bytes', async () => {
    const text = 'line one\r\nline two\r\nEND\r\nVALUE x 0 1\r\n';
    expect(await set('npm_bin', text)).toBe(true);
    expect(await get('npm_bin')).toBe(text);
    const bytes = Buffer.alloc(512);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff;
    bytes.write('\r\n', 100, 'latin1');
    expect(await set('npm_bin', bytes)).toBe(true); // flag 4 (binary)
    const back = await get('npm_bin');
    expect(Buffer.isBuffer(back)).toBe(true);
    expect((back as Buffer).equals(bytes)).toBe(true);
  });
});

describe('python3-memcache (python-memcached)', () => {
  it('does FIFO, empty → None, /open + /close, /abort, flags, stats', async () => {
    const r = await run(PYTHON, [join(SCRIPTS, 'python_memcache.py'), String(fx.server.port)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.toString());
    expect(out).toEqual({
      set: [true, true, true, true, true],
      fifo: ['item-0', 'item-1', 'item-2', 'item-3', 'item-4'],
      empty: null,
      int: 12345,
      obj: { a: [1, 2, 3], b: 'x' },
      open: 'job-1',
      close: null,
      after_close: 'job-2',
      drained: null,
      abort_open: 'a1',
      abort: null,
      abort_again: 'a1',
      abort_next: 'a2',
      stats_items: '0',
      version_ok: true,
    });
  });
});

describe('python3-pylibmc (text protocol)', () => {
  it('round-trips strings, binary, ints and a reliable read', async () => {
    const r = await run(PYTHON, [join(SCRIPTS, 'pylibmc_text.py'), String(fx.server.port)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.toString())).toEqual({
      set: [true, true, true],
      fifo: ['v0', 'v1', 'v2'],
      empty: null,
      binary_ok: true,
      binary_len: 1031,
      int: 42,
      open: 'job',
      close: null,
      after_close: null,
    });
  });
});

describe('libmemcached tools', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'siberite-tools-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const servers = () => `--servers=127.0.0.1:${fx.server.port}`;

  it('memccp stores a ~100 KB binary file under its basename, memccat reads it back', async () => {
    const payload = Buffer.alloc(100 * 1024);
    let x = 0x12345678;
    for (let i = 0; i < payload.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      payload[i] = x >>> 24;
    }
    payload.write('\r\nEND\r\n', 5000, 'latin1');
    const file = join(dir, 'payload_bin'); // the queue name: no '.' (docs/protocol.md#names-and-keys)
    writeFileSync(file, payload);

    const cp = await run('memccp', [servers(), file]);
    expect(cp.stderr).toBe('');
    expect(cp.code).toBe(0);

    const peeked = await rawGet('payload_bin/peek');
    expect(peeked.startsWith(`VALUE payload_bin 0 ${payload.length}\r\n`)).toBe(true);

    const out = join(dir, 'out_bin');
    const cat = await run('memccat', [servers(), `--file=${out}`, 'payload_bin']);
    expect(cat.code).toBe(0);
    expect(readFileSync(out).equals(payload)).toBe(true);

    // The item was consumed: the queue is empty now, memccat reports a miss.
    const again = await run('memccat', [servers(), 'payload_bin']);
    expect(again.code).not.toBe(0);
    expect(again.stdout.length).toBe(0);
  });

  it('memccat prints the value on stdout', async () => {
    const file = join(dir, 'small_q');
    writeFileSync(file, 'hello from memccp');
    expect((await run('memccp', [servers(), file])).code).toBe(0);
    const cat = await run('memccat', [servers(), 'small_q']);
    expect(cat.code).toBe(0);
    // memccat ends what it prints with a newline of its own.
    expect(cat.stdout.toString()).toBe('hello from memccp\n');
  });

  it('memcstat accepts the version and lists stats', async () => {
    const r = await run('memcstat', [servers()]);
    expect(r.code).toBe(0);
    const text = r.stdout.toString();
    expect(text).toContain(`Server: 127.0.0.1 (${fx.server.port})`);
    expect(text).toMatch(/\bversion: siberite-\d+\.\d+\.\d+/);
    expect(text).toMatch(/\bcurr_connections: \d+/);
  });

  it('memcflush flushes every queue (expects OK)', async () => {
    const c = await TextClient.connect(fx.server.port);
    expect(await c.call('set flushme 0 0 1\r\nx\r\n')).toBe('STORED\r\n');
    expect(await c.call('set flushme2 0 0 1\r\ny\r\n')).toBe('STORED\r\n');
    const r = await run('memcflush', [servers()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await c.call('get flushme\r\n')).toBe('END\r\n');
    expect(await c.call('get flushme2\r\n')).toBe('END\r\n');
    c.close();
  });
});
