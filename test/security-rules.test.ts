// The security rules without a server: the auth file format, the access policy per command,
// SASL PLAIN messages, start-up warnings and the admin token check (docs/security.md).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { type Command, type GetKey } from '../src/protocol/command.js';
import { parseGetKey } from '../src/protocol/keys.js';
import { UserTable } from '../src/security/authFile.js';
import { adminRequestAllowed, loadAdminToken } from '../src/security/adminToken.js';
import { exposureWarnings, loadSecurityFromFlags } from '../src/security/flags.js';
import { AccessPolicy } from '../src/security/policy.js';
import { parsePlain } from '../src/security/sasl.js';

const silent = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'siberite-sec-rules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function get(...raw: string[]): Command {
  return { kind: 'get', keys: raw.map((r) => parseGetKey(r) as GetKey), cas: false };
}
function set(...queues: string[]): Command {
  return { kind: 'set', key: queues.join('+'), queues, flags: 0, exptime: 0, record: Buffer.alloc(21), noreply: false };
}

describe('auth file', () => {
  const table = UserTable.parse(
    ['# comment', '', 'admin:pw:*', 'app:a pass:jobs*,mail:rw', 'plain:pw', 'ro:pw:jobs*:ro', 'crlf:pw\r'].join('\n'),
  );

  it('reads user:password, user:password:PATTERNS and user:password:PATTERNS:ro; comments and blank lines', () => {
    expect(table.size).toBe(5);
    expect(table.get('plain')!.policy.patterns).toEqual(['*']);
    expect(table.get('app')!.policy.patterns).toEqual(['jobs*', 'mail']);
    expect(table.get('app')!.policy.readOnly).toBe(false);
    expect(table.get('ro')!.policy.readOnly).toBe(true);
  });

  it('verifies passwords exactly (spaces included, CR at line end dropped); unknown users fail', () => {
    expect(table.verify('app', 'a pass')?.name).toBe('app');
    expect(table.verify('app', 'a pass ')).toBeNull();
    expect(table.verify('app', 'A pass')).toBeNull();
    expect(table.verify('crlf', 'pw')?.name).toBe('crlf');
    expect(table.verify('nobody', 'pw')).toBeNull();
    expect(table.verify('plain', Buffer.from('pw'))?.name).toBe('plain');
  });

  it.each([
    ['justaname', 'line 1: want user:password'],
    ['a:b:c:d:e', 'line 1: want user:password'],
    ['bad user:pw', 'line 1: bad user name'],
    ['u:', 'line 1: empty password'],
    ['u:pw:jobs.*', `queue names cannot contain '.'`],
    ['u:pw:jo/bs', 'bad queue pattern "jo/bs"'],
    ['u:pw:a,,b', 'bad queue pattern ""'],
    ['u:pw:*:rx', 'the fourth field must be "ro" or "rw"'],
    ['u:pw\nu:other', 'line 2: user "u" is listed twice'],
    ['# only a comment', 'no users'],
  ])('refuses %j: %s', (text, message) => {
    expect(() => UserTable.parse(text)).toThrow(message);
  });

  it('refuses a file group or others can read, and a missing file, naming it', () => {
    const open = join(dir, 'open');
    writeFileSync(open, 'a:b\n', { mode: 0o604 });
    expect(() => UserTable.load(open)).toThrow(`auth file ${open} is accessible by group or others (mode 0604); run: chmod 600 ${open}`);
    expect(() => UserTable.load(join(dir, 'missing'))).toThrow(`auth file ${join(dir, 'missing')}: ENOENT`);
  });
});

describe('access policy', () => {
  const app = AccessPolicy.parse('jobs*,mail', false);
  const reader = AccessPolicy.parse('jobs*', true);
  const watcher = AccessPolicy.parse('*', true);
  const admin = AccessPolicy.parse('*', false);

  it('globs: * matches any run of characters; other characters only themselves', () => {
    expect(['jobs', 'jobs_1', 'jobsx', 'mail'].every((q) => app.mayUse(q))).toBe(true);
    expect(['job', 'xjobs', 'mail2', 'mai', 'Mail'].some((q) => app.mayUse(q))).toBe(false);
    const mid = AccessPolicy.parse('a*b*c', false);
    expect([mid.mayUse('abc'), mid.mayUse('a_b_c'), mid.mayUse('acb'), mid.mayUse('a(b)c')]).toEqual([true, true, false, true]);
    expect(AccessPolicy.parse('q(1)', false).mayUse('q(1)')).toBe(true); // regex characters are literal
    expect(AccessPolicy.parse('q(1)', false).mayUse('q1')).toBe(false);
  });

  it('queue commands: every named queue must match (fanout, multi-key get); cursors follow their queue', () => {
    expect(app.allows(set('jobs_1', 'mail'))).toBe(true);
    expect(app.allows(set('jobs_1', 'other'))).toBe(false);
    expect(app.allows(get('jobs_1', 'other'))).toBe(false);
    expect(app.allows(get('mail.c/open'))).toBe(true);
    expect(app.allows(get('other.c'))).toBe(false);
    expect(app.allows({ kind: 'delete', ref: { queue: 'mail', cursor: 'c' }, noreply: false })).toBe(true);
    expect(app.allows({ kind: 'flush', ref: { queue: 'other' }, noreply: false })).toBe(false);
    expect(app.allows({ kind: 'monitor', queue: 'jobs', seconds: 1 })).toBe(true);
  });

  it('read-only: peeks at queues and any cursor read; no write, consume, delete, flush, monitor or confirm', () => {
    const allowed = [get('jobs/peek'), get('jobs/peek/t=100'), get('jobs.c'), get('jobs.c/open'), get('jobs.c/close'), get('jobs.c/abort')];
    for (const c of allowed) expect(reader.allows(c), JSON.stringify(c)).toBe(true);
    const refused: Command[] = [
      get('jobs'),
      get('jobs/open'),
      get('jobs/close'),
      get('jobs/abort'),
      get('jobs/t=100'),
      set('jobs'),
      { kind: 'delete', ref: { queue: 'jobs', cursor: 'c' }, noreply: false },
      { kind: 'flush', ref: { queue: 'jobs', cursor: 'c' }, noreply: false },
      { kind: 'flush_expired', queue: 'jobs' },
      { kind: 'monitor', queue: 'jobs', seconds: 1 },
      { kind: 'confirm', queue: 'jobs', count: 1 },
    ];
    for (const c of refused) expect(reader.allows(c), JSON.stringify(c)).toBe(false);
  });

  it('server-wide commands: stats need `*`; changes need `*` read-write; harmless ones are open', () => {
    const kinds: Command[] = [
      { kind: 'stats' },
      { kind: 'dump_stats' },
      { kind: 'flush_all', noreply: false },
      { kind: 'flush_all_expired' },
      { kind: 'status', value: 'READONLY' },
      { kind: 'reload' },
      { kind: 'shutdown' },
    ];
    const row = (p: AccessPolicy) => kinds.map((c) => p.allows(c));
    expect(row(app)).toEqual([false, false, false, false, false, false, false]);
    expect(row(watcher)).toEqual([true, true, false, false, false, false, false]);
    expect(row(admin)).toEqual([true, true, true, true, true, true, true]);
    for (const c of [
      { kind: 'status' },
      { kind: 'version' },
      { kind: 'verbosity', noreply: false },
      { kind: 'noop' },
      { kind: 'quit' },
    ] as Command[]) {
      expect(reader.allows(c)).toBe(true);
    }
  });
});

describe('SASL PLAIN', () => {
  it('reads [authzid] NUL user NUL password', () => {
    expect(parsePlain(Buffer.from('\0u\0p w'))).toEqual({ user: 'u', password: Buffer.from('p w') });
    expect(parsePlain(Buffer.from('u\0u\0pw'))?.user).toBe('u');
  });

  it.each([['no separators'], ['\0only-one'], ['\0\0pw'], ['other\0u\0pw'], ['\0u\0p\0w']])('refuses %j', (text) => {
    expect(parsePlain(Buffer.from(text))).toBeNull();
  });
});

describe('flags and warnings', () => {
  it('TLS flags must come together', () => {
    expect(() => loadSecurityFromFlags({ 'auth-timeout': '5s', 'tls-cert': 'c' }, silent)).toThrow(
      '-tls-cert, -tls-key and -tls-ca need -tls-listen',
    );
    expect(() => loadSecurityFromFlags({ 'auth-timeout': '5s', 'tls-listen': ':1' }, silent)).toThrow(
      '-tls-listen needs -tls-cert and -tls-key',
    );
    expect(() => loadSecurityFromFlags({ 'auth-timeout': 'soon' }, silent)).toThrow('-auth-timeout');
    expect(loadSecurityFromFlags({ 'auth-timeout': '5s' }, silent)).toEqual({});
  });

  it('warns when a non-loopback address is served without -auth-file', () => {
    expect(exposureWarnings('127.0.0.1', undefined, {})).toEqual([]);
    expect(exposureWarnings('::1', undefined, {})).toEqual([]);
    expect(exposureWarnings('0.0.0.0', undefined, {})).toEqual([
      'listening on 0.0.0.0 without -auth-file: anyone who can reach this address can read, write, flush and delete every queue',
    ]);
  });
});

describe('admin token (for the admin HTTP port)', () => {
  const path = join(dir, 'token');
  writeFileSync(path, 'abcdefghijklmnop-token\n', { mode: 0o600 });
  const token = loadAdminToken(path);

  it('probes are open; elsewhere a non-loopback admin address needs the exact bearer token', () => {
    expect(adminRequestAllowed('/healthz', undefined, token, '0.0.0.0')).toBe(true);
    expect(adminRequestAllowed('/metrics', undefined, token, '127.0.0.1')).toBe(true);
    expect(adminRequestAllowed('/metrics', undefined, token, '0.0.0.0')).toBe(false);
    expect(adminRequestAllowed('/metrics', 'Bearer abcdefghijklmnop-token', token, '0.0.0.0')).toBe(true);
    expect(adminRequestAllowed('/metrics', 'Bearer abcdefghijklmnop-tokeN', token, '0.0.0.0')).toBe(false);
    expect(adminRequestAllowed('/metrics', 'Basic abcdefghijklmnop-token', token, '0.0.0.0')).toBe(false);
    expect(adminRequestAllowed('/metrics', 'Bearer x', null, '0.0.0.0')).toBe(false);
  });

  it('refuses a short token or an open file', () => {
    const short = join(dir, 'short');
    writeFileSync(short, 'tiny\n', { mode: 0o600 });
    expect(() => loadAdminToken(short)).toThrow('at least 16 characters');
    const open = join(dir, 'open-token');
    writeFileSync(open, 'abcdefghijklmnop-token\n', { mode: 0o644 });
    expect(() => loadAdminToken(open)).toThrow('admin token file');
  });
});

describe('docs/security.md', () => {
  it('its Kubernetes manifests are valid, mount the Secret 0400 without fsGroup, and expose only TLS', async () => {
    const { readFileSync } = await import('node:fs');
    const { parseAllDocuments } = await import('yaml');
    const { Deployment } = await import('kubernetes-models/apps/v1/Deployment');
    const { Secret } = await import('kubernetes-models/v1/Secret');
    const { Service } = await import('kubernetes-models/v1/Service');
    const text = readFileSync(new URL('../docs/security.md', import.meta.url), 'utf8');
    const block = /```yaml\n([\s\S]*?)```/.exec(text)![1]!;
    const docs = parseAllDocuments(block).map((d) => d.toJS() as { kind: string });
    expect(docs.map((d) => d.kind)).toEqual(['Secret', 'Deployment', 'Service']);
    new Secret(docs[0] as never).validate();
    const deployment = new Deployment(docs[1] as never);
    deployment.validate();
    const pod = deployment.spec!.template.spec!;
    expect(pod.securityContext?.fsGroup).toBeUndefined();
    expect(pod.volumes!.find((v) => v.name === 'secrets')!.secret!.defaultMode).toBe(0o400);
    const args = pod.containers[0]!.args!;
    expect(args[args.indexOf('-listen') + 1]).toBe('127.0.0.1:22133');
    expect(args).toContain('-auth-file');
    const service = new Service(docs[2] as never);
    service.validate();
    expect(service.spec!.ports!.map((p) => p.targetPort)).toEqual([Number(args[args.indexOf('-tls-listen') + 1]!.split(':')[1])]);
  });
});
