// Security test fixtures: an auth file (mode 600) in a temp directory, certificates made with
// `openssl` at test time, a server started with them, and the two ways to authenticate on a raw
// connection (text `set` convention, binary SASL PLAIN).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { BinaryClient } from './binaryClient.js';
import { type ServerHandle, startServer } from './server.js';
import { TextClient, setCmd } from './textClient.js';

// Debian's python3-memcache and python3-pylibmc live in the system interpreter.
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** The users every security test file shares (docs/security.md explains the format). */
export const USERS = {
  admin: { name: 'admin', password: 's3cret admin pw' },
  app: { name: 'app', password: 'app-pw' }, // jobs*,mail
  reader: { name: 'reader', password: 'reader-pw' }, // jobs*, read-only
  watcher: { name: 'watcher', password: 'watch-pw' }, // *, read-only
} as const;

export const AUTH_FILE = [
  '# test users',
  `${USERS.admin.name}:${USERS.admin.password}`,
  `${USERS.app.name}:${USERS.app.password}:jobs*,mail`,
  `${USERS.reader.name}:${USERS.reader.password}:jobs*:ro`,
  `${USERS.watcher.name}:${USERS.watcher.password}:*:ro`,
  '',
].join('\n');

/** A temp directory removed after the file's tests. */
export function useTempDir(prefix: string): { readonly path: string } {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return {
    get path() {
      return dir;
    },
  };
}

export function writeSecret(path: string, text: string): string {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

export interface Certificates {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate from another CA, which the server must refuse. */
  rogueCert: string;
  rogueKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
}

/** Signs a new P-256 key's certificate for `cn` with the CA `ca` (`<ca>.crt`, `<ca>.key`). */
function issue(dir: string, name: string, cn: string, ca: string, ext: string): void {
  openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${cn}`,
  ]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
  chmodSync(join(dir, `${name}.key`), 0o600);
}

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ]);
}

/** A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and a rogue one. */
export function makeCertificates(dir: string, serverName = 'server'): Certificates {
  if (!existsSync(join(dir, 'ca.crt'))) {
    makeCa(dir, 'ca');
    makeCa(dir, 'rogue-ca');
    issue(dir, 'client', 'queue-client', 'ca', 'extendedKeyUsage=clientAuth\n');
    issue(dir, 'rogue', 'intruder', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  }
  issue(dir, serverName, 'siberite-test', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  const p = (f: string) => join(dir, f);
  return {
    ca: p('ca.crt'),
    serverCert: p(`${serverName}.crt`),
    serverKey: p(`${serverName}.key`),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    rogueCert: p('rogue.crt'),
    rogueKey: p('rogue.key'),
  };
}

/** The TLS port from the server's "siberite listening" line. */
export function tlsPortOf(server: ServerHandle): number {
  const m = /"tls":"[^"]*:(\d+)"/.exec(server.output());
  if (!m) throw new Error(`no TLS address in the server's output:\n${server.output()}`);
  return Number(m[1]);
}

/** Starts a server with `args` for the file's tests; stopped and removed afterwards. */
export function useSecureServer(args: () => string[]): { readonly server: ServerHandle } {
  let server: ServerHandle | undefined;
  beforeAll(async () => {
    server = await startServer({ args: args() });
  });
  afterAll(async () => {
    await server?.stop();
    server?.cleanup();
  });
  return {
    get server() {
      if (!server) throw new Error('the server starts in beforeAll');
      return server;
    },
  };
}

/** Text connection authenticated as `user` (memcached 1.6 convention). */
export async function textLogin(port: number, user: { name: string; password: string }): Promise<TextClient> {
  const c = await TextClient.connect(port);
  const reply = await c.call(setCmd('auth', `${user.name} ${user.password}`));
  if (reply !== 'STORED\r\n') throw new Error(`login as ${user.name} failed: ${reply}`);
  return c;
}

/** memcached's SASL opcodes and the statuses that go with authentication. */
export const SASL = { LIST_MECHS: 0x20, AUTH: 0x21, STEP: 0x22 } as const;
export const AUTH_ERROR = 0x20;
export const ACCESS_DENIED = 0x24;

/** The SASL PLAIN message for user/password. */
export function plain(user: string, password: string): Buffer {
  return Buffer.from(`\0${user}\0${password}`, 'utf8');
}

/** Binary connection authenticated as `user` with SASL PLAIN. */
export async function binaryLogin(port: number, user: { name: string; password: string }): Promise<BinaryClient> {
  const c = await BinaryClient.connect(port);
  const r = await c.call({ opcode: SASL.AUTH, key: 'PLAIN', value: plain(user.name, user.password) });
  if (r.status !== 0) throw new Error(`SASL login as ${user.name} failed: status ${r.status}`);
  return c;
}
