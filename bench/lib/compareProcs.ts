// The processes of the side-by-side comparison (bench/compare.ts): siberite from this checkout,
// memcached with one worker thread, Redis with its append-only file fsynced every second and the
// node floor (bench/lib/nodeFloor.ts, a minimal in-memory Node.js server), each on a free loopback
// port, plus the flood clients. Every child is killed when the bench
// exits, also when it is interrupted (server.ts's onExit hooks run on SIGINT/SIGTERM/SIGHUP too),
// so no server outlives the comparison.

import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';

import { sleep } from './cli.js';
import { rawCommand } from './commands.js';
import { readRssBytes } from './proc.js';
import { freePort, onExit, siberiteEnv } from './server.js';

export const HOST = '127.0.0.1';
const OUTPUT_KEEP = 8 * 1024;

/** How a child was started: what the JSON records as the exact command. */
export interface CommandLine {
  argv: string[];
  /** Environment variables set on top of the bench's own. */
  env: Record<string, string>;
}

/** A child process killed at bench exit unless stopped before. */
export class Child {
  readonly pid: number;
  readonly exited: Promise<number | null>;
  private running = true;
  private out = '';
  private readonly cancelExitHook: () => void;

  constructor(
    readonly command: CommandLine,
    private readonly proc: ChildProcess,
  ) {
    if (proc.pid === undefined) throw new Error(`could not start ${command.argv[0]}`);
    this.pid = proc.pid;
    const keep = (chunk: Buffer): void => {
      this.out = (this.out + chunk.toString('utf8')).slice(-OUTPUT_KEEP);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.cancelExitHook = onExit(() => this.kill());
    this.exited = new Promise((res) =>
      proc.once('exit', (code, signal) => {
        this.running = false;
        this.cancelExitHook();
        res(code ?? (signal === null ? null : 128));
      }),
    );
  }

  static start(command: CommandLine): Child {
    const [file, ...args] = command.argv;
    // The node running the bench first on PATH: `node` and bin/siberite's `exec node` run it.
    const env = { ...process.env, PATH: siberiteEnv().PATH, ...command.env };
    const proc = spawn(file!, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    return new Child(command, proc);
  }

  get alive(): boolean {
    return this.running;
  }

  /** The last 8 KiB of its stdout and stderr. */
  output(): string {
    return this.out;
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the milliseconds the exit took. */
  async stop(timeoutMs = 60_000): Promise<number> {
    const t0 = performance.now();
    if (!this.running) return 0;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.kill(), timeoutMs);
    await this.exited;
    clearTimeout(timer);
    return performance.now() - t0;
  }

  kill(): void {
    if (this.running) this.proc.kill('SIGKILL');
  }
}

export type ServerKind = 'siberite' | 'redis' | 'memcached' | 'floor';

/** A server under test: the process, its port and how to ask it whether it is up. */
export class ServerUnderTest {
  readonly child: Child;
  /** performance.now() just before the spawn. */
  readonly spawnedAt: number;

  private constructor(
    readonly kind: ServerKind,
    readonly port: number,
    command: CommandLine,
  ) {
    this.spawnedAt = performance.now();
    this.child = Child.start(command);
  }

  static spawn(kind: ServerKind, port: number, command: CommandLine): ServerUnderTest {
    return new ServerUnderTest(kind, port, command);
  }

  /** VmRSS in MB, or null once it has exited. */
  rssMB(): number | null {
    const b = readRssBytes(this.child.pid);
    return b === null ? null : Math.round((b / (1024 * 1024)) * 10) / 10;
  }

  /** One liveness question: `version` (memcache text: siberite, memcached, the floor) or PING (Redis). */
  private async probe(timeoutMs: number): Promise<void> {
    if (this.kind === 'redis') {
      const r = await rawCommand(HOST, this.port, 'PING\r\n', /\r\n$/, timeoutMs);
      if (!r.startsWith('+PONG')) throw new Error(`PING: ${r.trim()}`);
      return;
    }
    const r = await rawCommand(HOST, this.port, 'version\r\n', /\r\n$/, timeoutMs);
    if (!r.startsWith('VERSION ')) throw new Error(`version: ${r.trim()}`);
  }

  /** Polls every 5 ms until the first reply; resolves with the milliseconds since spawn. */
  async waitReady(timeoutMs: number): Promise<number> {
    const deadline = this.spawnedAt + timeoutMs;
    let last = 'no attempt';
    while (performance.now() < deadline) {
      if (!this.child.alive) throw new Error(`${this.kind} exited before answering:\n${this.child.output().trim()}`);
      try {
        await this.probe(Math.max(50, Math.min(5000, deadline - performance.now())));
        return performance.now() - this.spawnedAt;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(5);
    }
    throw new Error(`${this.kind} did not answer within ${timeoutMs} ms (last: ${last}):\n${this.child.output().trim()}`);
  }
}

/**
 * The command line of siberite on `port` with `dataDir` (and `-fsync` when given): `cli` is a
 * checkout's bin/siberite, which sets the runtime tuning; the bench's own node runs it.
 */
export function siberiteCommand(cli: string, port: number | string, dataDir: string, fsync?: string): CommandLine {
  const argv = [cli, '-listen', `${HOST}:${port}`, '-data', dataDir, '-log-level', 'warn'];
  if (fsync !== undefined) argv.push('-fsync', fsync);
  return { argv, env: { SIBERITE_NODE_ARGS: '' } };
}

export function memcachedCommand(port: number | string): CommandLine {
  // memcached refuses to run as root without -u.
  const user = process.getuid?.() === 0 ? ['-u', 'root'] : [];
  return { argv: ['memcached', '-t', '1', '-U', '0', '-l', HOST, '-p', String(port), '-m', '4096', ...user], env: {} };
}

export function redisCommand(port: number | string, dir: string): CommandLine {
  const argv = ['redis-server', '--port', String(port), '--bind', HOST, '--dir', dir];
  argv.push('--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '');
  return { argv, env: {} };
}

/** The floor server's script, relative to the checkout (the bench runs from its top directory). */
export const FLOOR_SCRIPT = 'dist/bench/lib/nodeFloor.js';

/**
 * The node floor on `port`: plain `node` with default flags (none of bin/siberite's tuning), so it
 * measures what Node's net stack costs per request, not what a tuned runtime does.
 */
export function floorCommand(port: number | string): CommandLine {
  return { argv: ['node', FLOOR_SCRIPT, '-listen', `${HOST}:${port}`], env: {} };
}

/** Starts a server on a free port and waits until it answers (start-up in ms beside it). */
export async function startServer(
  kind: ServerKind,
  command: (port: number) => CommandLine,
  readyTimeoutMs = 120_000,
): Promise<{ server: ServerUnderTest; startupMs: number }> {
  const port = await freePort(HOST);
  const server = ServerUnderTest.spawn(kind, port, command(port));
  try {
    return { server, startupMs: await server.waitReady(readyTimeoutMs) };
  } catch (err) {
    server.child.kill();
    throw err;
  }
}

/** Stops `server` and starts the same command on the same port; start-up ms of the new one. */
export async function restartServer(
  server: ServerUnderTest,
  readyTimeoutMs = 300_000,
): Promise<{ server: ServerUnderTest; stopMs: number; startupMs: number }> {
  const stopMs = await server.child.stop();
  const next = ServerUnderTest.spawn(server.kind, server.port, server.child.command);
  return { server: next, stopMs, startupMs: await next.waitReady(readyTimeoutMs) };
}
