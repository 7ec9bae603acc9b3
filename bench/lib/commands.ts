// Single memcache-text commands on a connection of their own, for set-up and inspection around
// a benchmark (delete a queue, read `stats`, ask `version`). Not for the measured load.

import { createConnection } from 'node:net';

/**
 * Sends `command` on a new connection and resolves with the reply text once it matches
 * `until` (e.g. /\r\n$/ for a one-line reply, /(^|\r\n)END\r\n$/ for stats).
 */
export function rawCommand(host: string, port: number, command: string, until: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to ${JSON.stringify(command.trim())} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(command));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (until.test(text)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`connection closed before a reply to ${JSON.stringify(command.trim())} (got ${JSON.stringify(text)})`));
    });
  });
}

/** `stats` as a map of STAT name → value. */
export async function serverStats(host: string, port: number): Promise<Map<string, string>> {
  const text = await rawCommand(host, port, 'stats\r\n', /(^|\r\n)END\r\n$/);
  const out = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const parts = line.split(' ');
    if (parts[0] === 'STAT' && parts.length >= 3) out.set(parts[1]!, parts.slice(2).join(' '));
  }
  return out;
}

/** The server's `version` reply (e.g. "siberite-1.0.0" or "1.6.21"). */
export async function serverVersion(host: string, port: number, timeoutMs = 5000): Promise<string> {
  const text = await rawCommand(host, port, 'version\r\n', /\r\n$/, timeoutMs);
  const m = /^VERSION (.*)\r\n$/.exec(text);
  if (!m) throw new Error(`unexpected reply to version: ${JSON.stringify(text)}`);
  return m[1]!;
}

export interface ServerIdentity {
  /** true for siberite (a queue server: `get` removes the head), false for e.g. memcached. */
  siberite: boolean;
  /** `STAT version` from stats, else the `version` reply (siberite answers `VERSION 1.0.0`). */
  version: string;
}

/**
 * Which kind of server listens at host:port. siberite's `version` reply is the bare number, so
 * the tell is `stats`: `STAT version siberite-<n>` (and queue counters memcached lacks).
 */
export async function identifyServer(host: string, port: number): Promise<ServerIdentity> {
  const st = await serverStats(host, port);
  const version = st.get('version') ?? (await serverVersion(host, port));
  const siberite = version.startsWith('siberite') || st.has('queue_creates');
  return { siberite, version };
}

/** `delete <queue>`: DELETED or NOT_FOUND are both fine; anything else throws. */
export async function deleteQueue(host: string, port: number, queue: string): Promise<void> {
  const reply = await rawCommand(host, port, `delete ${queue}\r\n`, /\r\n$/, 60_000);
  if (reply !== 'DELETED\r\n' && reply !== 'NOT_FOUND\r\n') throw new Error(`delete ${queue}: ${reply.trim()}`);
}

/** Items in the given queues according to siberite's `stats` (queue_<name>_items), summed. */
export async function queueItems(host: string, port: number, queues: readonly string[]): Promise<number> {
  const st = await serverStats(host, port);
  let n = 0;
  for (const q of queues) n += Number(st.get(`queue_${q}_items`) ?? 0);
  return n;
}
