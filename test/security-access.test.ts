// Per-user queue access (docs/security.md, "Access"): before authentication and outside a user's
// patterns, every command family is refused — text and binary — and afterwards the queues,
// cursors and server status are exactly as they were. Read-only users peek and read cursors.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BinaryClient, Op, packet, setExtras } from './helpers/binaryClient.js';
import { TextClient, setCmd, value } from './helpers/textClient.js';
import {
  ACCESS_DENIED,
  AUTH_ERROR,
  AUTH_FILE,
  USERS,
  binaryLogin,
  textLogin,
  useSecureServer,
  useTempDir,
  writeSecret,
} from './helpers/security.js';

const dir = useTempDir('siberite-sec-access-');
const fx = useSecureServer(() => ['-auth-file', writeSecret(join(dir.path, 'users'), AUTH_FILE)]);

const DENIED = 'CLIENT_ERROR access denied\r\n';
/** Stats that move without any command changing state (clock, traffic, connections, the snapshot's own peeks). */
const VOLATILE =
  /^(uptime|time|pid|cmd_peek|get_hits|curr_connections|total_connections|bytes_read|bytes_written|auth_\w+|cmd_denied|tls_\w+|queue_.*_(logsize|age|mem_items|mem_bytes))$/;

/** Everything a command could change, as the administrator sees it. */
async function snapshot(): Promise<string> {
  const c = await textLogin(fx.server.port, USERS.admin);
  try {
    const stats = (await c.call('stats\r\n')).split('\r\n').filter((l) => l.startsWith('STAT ') && !VOLATILE.test(l.split(' ')[1]!));
    const heads = [await c.call('get secret/peek\r\n'), await c.call('get jobs_a/peek\r\n'), await c.call('status\r\n')];
    return [...stats, ...heads].join('\n');
  } finally {
    c.close();
  }
}

/** Commands of every family aimed at the queue `secret` (outside app's and reader's patterns). */
const OUT_OF_PATTERN: string[] = [
  'get secret\r\n',
  'get secret/open\r\n',
  'get secret/peek\r\n',
  'get secret/t=50\r\n',
  'gets secret\r\n',
  'get jobs_a secret\r\n', // one allowed key does not let the other through; jobs_a keeps its item
  'get secret.cur\r\n',
  'get secret.cur/open\r\n',
  'get secret.cur/peek\r\n',
  'set secret 0 0 1\r\nx\r\n',
  'set jobs_a+secret 0 0 1\r\nx\r\n', // fanout: every target must be allowed
  'delete secret\r\n',
  'delete secret.cur\r\n',
  'flush secret\r\n',
  'flush secret.cur\r\n',
  'flush_expired secret\r\n',
  'monitor secret 1\r\n',
  'confirm secret 1\r\n',
  'flush_all\r\n',
  'flush_all_expired\r\n',
  'stats\r\n',
  'dump_stats\r\n',
  'status READONLY\r\n',
  'reload\r\n',
  'shutdown\r\n',
];

let before = '';
beforeAll(async () => {
  const admin = await textLogin(fx.server.port, USERS.admin);
  for (const v of ['s1', 's2']) expect(await admin.call(setCmd('secret', v))).toBe('STORED\r\n');
  for (const v of ['a1', 'a2']) expect(await admin.call(setCmd('jobs_a', v))).toBe('STORED\r\n');
  expect(await admin.call('get secret.cur\r\n')).toBe(value('secret', 's1')); // the cursor exists, at s2
  admin.close();
  before = await snapshot();
});

describe('before authentication', () => {
  it('every text command family is refused and the connection closed; nothing changes', async () => {
    const sent = OUT_OF_PATTERN.filter((cmd) => !cmd.startsWith('set ')).concat(['get jobs_a\r\n', 'verbosity 1\r\n', 'status\r\n']);
    const replies = await Promise.all(
      sent.map(async (cmd) => {
        const c = await TextClient.connect(fx.server.port);
        c.send(cmd);
        return c.readToClose();
      }),
    );
    for (const [i, reply] of replies.entries()) expect(reply, sent[i]).toBe('CLIENT_ERROR unauthenticated\r\n');
    expect(await snapshot()).toBe(before);
  });

  it('a set is an authentication attempt: without valid credentials it fails and stores nothing', async () => {
    const sets = ['set secret 0 0 1\r\nx\r\n', 'set jobs_a+secret 0 0 3\r\na b\r\n'];
    const replies = await Promise.all(
      sets.map(async (cmd) => {
        const c = await TextClient.connect(fx.server.port);
        c.send(cmd);
        return c.readToClose();
      }),
    );
    expect(replies).toEqual(['CLIENT_ERROR authentication failure\r\n', 'CLIENT_ERROR authentication failure\r\n']);
    expect(await snapshot()).toBe(before);
  });

  it('every binary opcode but SASL, VERSION and NOOP gets status 0x20 and the connection closes', async () => {
    const requests = [
      packet({ opcode: Op.GET, key: 'secret' }),
      packet({ opcode: Op.GETQ, key: 'secret' }),
      packet({ opcode: Op.GETK, key: 'secret.cur' }),
      packet({ opcode: Op.SET, key: 'secret', extras: setExtras(), value: 'x' }),
      packet({ opcode: Op.SETQ, key: 'jobs_a+secret', extras: setExtras(), value: 'x' }),
      packet({ opcode: Op.DELETE, key: 'secret' }),
      packet({ opcode: Op.FLUSH }),
      packet({ opcode: Op.STAT }),
    ];
    const results = await Promise.all(
      requests.map(async (req) => {
        const c = await BinaryClient.connect(fx.server.port);
        c.send(req);
        return c.readToClose();
      }),
    );
    for (const { responses } of results) expect(responses.map((r) => r.status)).toEqual([AUTH_ERROR]);
    expect(await snapshot()).toBe(before);
  });
});

describe('outside the user’s patterns', () => {
  it('every text command family is refused with `CLIENT_ERROR access denied`; the connection stays; nothing changes', async () => {
    const c = await textLogin(fx.server.port, USERS.app);
    for (const cmd of OUT_OF_PATTERN) expect(await c.call(cmd), cmd).toBe(DENIED);
    expect(await c.call('status\r\n')).toBe('UP\r\n'); // reading the status is open to every user
    expect(await c.call('version\r\n')).toMatch(/^VERSION /);
    c.close();
    expect(await snapshot()).toBe(before);
  });

  it('every binary opcode is refused with status 0x24 (quiet ones too)', async () => {
    const c = await binaryLogin(fx.server.port, USERS.app);
    const requests = [
      { opcode: Op.GET, key: 'secret' },
      { opcode: Op.GETK, key: 'secret/peek' },
      { opcode: Op.GETQ, key: 'secret.cur' },
      { opcode: Op.SET, key: 'secret', extras: setExtras(), value: 'x' },
      { opcode: Op.SETQ, key: 'jobs_a+secret', extras: setExtras(), value: 'x' },
      { opcode: Op.DELETE, key: 'secret' },
      { opcode: Op.DELETEQ, key: 'secret.cur' },
      { opcode: Op.FLUSH },
      { opcode: Op.FLUSHQ },
      { opcode: Op.STAT },
    ];
    for (const req of requests) expect((await c.call(req)).status, `opcode ${req.opcode}`).toBe(ACCESS_DENIED);
    expect(await snapshot()).toBe(before);
    expect((await c.set('jobs_bin', 'ok')).status).toBe(0); // the connection stays, and works in its patterns
    expect((await c.get('jobs_bin')).value.toString()).toBe('ok');
    c.close();
  });

  it('inside them the user works normally: queues matching a glob, an exact name, a fanout across both', async () => {
    const c = await textLogin(fx.server.port, USERS.app);
    expect(await c.call(setCmd('jobs_x+mail', 'both'))).toBe('STORED\r\n');
    expect(await c.call('get jobs_x\r\n')).toBe(value('jobs_x', 'both'));
    expect(await c.call('get mail.c/open\r\n')).toBe(value('mail', 'both')); // cursors follow their queue
    expect(await c.call('get mail.c/close\r\n')).toBe('END\r\n');
    expect(await c.call('delete mail.c\r\n')).toBe('DELETED\r\n');
    expect(await c.call('get mail\r\n')).toBe(value('mail', 'both'));
    expect(await c.call('flush jobs_x\r\n')).toBe('END\r\n');
    c.close();
  });
});

describe('read-only users', () => {
  it('peek at queues and read cursors in their patterns; everything else is refused', async () => {
    const c = await textLogin(fx.server.port, USERS.reader);
    expect(await c.call('get jobs_a/peek\r\n')).toBe(value('jobs_a', 'a1'));
    expect(await c.call('get jobs_a.rc\r\n')).toBe(value('jobs_a', 'a1'));
    expect(await c.call('get jobs_a.rc/open\r\n')).toBe(value('jobs_a', 'a2'));
    expect(await c.call('get jobs_a.rc/abort\r\n')).toBe('END\r\n');
    const refused = [
      'get jobs_a\r\n',
      'get jobs_a/open\r\n',
      'get jobs_a/close\r\n',
      'gets jobs_a\r\n',
      'set jobs_a 0 0 1\r\nx\r\n',
      'delete jobs_a\r\n',
      'delete jobs_a.rc\r\n',
      'flush jobs_a\r\n',
      'flush jobs_a.rc\r\n',
      'flush_expired jobs_a\r\n',
      'monitor jobs_a 1\r\n',
      'confirm jobs_a 1\r\n',
      'get secret/peek\r\n',
      'stats\r\n',
    ];
    for (const cmd of refused) expect(await c.call(cmd), cmd).toBe(DENIED);
    c.close();
    const admin = await textLogin(fx.server.port, USERS.admin);
    expect(await admin.call('get jobs_a/peek\r\n')).toBe(value('jobs_a', 'a1')); // nothing consumed
    admin.close();
  });

  it('`*:ro` may read stats but not change the server', async () => {
    const c = await textLogin(fx.server.port, USERS.watcher);
    expect(await c.call('stats\r\n')).toMatch(/^STAT uptime \d+\r\n[\s\S]*STAT cmd_denied [1-9]\d*\r\n[\s\S]*END\r\n$/);
    expect(await c.call('dump_stats\r\n')).toMatch(/END\r\n$/);
    for (const cmd of ['flush_all\r\n', 'status QUIESCENT\r\n', 'reload\r\n', 'get secret\r\n'])
      expect(await c.call(cmd), cmd).toBe(DENIED);
    expect(await c.call('get secret/peek\r\n')).toBe(value('secret', 's1'));
    c.close();
  });
});
