// Starting and stopping a siberite server process for the benches that need their own
// (startup.ts, fsync.ts, admin-scrape.ts, client.ts, torture.ts, portability.ts): run the
// `siberite` command (bin/siberite, which sets the runtime tuning, so a bench measures the
// server as it is deployed) with `-listen host:port -data dir ...`, wait until it answers
// `version`, stop it with SIGTERM. Every process started here is killed if the bench itself
// exits or is interrupted, so no server outlives its benchmark.

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

import { sleep, UsageError } from './cli.js';

/** This checkout's `siberite` command (from dist/bench/lib/ when built, bench/lib/ in tests). */
export const SIBERITE_COMMAND =
  ['../../../bin/siberite', '../../bin/siberite'].map((p) => resolve(import.meta.dirname, p)).find((p) => existsSync(p)) ??
  resolve(import.meta.dirname, '../../../bin/siberite');

/**
 * The environment to run a `siberite` command in: the node running the bench first on PATH
 * (the command runs `node`), and `nodeArgs` as the command's extra node options.
 */
export function siberiteEnv(nodeArgs: readonly string[] = []): NodeJS.ProcessEnv {
  const path = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`;
  return { ...process.env, PATH: path, SIBERITE_NODE_ARGS: nodeArgs.join(' ') };
}

/**
 * A `--cli` option's value, checked: an executable `siberite` command (a checkout's bin/siberite)
 * whose build (dist/src/cli.js beside it) exists.
 */
export function siberiteCommand(path: string): string {
  const command = resolve(path);
  if (command.endsWith('.js')) throw new UsageError(`--cli ${path}: give the siberite command (bin/siberite), not a script`);
  try {
    accessSync(command, constants.X_OK);
  } catch {
    throw new UsageError(`--cli ${path}: not an executable file (want a checkout's bin/siberite)`);
  }
  const build = join(dirname(dirname(realpathSync(command))), 'dist/src/cli.js');
  try {
    accessSync(build, constants.R_OK);
  } catch {
    throw new UsageError(`--cli ${path}: ${build} does not exist (build first: npx tsc -p tsconfig.json)`);
  }
  return command;
}

export interface SpawnOptions {
  /** The `siberite` command to run; default this checkout's bin/siberite. */
  command?: string;
  host: string;
  port: number;
  dataDir: string;
  /** `-fsync` value (never | always | <ms>); omitted when undefined. */
  fsync?: string;
  /** `-log-level`; default warn. */
  logLevel?: string;
  extraArgs?: string[];
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const OUTPUT_KEEP = 16 * 1024;
const live = new Set<ServerProcess>();
const exitHooks = new Set<() => void>();
let cleanupInstalled = false;

/**
 * Runs `fn` (synchronously) when the process exits, also on SIGINT/SIGTERM/SIGHUP, after the
 * servers are killed; e.g. removing a temporary data directory. Returns a function that cancels it.
 */
export function onExit(fn: () => void): () => void {
  installCleanup();
  exitHooks.add(fn);
  return () => exitHooks.delete(fn);
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', () => {
    for (const s of live) s.kill();
    for (const fn of exitHooks) {
      try {
        fn();
      } catch {
        // best effort
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const s of live) s.kill();
      process.stderr.write(`\ninterrupted (${sig}); server processes killed\n`);
      process.exit(130);
    });
  }
}

/** A server child process. */
export class ServerProcess {
  readonly pid: number;
  /** performance.now() just before spawn(). */
  readonly spawnedAt: number;
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | null = null;
  private out = '';

  private constructor(
    private readonly child: ChildProcess,
    spawnedAt: number,
    readonly host: string,
    readonly port: number,
    readonly dataDir: string,
  ) {
    this.spawnedAt = spawnedAt;
    if (child.pid === undefined) throw new Error('server process did not start');
    this.pid = child.pid;
    const keep = (chunk: Buffer): void => {
      this.out += chunk.toString('utf8');
      if (this.out.length > OUTPUT_KEEP) this.out = this.out.slice(-OUTPUT_KEEP);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((res) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        res(this.exitInfo);
      });
    });
  }

  static spawn(opts: SpawnOptions): ServerProcess {
    installCleanup();
    const args = ['-listen', `${opts.host}:${opts.port}`, '-data', opts.dataDir, '-log-level', opts.logLevel ?? 'warn'];
    if (opts.fsync !== undefined) args.push('-fsync', opts.fsync);
    if (opts.extraArgs) args.push(...opts.extraArgs);
    const t0 = performance.now();
    const child = spawn(opts.command ?? SIBERITE_COMMAND, args, { env: siberiteEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const s = new ServerProcess(child, t0, opts.host, opts.port, opts.dataDir);
    live.add(s);
    return s;
  }

  /** The last 16 KiB the server wrote to stdout/stderr. */
  output(): string {
    return this.out;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /**
   * Polls (every `pollMs`) until a connection succeeds and `version` is answered; resolves with the
   * milliseconds from spawn to that reply. Rejects if the process exits or `timeoutMs` passes.
   */
  async waitReady(timeoutMs: number, pollMs = 5): Promise<number> {
    const deadline = this.spawnedAt + timeoutMs;
    let lastErr = 'no attempt';
    while (performance.now() < deadline) {
      if (!this.running) throw new Error(`server exited (${describeExit(this.exitInfo!)}) before answering; output:\n${this.out.trim()}`);
      try {
        await versionOnce(this.host, this.port, Math.max(50, Math.min(5000, deadline - performance.now())));
        return performance.now() - this.spawnedAt;
      } catch (err) {
        lastErr = (err as Error).message;
      }
      await sleep(pollMs);
    }
    throw new Error(`server did not answer version within ${timeoutMs} ms (last: ${lastErr}); output:\n${this.out.trim()}`);
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit and the milliseconds it took. */
  async stop(timeoutMs = 60_000): Promise<ExitInfo & { ms: number; killed: boolean }> {
    const t0 = performance.now();
    if (!this.running) return { ...this.exitInfo!, ms: 0, killed: false };
    this.child.kill('SIGTERM');
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      this.child.kill('SIGKILL');
    }, timeoutMs);
    const info = await this.exited;
    clearTimeout(timer);
    return { ...info, ms: performance.now() - t0, killed };
  }

  /** SIGKILL now (cleanup path). */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

export function describeExit(e: ExitInfo): string {
  return e.signal !== null ? `signal ${e.signal}` : `code ${e.code}`;
}

/** One connect + `version` attempt; resolves with the reply line. */
function versionOnce(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no reply to version'));
    }, timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.on('connect', () => socket.write('version\r\n'));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const nl = text.indexOf('\r\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.destroy();
      const line = text.slice(0, nl);
      if (line.startsWith('VERSION ')) resolve(line);
      else reject(new Error(`unexpected reply to version: ${JSON.stringify(line)}`));
    });
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  });
}

/** A TCP port that was free a moment ago on `host` (bind to 0, read it, close). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('could not pick a free port'))));
    });
  });
}

/** A new empty directory `<base>/<prefix>XXXXXX` (base: the OS temp dir). */
export function makeTempDir(prefix: string, base: string = tmpdir()): string {
  return mkdtempSync(join(base, prefix));
}

/**
 * makeTempDir, removed again by the returned `remove()` or, failing that, when the process exits
 * (also when interrupted). The server using it must be stopped (or killed) first.
 */
export function makeScratchDir(prefix: string, base: string = tmpdir()): { path: string; remove: () => void } {
  const path = makeTempDir(prefix, base);
  const rm = (): void => rmSync(path, { recursive: true, force: true });
  const cancel = onExit(rm);
  return {
    path,
    remove: () => {
      cancel();
      rm();
    },
  };
}

/** The file-system type (ext4, tmpfs, overlay, ...) holding `path`, from /proc/mounts; null if unknown. */
export function fsTypeOf(path: string): string | null {
  let real: string;
  let mounts: string;
  try {
    real = realpathSync(path);
    mounts = readFileSync('/proc/mounts', 'latin1');
  } catch {
    return null;
  }
  let best = '';
  let type: string | null = null;
  for (const line of mounts.split('\n')) {
    const f = line.split(' ');
    if (f.length < 3) continue;
    const mnt = f[1]!.replace(/\\040/g, ' ');
    const inside = mnt === '/' || real === mnt || real.startsWith(mnt + '/');
    if (inside && mnt.length >= best.length) {
      best = mnt;
      type = f[2]!;
    }
  }
  return type;
}
