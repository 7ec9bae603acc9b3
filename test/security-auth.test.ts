// Authentication (docs/security.md): -auth-file with real clients — memcached 1.6's text
// convention (raw socket, python-memcache), SASL PLAIN (memjs, pylibmc binary, raw packets) —
// wrong credentials slowed and refused, silent connections closed, the file's mode checked,
// and the file reloaded without dropping connections.
import { execFile } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import memjs from 'memjs';
import { describe, expect, it } from 'vitest';
import { BinaryClient, Op, packet, setExtras } from './helpers/binaryClient.js';
import { CLI, startServer } from './helpers/server.js';
import { stat } from './helpers/stats.js';
import { TextClient, setCmd, value } from './helpers/textClient.js';
import {
  AUTH_ERROR,
  AUTH_FILE,
  PYTHON,
  SASL,
  USERS,
  binaryLogin,
  plain,
  textLogin,
  useSecureServer,
  useTempDir,
  writeSecret,
} from './helpers/security.js';

const SCRIPTS = resolve(import.meta.dirname, 'clients');
const AUTH_TIMEOUT_MS = 1500;

const dir = useTempDir('siberite-sec-auth-');
const fx = useSecureServer(() => ['-auth-file', writeSecret(join(dir.path, 'users'), AUTH_FILE), '-auth-timeout', `${AUTH_TIMEOUT_MS}ms`]);

/** Runs a program to completion (bounded); never rejects. */
function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(file, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** Queue contents as the administrator sees them (peeking: nothing is consumed). */
async function peek(queue: string): Promise<string> {
  const c = await textLogin(fx.server.port, USERS.admin);
  try {
    return await c.call(`get ${queue}/peek\r\n`);
  } finally {
    c.close();
  }
}

describe('text protocol authentication (memcached 1.6 convention)', () => {
  it('version is answered before authentication; any other command is refused and the connection closed', async () => {
    const c = await TextClient.connect(fx.server.port);
    expect(await c.call('version\r\n')).toMatch(/^VERSION \d/);
    c.send('get ta_q\r\nget ta_q\r\n');
    expect(await c.readToClose()).toBe('CLIENT_ERROR unauthenticated\r\n');
  });

  it('`set <any> 0 0 <n>` with `user password` answers STORED; the connection then works (pipelined too)', async () => {
    const c = await TextClient.connect(fx.server.port);
    const auth = setCmd('auth', `${USERS.admin.name} ${USERS.admin.password}`);
    c.send(Buffer.concat([auth, setCmd('ta_ok', 'hello'), Buffer.from('get ta_ok\r\n')]));
    expect(await c.readReply()).toBe('STORED\r\n');
    expect(await c.readReply()).toBe('STORED\r\n');
    expect(await c.readReply()).toBe(value('ta_ok', 'hello'));
    expect(await peek('auth')).toBe('END\r\n'); // the credentials were not stored as an item
    c.close();
  });

  it('a wrong password is answered after a delay, the connection closed, and what followed it not run', async () => {
    const c = await TextClient.connect(fx.server.port);
    const started = Date.now();
    c.send(Buffer.concat([setCmd('auth', `${USERS.admin.name} wrong`), setCmd('ta_wrong', 'x')]));
    expect(await c.readToClose()).toBe('CLIENT_ERROR authentication failure\r\n');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(await peek('ta_wrong')).toBe('END\r\n');
    // Logged with the user and the peer; never the password.
    const line = fx.server
      .output()
      .split('\n')
      .find((l) => l.includes('authentication failed') && l.includes('"user":"admin"'));
    expect(line).toBeDefined();
    expect(line).toMatch(/"peer":"127\.0\.0\.1:\d+"/);
    expect(fx.server.output()).not.toContain('wrong"');
  });

  it('before authentication a value larger than credentials is refused unread (nothing is buffered for it)', async () => {
    const c = await TextClient.connect(fx.server.port);
    c.send(setCmd('ta_big', Buffer.alloc(200_000, 0x61)));
    expect(await c.readToClose()).toBe('CLIENT_ERROR unauthenticated\r\n');
    const b = await BinaryClient.connect(fx.server.port);
    b.send(packet({ opcode: Op.SET, key: 'ta_big', extras: setExtras(), value: Buffer.alloc(200_000) }));
    const { responses } = await b.readToClose();
    expect(responses.map((r) => r.status)).toEqual([AUTH_ERROR]);
    expect(await peek('ta_big')).toBe('END\r\n');
  });

  it('an unknown user is refused the same way', async () => {
    const c = await TextClient.connect(fx.server.port);
    c.send(setCmd('auth', 'nobody app-pw'));
    expect(await c.readToClose()).toBe('CLIENT_ERROR authentication failure\r\n');
  });

  it('a connection that does not authenticate in time is closed; an authenticated one stays', async () => {
    const silent = await TextClient.connect(fx.server.port);
    const authed = await textLogin(fx.server.port, USERS.app);
    const started = Date.now();
    await silent.waitClosed();
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(AUTH_TIMEOUT_MS - 300);
    expect(waited).toBeLessThan(AUTH_TIMEOUT_MS + 5000);
    expect(await authed.call(setCmd('jobs_alive', 'x'))).toBe('STORED\r\n');
    authed.close();
  });

  it('python-memcache authenticates with mc.set("auth", "user password") and then works', async () => {
    const code = [
      'import memcache, sys',
      `mc = memcache.Client(["127.0.0.1:${fx.server.port}"])`,
      `assert mc.set("auth", "${USERS.app.name} ${USERS.app.password}")`,
      'assert mc.set("jobs_py", "from-python")',
      'print(mc.get("jobs_py"))',
      'print(mc.set("secret_q", "nope"))', // outside app's patterns: refused, not stored
    ].join('\n');
    const r = await run(PYTHON, ['-c', code]);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')[0]).toBe('from-python');
    expect(await peek('secret_q')).toBe('END\r\n');
  });
});

describe('binary protocol SASL PLAIN', () => {
  it('LIST_MECHS offers PLAIN; a command before AUTH gets status 0x20 and the connection closes', async () => {
    const c = await BinaryClient.connect(fx.server.port);
    const mechs = await c.call({ opcode: SASL.LIST_MECHS });
    expect(mechs.status).toBe(0);
    expect(mechs.value.toString()).toBe('PLAIN');
    expect((await c.call({ opcode: Op.VERSION })).status).toBe(0);
    c.send(
      Buffer.concat([Buffer.from([0x80, Op.GET, 0, 5, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('ba_q1')]),
    );
    const { responses } = await c.readToClose();
    expect(responses).toHaveLength(1);
    expect(responses[0]!.status).toBe(AUTH_ERROR);
  });

  it('AUTH with the right password answers "Authenticated"; STEP and other mechanisms fail', async () => {
    const ok = await binaryLogin(fx.server.port, USERS.admin);
    expect((await ok.set('ba_ok', 'v')).status).toBe(0);
    ok.close();
    const step = await BinaryClient.connect(fx.server.port);
    expect((await step.call({ opcode: SASL.STEP, key: 'PLAIN', value: plain('admin', USERS.admin.password) })).status).toBe(AUTH_ERROR);
    await step.waitClosed();
    const cram = await BinaryClient.connect(fx.server.port);
    expect((await cram.call({ opcode: SASL.AUTH, key: 'CRAM-MD5', value: 'admin' })).status).toBe(AUTH_ERROR);
    await cram.waitClosed();
  });

  it('memjs with the right credentials works; with a wrong password every request fails', async () => {
    const port = fx.server.port;
    const good = memjs.Client.create(`127.0.0.1:${port}`, {
      username: USERS.app.name,
      password: USERS.app.password,
      timeout: 5,
      retries: 1,
      logger: { log() {} },
    });
    try {
      expect(await good.set('jobs_memjs', 'hello')).toBe(true);
      expect((await good.get('jobs_memjs')).value?.toString()).toBe('hello');
    } finally {
      good.close();
    }
    const bad = memjs.Client.create(`127.0.0.1:${port}`, {
      username: USERS.app.name,
      password: 'not-it',
      timeout: 5,
      retries: 1,
      logger: { log() {} },
    });
    try {
      await expect(bad.set('jobs_memjs', 'evil')).rejects.toThrow(/authentication failed/i);
    } finally {
      bad.close();
    }
    expect(await peek('jobs_memjs')).toBe('END\r\n');
  });

  it('pylibmc (libmemcached, binary) authenticates with username and password', async () => {
    const r = await run(PYTHON, [join(SCRIPTS, 'security_pylibmc_sasl.py'), String(fx.server.port), USERS.app.name, USERS.app.password]);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ set: true, get: 'from-pylibmc', denied_set: false, wrong_password: 'refused' });
    expect(await peek('outside_pylibmc')).toBe('END\r\n');
  });
});

describe('counters', () => {
  it('stats counts attempts, failures, timeouts and refusals', async () => {
    const c = await textLogin(fx.server.port, USERS.watcher);
    const stats = await c.call('stats\r\n');
    c.close();
    expect(Number(stat(stats, 'auth_cmds'))).toBeGreaterThanOrEqual(8);
    expect(Number(stat(stats, 'auth_errors'))).toBeGreaterThanOrEqual(4);
    expect(Number(stat(stats, 'auth_timeouts'))).toBeGreaterThanOrEqual(1);
    expect(Number(stat(stats, 'cmd_denied'))).toBeGreaterThanOrEqual(2);
  });
});

describe('the auth file', () => {
  it('is refused at start when group or others can read it, with a clear message', async () => {
    const path = writeSecret(join(dir.path, 'open-users'), AUTH_FILE);
    chmodSync(path, 0o640);
    const r = await run(process.execPath, [CLI, '-listen', '127.0.0.1:0', '-data', join(dir.path, 'd1'), '-auth-file', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`siberite: auth file ${path} is accessible by group or others (mode 0640); run: chmod 600 ${path}\n`);
  });

  it('is refused at start when a line is malformed, naming the line', async () => {
    const path = writeSecret(join(dir.path, 'bad-users'), 'admin:pw\nbroken-line\n');
    const r = await run(process.execPath, [CLI, '-listen', '127.0.0.1:0', '-data', join(dir.path, 'd2'), '-auth-file', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`auth file ${path} line 2: want user:password`);
  });

  it('reload (and SIGHUP) re-reads it: open connections stay, a removed user loses access, a bad file is refused', async () => {
    const path = writeSecret(join(dir.path, 'reload-users'), AUTH_FILE);
    const s = await startServer({ args: ['-auth-file', path] });
    try {
      const app = await textLogin(s.port, USERS.app);
      const admin = await textLogin(s.port, USERS.admin);
      expect(await app.call(setCmd('jobs_r', '1'))).toBe('STORED\r\n');
      // app removed, a new user added; `reload` on a connection that stays open.
      writeSecret(path, `${USERS.admin.name}:${USERS.admin.password}\nnewbie:fresh-pw:jobs*\n`);
      expect(await admin.call('reload\r\n')).toBe('Reloaded config.\r\n');
      expect(await app.call(setCmd('jobs_r', '2'))).toBe('CLIENT_ERROR access denied\r\n');
      const newbie = await textLogin(s.port, { name: 'newbie', password: 'fresh-pw' });
      expect(await newbie.call('get jobs_r\r\n')).toBe(value('jobs_r', '1'));
      // A file others can read is refused on SIGHUP and by `reload`; the previous one stays.
      chmodSync(path, 0o644);
      s.proc.kill('SIGHUP');
      const reply = await admin.call('reload\r\n');
      expect(reply).toBe('SERVER_ERROR auth file not reloaded (see the server log); the previous ones stay in force\r\n');
      expect(reply).not.toContain(dir.path);
      const again = await textLogin(s.port, { name: 'newbie', password: 'fresh-pw' });
      expect(await again.call('version\r\n')).toMatch(/^VERSION/);
      for (const c of [app, admin, newbie, again]) c.close();
      expect(await s.outputMatching(/auth file not reloaded/)).toMatch(/auth file not reloaded/);
    } finally {
      await s.stop();
      s.cleanup();
    }
  });
});
