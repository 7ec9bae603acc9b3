// Spawns the real server (dist/) on a loopback port with a temp data directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CLI = resolve(import.meta.dirname, '../../dist/src/cli.js');

export interface StartOptions {
  /** Reuse a data directory (restart after a crash); a new temp one otherwise. */
  dataDir?: string;
  /** Extra flags, e.g. ['-fsync', 'always']. */
  args?: string[];
  /** A command the server runs under, e.g. ['prlimit', '--nofile=200:200']. */
  wrap?: string[];
}

export interface ServerHandle {
  host: string;
  port: number;
  dataDir: string;
  proc: ChildProcess;
  /** Everything the server wrote to stdout and stderr so far. */
  output(): string;
  /**
   * Resolves with the output once it matches `pattern` (the server's log is written
   * asynchronously, so a line may arrive after the reply it explains); rejects after `timeoutMs`.
   */
  outputMatching(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: no chance to write anything more. */
  kill9(): Promise<void>;
  /** Removes the data directory (after stop). */
  cleanup(): void;
}

export async function startServer(options: StartOptions = {}): Promise<ServerHandle> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'siberite-test-'));
  const args = [CLI, '-listen', '127.0.0.1:0', '-data', dataDir, ...(options.args ?? [])];
  const [command, ...prefix] = [...(options.wrap ?? []), process.execPath];
  const proc = spawn(command!, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let waiters: Array<() => void> = [];
  const notify = () => {
    const now = waiters;
    waiters = [];
    for (const w of now) w();
  };
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  const port = await new Promise<number>((res, rej) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /"listen":"[^"]*:(\d+)"/.exec(output);
      if (m) res(Number(m[1]));
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    proc.stdout!.on('data', () => notify());
    proc.stderr!.on('data', () => notify());
    void exited.then((code) => rej(new Error(`server exited (${code}) before listening:\n${output}`)));
  });
  return {
    host: '127.0.0.1',
    port,
    dataDir,
    proc,
    output: () => output,
    outputMatching(pattern, timeoutMs = 5000) {
      return new Promise<string>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no ${String(pattern)} in the output within ${timeoutMs} ms:\n${output}`)), timeoutMs);
        const check = () => {
          if (!pattern.test(output)) return void waiters.push(check);
          clearTimeout(timer);
          res(output);
        };
        check();
      });
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGKILL');
      await exited;
    },
    cleanup() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
