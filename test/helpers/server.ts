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
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  const port = await new Promise<number>((res, rej) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /"listen":"[^"]*:(\d+)"/.exec(output);
      if (m) res(Number(m[1]));
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    void exited.then((code) => rej(new Error(`server exited (${code}) before listening:\n${output}`)));
  });
  return {
    host: '127.0.0.1',
    port,
    dataDir,
    proc,
    output: () => output,
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
