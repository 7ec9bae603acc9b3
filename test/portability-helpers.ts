// Shared by the import, export and restore tests: running the real `siberite` subcommands,
// unpacking the Go Siberite fixtures, fingerprinting a directory, and draining queues over TCP.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CLI } from './helpers/server.js';
import { type TextClient } from './helpers/textClient.js';

export const FIXTURES = resolve(import.meta.dirname, 'fixtures/siberite-0.6');

export interface CliRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `siberite <args>` to completion (60 s at most), feeding `input` to its stdin. */
export function runCli(args: string[], input?: Buffer | string): Promise<CliRun> {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => out.push(c));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  proc.stdin.on('error', () => undefined); // a refusal may close stdin before all is written
  proc.stdin.end(input);
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  return new Promise((res) =>
    proc.once('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout: Buffer.concat(out), stderr });
    }),
  );
}

/** Unpacks fixture `name` into a new temp directory; returns its `data/` (the Go -data dir). */
export function unpackFixture(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `siberite-go-${name}-`));
  execFileSync('tar', ['xzf', join(FIXTURES, `${name}.tar.gz`), '-C', dir]);
  return join(dir, 'data');
}

export interface Expected {
  queues: Record<
    string,
    { values_b64: string[]; stats_items: number; cursors?: Record<string, { values_b64: string[]; stats_items: number }> }
  >;
}

export function expectedOf(name: string): Expected {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.expected.json`), 'utf8')) as Expected;
}

/** Every file under `dir` with its size, mtime and content hash: equal fingerprints = untouched. */
export function fingerprint(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else h.update(`${p} ${st.size} ${st.mtimeMs}\n`).update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

export interface Served {
  flags: number;
  data: Buffer;
}

/** `get <key>` until END, at most `max` items; the items served, in order. */
export async function drain(c: TextClient, key: string, max: number): Promise<Served[]> {
  const out: Served[] = [];
  for (let i = 0; i <= max; i++) {
    c.send(`get ${key}\r\n`);
    const line = await c.readLine();
    if (line === 'END') return out;
    const m = /^VALUE \S+ (\d+) (\d+)$/.exec(line);
    if (!m) throw new Error(`unexpected reply to get ${key}: ${line}`);
    const data = Buffer.from(await c.readBytes(Number(m[2]) + 2)).subarray(0, Number(m[2]));
    if ((await c.readLine()) !== 'END') throw new Error(`no END after the value of ${key}`);
    out.push({ flags: Number(m[1]), data });
  }
  throw new Error(`get ${key} served more than ${max} items`);
}

export const b64 = (items: Served[]) => items.map((s) => s.data.toString('base64'));
