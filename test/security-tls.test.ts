// TLS (docs/security.md): -tls-listen beside -listen, serving both protocols, with Node's tls
// and Python's ssl against certificates made at test time; client certificates required and
// refused with -tls-ca; certificates reloaded on SIGHUP without dropping connections.
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { Op, packet, parseResponse, setExtras } from './helpers/binaryClient.js';
import { TextClient, setCmd, value } from './helpers/textClient.js';
import { stat } from './helpers/stats.js';
import {
  AUTH_FILE,
  type Certificates,
  PYTHON,
  SASL,
  USERS,
  makeCertificates,
  plain,
  textLogin,
  tlsPortOf,
  useSecureServer,
  useTempDir,
  writeSecret,
} from './helpers/security.js';

const dir = useTempDir('siberite-sec-tls-');
let certs: Certificates;
/** Where the server reads its certificate: copied in, so the reload test can replace it. */
let liveCert = '';
let liveKey = '';

const withAuth = useSecureServer(() => {
  certs = makeCertificates(dir.path);
  liveCert = join(dir.path, 'live.crt');
  liveKey = join(dir.path, 'live.key');
  copyFileSync(certs.serverCert, liveCert);
  copyFileSync(certs.serverKey, liveKey);
  const users = writeSecret(join(dir.path, 'users'), AUTH_FILE);
  return ['-tls-listen', '127.0.0.1:0', '-tls-cert', liveCert, '-tls-key', liveKey, '-auth-file', users];
});
const mutual = useSecureServer(() => [
  '-tls-listen',
  '127.0.0.1:0',
  '-tls-cert',
  certs.serverCert,
  '-tls-key',
  certs.serverKey,
  '-tls-ca',
  certs.ca,
]);

interface Talk {
  /** Everything received before the connection ended (or the wait ran out). */
  reply: string;
  /** The TLS or socket error, if any. */
  error?: string;
  /** The server certificate's fingerprint, once the handshake is done. */
  fingerprint?: string;
  socket: tls.TLSSocket;
}

/**
 * Opens a TLS connection (trusting the test CA), sends `data`, and collects the reply until
 * `until` matches it, the connection ends, or 5 s pass. `keep` leaves the socket open.
 */
function talk(
  port: number,
  data: string | Buffer,
  until: RegExp | ((b: Buffer) => boolean),
  extra: tls.ConnectionOptions = {},
  keep = false,
): Promise<Talk> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(certs.ca), servername: 'localhost', ...extra });
    let got = Buffer.alloc(0);
    const done = (error?: string) => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      const fp = socket.getPeerCertificate()?.fingerprint256;
      if (!keep) socket.destroy();
      resolve({ reply: got.toString('latin1'), socket, ...(error !== undefined && { error }), ...(fp && { fingerprint: fp }) });
    };
    const timer = setTimeout(() => done('timeout'), 5000);
    const matches = () => (until instanceof RegExp ? until.test(got.toString('latin1')) : until(got));
    socket.once('secureConnect', () => socket.write(data));
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (matches()) done();
    });
    socket.on('error', (err) => done(err.message));
    socket.on('close', () => done('closed'));
  });
}

function fingerprintOf(path: string): string {
  return new X509Certificate(readFileSync(path)).fingerprint256;
}

beforeAll(() => {
  // Both servers are up (useSecureServer's beforeAll ran first).
  expect(tlsPortOf(withAuth.server)).toBeGreaterThan(0);
});

describe('TLS listener beside the plain one', () => {
  it('Node tls: the text protocol with authentication, TLS 1.2 or newer', async () => {
    const port = tlsPortOf(withAuth.server);
    const auth = setCmd('auth', `${USERS.app.name} ${USERS.app.password}`).toString('latin1');
    const t = await talk(port, `${auth}${setCmd('jobs_tls', 'over tls').toString('latin1')}get jobs_tls\r\n`, /END\r\n$/, {}, true);
    expect(t.error).toBeUndefined();
    expect(t.reply).toBe(`STORED\r\nSTORED\r\n${value('jobs_tls', 'over tls')}`);
    expect(['TLSv1.2', 'TLSv1.3']).toContain(t.socket.getProtocol());
    t.socket.destroy();
    // The plain listener serves the same queues.
    const c = await textLogin(withAuth.server.port, USERS.app);
    expect(await c.call(setCmd('jobs_tls', 'plain'))).toBe('STORED\r\n');
    c.close();
    const again = await talk(port, `${auth}get jobs_tls\r\n`, /END\r\n$/);
    expect(again.reply).toBe(`STORED\r\n${value('jobs_tls', 'plain')}`);
  });

  it('Node tls: the binary protocol with SASL PLAIN', async () => {
    const port = tlsPortOf(withAuth.server);
    const requests = Buffer.concat([
      packet({ opcode: SASL.AUTH, key: 'PLAIN', value: plain(USERS.app.name, USERS.app.password), opaque: 1 }),
      packet({ opcode: Op.SET, key: 'jobs_tlsbin', extras: setExtras(), value: 'bin', opaque: 2 }),
      packet({ opcode: Op.GET, key: 'jobs_tlsbin', opaque: 3 }),
    ]);
    const responses = (b: Buffer) => {
      const out = [];
      for (let p = parseResponse(b); p; p = parseResponse(p.rest)) out.push(p.response);
      return out;
    };
    const t = await talk(port, requests, (b) => responses(b).length === 3);
    const [auth, set, get] = responses(Buffer.from(t.reply, 'latin1'));
    expect(auth!.status).toBe(0);
    expect(auth!.value.toString()).toBe('Authenticated');
    expect(set!.status).toBe(0);
    expect(get!.value.toString()).toBe('bin');
  });

  it('Python ssl: a raw wrapped socket speaking the text protocol, verifying the certificate', async () => {
    const port = tlsPortOf(withAuth.server);
    const code = [
      'import socket, ssl, sys',
      `ctx = ssl.create_default_context(cafile=${JSON.stringify(certs.ca)})`,
      `s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", ${port}), timeout=5), server_hostname="localhost")`,
      `s.sendall(b"set auth 0 0 ${USERS.app.name.length + 1 + USERS.app.password.length}\\r\\n${USERS.app.name} ${USERS.app.password}\\r\\nset jobs_py 0 0 2\\r\\npy\\r\\nget jobs_py\\r\\n")`,
      'buf = b""',
      'while not buf.endswith(b"END\\r\\n"):',
      '    chunk = s.recv(4096)',
      '    if not chunk: break',
      '    buf += chunk',
      'print(s.version())',
      'sys.stdout.write(buf.decode())',
    ].join('\n');
    const r = await new Promise<{ stdout: string; stderr: string }>((res) =>
      execFile(PYTHON, ['-c', code], { timeout: 20_000 }, (_e, stdout, stderr) => res({ stdout, stderr })),
    );
    expect(r.stderr).toBe('');
    const [version, ...rest] = r.stdout.split('\n');
    expect(version).toMatch(/^TLSv1\.[23]$/);
    expect(rest.join('\n')).toBe(`STORED\r\nSTORED\r\n${value('jobs_py', 'py')}`);
  });

  it('a client that does not trust the server certificate fails the handshake; nothing is served', async () => {
    const t = await talk(tlsPortOf(withAuth.server), 'version\r\n', /VERSION/, { ca: readFileSync(certs.rogueCert) });
    expect(t.error).toMatch(/certificate/i);
    expect(t.reply).toBe('');
  });
});

describe('client certificates (-tls-ca)', () => {
  it('a client with a certificate from the CA is served', async () => {
    const t = await talk(tlsPortOf(mutual.server), 'version\r\n', /\r\n$/, {
      cert: readFileSync(certs.clientCert),
      key: readFileSync(certs.clientKey),
    });
    expect(t.error).toBeUndefined();
    expect(t.reply).toMatch(/^VERSION \d/);
  });

  it('a client without a certificate, or with one from another CA, is refused in the handshake', async () => {
    const none = await talk(tlsPortOf(mutual.server), 'version\r\n', /VERSION/);
    const rogue = await talk(tlsPortOf(mutual.server), 'version\r\n', /VERSION/, {
      cert: readFileSync(certs.rogueCert),
      key: readFileSync(certs.rogueKey),
    });
    for (const t of [none, rogue]) {
      expect(t.reply).toBe('');
      expect(t.error).toBeDefined();
      expect(t.error).not.toBe('timeout');
    }
    // Counted (the plain listener has no authentication on this server).
    const c = await TextClient.connect(mutual.server.port);
    expect(Number(stat(await c.call('stats\r\n'), 'tls_handshake_errors'))).toBeGreaterThanOrEqual(2);
    c.close();
  });
});

describe('reload', () => {
  it('SIGHUP loads a new certificate for new connections; open TLS connections keep working', async () => {
    const port = tlsPortOf(withAuth.server);
    const auth = setCmd('auth', `${USERS.admin.name} ${USERS.admin.password}`).toString('latin1');
    const old = await talk(port, auth, /STORED\r\n$/, {}, true);
    expect(old.fingerprint).toBe(fingerprintOf(certs.serverCert));

    const renewed = makeCertificates(dir.path, 'renewed');
    copyFileSync(renewed.serverCert, liveCert);
    copyFileSync(renewed.serverKey, liveKey);
    const reloaded = withAuth.server.output().split('TLS certificates reloaded').length;
    withAuth.server.proc.kill('SIGHUP');
    for (let i = 0; i < 500 && withAuth.server.output().split('TLS certificates reloaded').length === reloaded; i++) {
      await new Promise((r) => setTimeout(r, 10)); // the log line is the only sign; bounded at ~5 s
    }
    const fresh = await talk(port, 'version\r\n', /\r\n$/);
    expect(fresh.error).toBeUndefined();
    expect(fresh.fingerprint).toBe(fingerprintOf(renewed.serverCert));
    expect(fresh.fingerprint).not.toBe(old.fingerprint);

    // The connection opened before the reload is still up and authenticated.
    const reply = await new Promise<string>((resolve) => {
      old.socket.once('data', (b: Buffer) => resolve(b.toString('latin1')));
      old.socket.write('status\r\n');
    });
    expect(reply).toBe('UP\r\n');
    old.socket.destroy();
  });
});
