// Real servers for the client's tests, spawned from dist/ like test/helpers/server.ts does, but
// on a port chosen here, so a server killed with `kill -9` can be restarted on the same address
// (the client knows its servers by address) and the same data directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/server.js';

/** A port free on `host` now (the kernel's choice; released before the server binds it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export class Node {
  proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  readonly dataDir = mkdtempSync(join(tmpdir(), 'siberite-client-'));

  constructor(
    readonly host: string,
    readonly port: number,
  ) {}

  /** `host:port` as the client spells it. */
  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  static async start(host = '127.0.0.1', port?: number): Promise<Node> {
    const n = new Node(host, port ?? (await freePort(host)));
    await n.spawn();
    return n;
  }

  /** Starts (or restarts) the server on its address and data directory; resolves once it listens. */
  async spawn(): Promise<void> {
    const listen = this.address;
    const proc = spawn(process.execPath, [CLI, '-listen', listen, '-data', this.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.exited = new Promise((res) => proc.once('exit', () => res()));
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server on ${listen} did not start:\n${output}`)), 15_000);
      proc.stdout!.on('data', (c: Buffer) => {
        output += c.toString();
        if (output.includes('"listen"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
      void this.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`server on ${listen} exited before listening:\n${output}`));
      });
    });
  }

  async kill9(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGKILL');
    await this.exited;
  }

  /** kill -9 and remove the data directory. */
  async destroy(): Promise<void> {
    await this.kill9();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Resolves when `cond()` holds, checking every `everyMs`; rejects after `timeoutMs`. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
