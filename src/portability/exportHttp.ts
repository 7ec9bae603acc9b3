// Export over HTTP, both ends. A running server holds LevelDB's lock, so another process cannot
// read its directory: the server streams the backup itself (GET /export on its admin port, via
// handleExportRequest) and `siberite export -admin HOST:PORT` fetches it to stdout.
import { readFileSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, request } from 'node:http';
import { type Writable } from 'node:stream';
import { type RawDb } from '../store/portable.js';
import { type BackupCounts } from './backupFormat.js';
import { PortabilityError } from './errors.js';
import { exportBackup } from './exportBackup.js';

/**
 * Answers `GET /export[?queue=NAME&queue=…]` with the backup of `db` (the running server's
 * LevelDB handle, from one snapshot; clients are not held up). Unknown queues → 404 before any
 * byte of the backup; a failure midway cuts the response (the backup then has no trailer, which
 * restore and the export command both refuse). `source` goes into the header, e.g.
 * `{ kind: 'server', server: 'siberite 1.0.0' }` (no filesystem path: it leaves the machine).
 */
export async function handleExportRequest(
  db: RawDb,
  req: IncomingMessage,
  res: ServerResponse,
  source: Record<string, string | number> = { kind: 'server' },
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const queues = url.searchParams.getAll('queue');
  let started = false;
  try {
    await exportBackup(db, res, {
      queues,
      source,
      onStart: () => {
        started = true;
        res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
      },
    });
    res.end();
  } catch (err) {
    if (started) {
      res.destroy();
      return;
    }
    const refused = err instanceof PortabilityError;
    res.writeHead(refused ? 404 : 500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`${refused ? err.message : 'export failed'}\n`);
  }
}

/** `host:port`, `[v6]:port`. */
function parseAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) throw new PortabilityError(`bad -admin address "${value}" (want host:port)`);
  return { host: m[1] ?? m[2]!, port };
}

/** The token in `file`: its first line, trimmed (the format of the server's -admin-token-file). */
export function readAdminToken(file: string): string {
  let token: string;
  try {
    token = readFileSync(file, 'utf8').split('\n')[0]!.trim();
  } catch (err) {
    throw new PortabilityError(`cannot read the admin token file ${file}: ${(err as Error).message}`);
  }
  if (!token) throw new PortabilityError(`the admin token file ${file} is empty`);
  return token;
}

/**
 * Fetches the backup from a running server's admin port into `out`. Checks that it ends with
 * its trailer (a cut connection is an error, not a short backup); returns the trailer's counts.
 */
export async function fetchExport(address: string, queues: readonly string[], out: Writable, token?: string): Promise<BackupCounts> {
  const { host, port } = parseAddress(address);
  const query = queues.map((q) => `queue=${encodeURIComponent(q)}`).join('&');
  // Off loopback the admin port wants its bearer token (the server's -admin-token-file).
  const headers = token ? { authorization: `Bearer ${token}` } : undefined;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request({ host, port, path: `/export${query ? `?${query}` : ''}`, method: 'GET', headers }, resolve);
    req.on('error', (err) => reject(new PortabilityError(`cannot reach the admin port ${address}: ${err.message}`)));
    req.end();
  });
  if (res.statusCode !== 200) {
    let body = '';
    for await (const chunk of res) body += String(chunk);
    throw new PortabilityError(`the server at ${address} refused the export (HTTP ${res.statusCode}): ${body.trim().slice(0, 500)}`);
  }
  let tail = Buffer.alloc(0);
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve));
    tail = Buffer.concat([tail, chunk]).subarray(-64 * 1024);
  }
  const text = tail.toString('utf8');
  const last = text.slice(text.lastIndexOf('\n', text.length - 2) + 1);
  if (!text.endsWith('\n') || !last.startsWith('{"type":"trailer"')) {
    throw new PortabilityError(`the export from ${address} was cut short (no trailer): do not use this output`);
  }
  return (JSON.parse(last) as { counts: BackupCounts }).counts;
}
