// The `siberite` command line (docs/protocol.md#command-line): flags as Siberite users type them, exit codes,
// PID file, signals, and -value-key.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withOwnServer } from './helpers/fixtures.js';
import { CLI } from './helpers/server.js';
import { TextClient, setCmd } from './helpers/textClient.js';

const temps: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'siberite-cli-'));
  temps.push(d);
  return d;
}
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (bounded by a kill after `ms`). */
function run(args: string[], opts: { cwd?: string; ms?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.ms ?? 10_000);
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

interface Live {
  proc: ChildProcess;
  port: number;
  host: string;
  output(): string;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts the CLI with exactly `args` and waits for its "listening" log line. */
function launch(args: string[], cwd?: string): Promise<Live> {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`no listening line:\n${output}`));
    }, 10_000);
    proc.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const m = /"listen":"(.*):(\d+)"/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({
          proc,
          host: m[1]!,
          port: Number(m[2]),
          output: () => output,
          async stop() {
            if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
            proc.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before listening:\n${output}`));
    });
  });
}

/** A one-line reason on stderr. */
function expectOneLineReason(r: Run): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]!.length).toBeGreaterThan(5);
}

async function roundTrip(port: number, q = 'cliq'): Promise<void> {
  const c = await TextClient.connect(port);
  expect(await c.call(setCmd(q, 'hello'))).toBe('STORED\r\n');
  expect(await c.call(`get ${q}\r\n`)).toBe(`VALUE ${q} 0 5\r\nhello\r\nEND\r\n`);
  c.close();
}

describe('docs/protocol.md#command-line command line', () => {
  it('accepts single-dash long flags: -listen host:port -data dir', async () => {
    const data = join(tempDir(), 'single');
    const s = await launch(['-listen', '127.0.0.1:0', '-data', data]);
    try {
      expect(s.host).toBe('127.0.0.1');
      await roundTrip(s.port);
      expect(existsSync(data)).toBe(true);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('accepts double-dash flags: --listen --data', async () => {
    const data = join(tempDir(), 'double');
    const s = await launch(['--listen', '127.0.0.1:0', '--data', data]);
    try {
      await roundTrip(s.port);
      expect(existsSync(data)).toBe(true);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('keeps data in the -data directory across restarts', async () => {
    const data = join(tempDir(), 'persist');
    const s = await launch(['-listen', '127.0.0.1:0', '-data', data]);
    const c = await TextClient.connect(s.port);
    expect(await c.call(setCmd('kept', 'v'))).toBe('STORED\r\n');
    c.close();
    expect(await s.stop()).toBe(0);
    const s2 = await launch(['--listen', '127.0.0.1:0', '--data', data]);
    try {
      const d = await TextClient.connect(s2.port);
      expect(await d.call('get kept\r\n')).toBe('VALUE kept 0 1\r\nv\r\nEND\r\n');
      d.close();
    } finally {
      expect(await s2.stop()).toBe(0);
    }
  });

  it('defaults the data directory to ./data', async () => {
    const cwd = tempDir();
    const s = await launch(['-listen', '127.0.0.1:0'], cwd);
    try {
      await roundTrip(s.port);
      expect(existsSync(join(cwd, 'data'))).toBe(true);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('defaults the listen address to 127.0.0.1:22133 (loopback only: docs/security.md)', async (ctx) => {
    // Only when that port is free on this machine.
    const free = await new Promise<boolean>((res) => {
      const probe = net.createServer();
      probe.once('error', () => res(false));
      probe.listen(22133, '127.0.0.1', () => probe.close(() => res(true)));
    });
    if (!free) ctx.skip();
    const cwd = tempDir();
    const s = await launch(['-data', join(cwd, 'd')], cwd);
    try {
      expect(s.host).toBe('127.0.0.1');
      expect(s.port).toBe(22133);
      await roundTrip(22133);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it.each([['-version'], ['--version']])('%s prints the version and exits 0', async (flag) => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await run([flag]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(pkg.version);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    ['unknown flag', ['-bogus']],
    ['unknown double-dash flag', ['--no-such-flag', 'x']],
    ['bad -listen', ['-listen', 'localhost:notaport']],
    ['-listen port out of range', ['-listen', '127.0.0.1:70000']],
    ['bad -fsync', ['-fsync', 'sometimes']],
    ['bad -value-key', ['-value-key', 'partial']],
    ['bad -log-level', ['-log-level', 'loud']],
  ])('%s → non-zero exit with a one-line reason on stderr', async (_name, args) => {
    const data = join(tempDir(), 'never');
    const r = await run(['-listen', '127.0.0.1:0', '-data', data, ...args]);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expectOneLineReason(r);
  });

  it('an unusable data directory (under a regular file) → non-zero exit with a reason', async () => {
    const dir = tempDir();
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'not a directory');
    for (const data of [join(file, 'sub'), file]) {
      const r = await run(['-listen', '127.0.0.1:0', '-data', data]);
      expect(r.code, data).not.toBe(0);
      expect(r.code).not.toBeNull();
      expectOneLineReason(r);
    }
  });

  it('a listen port already in use → non-zero exit with a reason', async () => {
    const holder = net.createServer();
    const port = await new Promise<number>((res) => holder.listen(0, '127.0.0.1', () => res((holder.address() as net.AddressInfo).port)));
    try {
      const r = await run(['-listen', `127.0.0.1:${port}`, '-data', join(tempDir(), 'busy')]);
      expect(r.code).not.toBe(0);
      expect(r.code).not.toBeNull();
      expectOneLineReason(r);
    } finally {
      holder.close();
    }
  });

  it('a data directory another server holds → non-zero exit naming the directory', async () => {
    await withOwnServer(async (start) => {
      const s = await start();
      const r = await run(['-listen', '127.0.0.1:0', '-data', s.dataDir]);
      expect(r.code).toBe(2);
      expectOneLineReason(r);
      expect(r.stderr).toContain(`data directory ${s.dataDir} is in use by another process`);
      await roundTrip(s.port); // the running server is unharmed
    });
  });

  it('writes the -pid file and removes it on SIGTERM, exiting 0', async () => {
    const pidFile = join(tempDir(), 'siberite.pid');
    await withOwnServer(async (start) => {
      const s = await start({ args: ['-pid', pidFile] });
      expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(s.proc.pid));
      await roundTrip(s.port);
      expect(await s.stop()).toBe(0);
      expect(existsSync(pidFile)).toBe(false);
    });
  });

  it('exits 0 on SIGTERM with clients connected, and closes their connections', async () => {
    await withOwnServer(async (start) => {
      const s = await start();
      const c = await TextClient.connect(s.port);
      expect(await c.call(setCmd('t', 'x'))).toBe('STORED\r\n');
      const waiting = await TextClient.connect(s.port);
      waiting.send('get empty/t=20000\r\n');
      // The blocked read is parked once a later command on another connection is answered.
      expect(await c.call('version\r\n')).toMatch(/^VERSION /);
      const code = await s.stop();
      expect(code).toBe(0);
      await c.waitClosed();
      await waiting.waitClosed();
    });
  });

  it('accepts -fsync never|always|<ms> and -log-level', async () => {
    for (const args of [
      ['-fsync', 'always'],
      ['-fsync', 'never'],
      ['-fsync', '50', '-log-level', 'debug'],
      ['--fsync', 'always', '--log-level', 'trace'],
    ]) {
      const s = await launch(['-listen', '127.0.0.1:0', '-data', join(tempDir(), 'fs'), ...args]);
      try {
        await roundTrip(s.port);
      } finally {
        expect(await s.stop(), args.join(' ')).toBe(0);
      }
    }
  });

  it('-log-level silent writes nothing and still serves', async () => {
    const port = await new Promise<number>((res) => {
      const probe = net.createServer();
      probe.listen(0, '127.0.0.1', () => {
        const p = (probe.address() as net.AddressInfo).port;
        probe.close(() => res(p));
      });
    });
    const proc = spawn(process.execPath, [CLI, '-listen', `127.0.0.1:${port}`, '-data', join(tempDir(), 'quiet'), '-log-level', 'silent'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
    try {
      // No log line tells us it is listening: retry the connection (bounded).
      let c: TextClient | undefined;
      for (let i = 0; i < 200 && !c && proc.exitCode === null; i++) {
        c = await TextClient.connect(port).catch(() => undefined);
        if (!c) await new Promise((r) => setTimeout(r, 25));
      }
      expect(c, output).toBeDefined();
      expect(await c!.call(setCmd('quiet', 'q'))).toBe('STORED\r\n');
      c!.close();
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toBe('');
    } finally {
      proc.kill('SIGKILL');
    }
  });

  it('-allow-shutdown enables the shutdown command: graceful stop, exit 0', async () => {
    await withOwnServer(async (start) => {
      const s = await start({ args: ['-allow-shutdown'] });
      const c = await TextClient.connect(s.port);
      expect(await c.call(setCmd('sd', 'x'))).toBe('STORED\r\n');
      c.send('shutdown\r\n');
      await c.waitClosed();
      const code = await new Promise<number | null>((res) => {
        if (s.proc.exitCode !== null) res(s.proc.exitCode);
        else s.proc.once('exit', (c2) => res(c2));
      });
      expect(code).toBe(0);
      // The data survived the graceful stop.
      const s2 = await start();
      const d = await TextClient.connect(s2.port);
      expect(await d.call('get sd\r\n')).toBe('VALUE sd 0 1\r\nx\r\nEND\r\n');
      d.close();
    });
  });
});

describe('-value-key', () => {
  it('full echoes the whole requested key in VALUE lines', async () => {
    await withOwnServer(async (start) => {
      const s = await start({ args: ['-value-key', 'full'] });
      const c = await TextClient.connect(s.port);
      for (const v of ['a', 'b', 'c', 'd']) expect(await c.call(setCmd('work', v))).toBe('STORED\r\n');
      expect(await c.call(setCmd('other', 'o'))).toBe('STORED\r\n');
      expect(await c.call('get work\r\n')).toBe('VALUE work 0 1\r\na\r\nEND\r\n');
      expect(await c.call('get work/open\r\n')).toBe('VALUE work/open 0 1\r\nb\r\nEND\r\n');
      expect(await c.call('get work/close/open\r\n')).toBe('VALUE work/close/open 0 1\r\nc\r\nEND\r\n');
      expect(await c.call('get work/close\r\n')).toBe('END\r\n');
      expect(await c.call('get work/peek/t=100\r\n')).toBe('VALUE work/peek/t=100 0 1\r\nd\r\nEND\r\n');
      expect(await c.call('get work./peek\r\n')).toBe('VALUE work./peek 0 1\r\nd\r\nEND\r\n');
      expect(await c.call('get work/peek other/peek\r\n')).toBe('VALUE work/peek 0 1\r\nd\r\nVALUE other/peek 0 1\r\no\r\nEND\r\n');
      expect(await c.call('gets other\r\n')).toMatch(/^VALUE other 0 1 \d+\r\no\r\nEND\r\n$/);
      expect(await c.call('gets work/t=10\r\n')).toMatch(/^VALUE work\/t=10 0 1 \d+\r\nd\r\nEND\r\n$/);
      c.close();
    });
  });

  it('queue (the default, and explicit) sends the bare queue name', async () => {
    for (const args of [[], ['-value-key', 'queue'], ['--value-key', 'queue']]) {
      await withOwnServer(async (start) => {
        const s = await start({ args });
        const c = await TextClient.connect(s.port);
        expect(await c.call(setCmd('work', 'xy'))).toBe('STORED\r\n');
        expect(await c.call('get work/open\r\n')).toBe('VALUE work 0 2\r\nxy\r\nEND\r\n');
        expect(await c.call('get work/close/open\r\n')).toBe('END\r\n');
        c.close();
      });
    }
  });
});
