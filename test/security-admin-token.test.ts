// The admin port's bearer token (docs/security.md "Admin port"): off loopback, everything but the
// probes needs `Authorization: Bearer <token>` from -admin-token-file. The server binds 0.0.0.0
// (not loopback), and the test reaches it over 127.0.0.1 only.
import http from 'node:http';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { CLI, type ServerHandle, startServer } from './helpers/server.js';
import { TextClient, setCmd } from './helpers/textClient.js';

const TOKEN = 'a-long-enough-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'siberite-token-'));
let server: ServerHandle;
let port: number;

function get(path: string, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  const file = join(dir, 'token');
  writeFileSync(file, `${TOKEN}\n`);
  chmodSync(file, 0o600);
  server = await startServer({ args: ['-admin', '0.0.0.0:0', '-admin-token-file', file] });
  port = Number(/"admin":"0\.0\.0\.0:(\d+)"/.exec(server.output())![1]);
});
afterAll(async () => {
  await server.kill9();
  server.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('admin bearer token off loopback', () => {
  it('probes answer without it', async () => {
    expect(await get('/healthz')).toBe(200);
    expect(await get('/readyz')).toBe(200);
  });

  it('metrics, stats and the dashboard need it', async () => {
    for (const path of ['/metrics', '/stats.json', '/', '/api/overview']) {
      expect(await get(path), path).toBe(401);
      expect(await get(path, 'wrong-token-of-some-length'), path).toBe(401);
      expect(await get(path, TOKEN), path).toBe(200);
    }
  });
});

describe('GET /export (the running server streams a backup)', () => {
  it('always needs the token, and `siberite export -admin` fetches a whole backup with it', async () => {
    const c = await TextClient.connect(server.port);
    for (const v of ['one', 'two', 'three']) expect(await c.call(setCmd('exported', v))).toBe('STORED\r\n');
    c.close();
    expect(await get('/export')).toBe(401);
    const r = spawnSync(
      process.execPath,
      [CLI, 'export', '-admin', `127.0.0.1:${port}`, '-admin-token-file', join(dir, 'token'), '-queue', 'exported'],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; value?: string });
    expect(lines[0]!.type).toBe('header');
    expect(lines.at(-1)!.type).toBe('trailer');
    const values = lines.filter((l) => l.type === 'item').map((l) => Buffer.from(l.value!, 'base64').toString());
    expect(values).toEqual(['one', 'two', 'three']);
  });
});
