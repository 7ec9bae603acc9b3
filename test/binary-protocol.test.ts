// The memcache binary protocol (docs/protocol.md#binary-protocol) end to end: raw packets over TCP to a real server
// process, plus Debian's pylibmc in binary mode. Semantics are those of docs/protocol.md#adding-items-set–docs/protocol.md#reliable-reads (keys use the text
// syntax); the text protocol is used to cross-check.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { BinaryClient, flagsOf, getPacket, Op, packet, type Response, setExtras, setPacket, St } from './helpers/binaryClient.js';
import { useInProcessServer } from './helpers/inProcess.js';
import { waitForWaiters } from './helpers/stats.js';
import { setCmd } from './helpers/textClient.js';

const SCRIPTS = resolve(import.meta.dirname, 'clients');
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const MiB = 1024 * 1024;
/** The framing's default max_item_size (docs/protocol.md#queue-limits-expiry-and-configuration). */
const DEFAULT_MAX_ITEM = 16 * MiB;

const fx = useInProcessServer({
  config: { queues: { small: { max_items: 1 }, tiny: { max_item_size: 1024 } } },
  tmpPrefix: 'siberite-binary-config-',
});

const bin = async (): Promise<BinaryClient> => fx.track(await BinaryClient.connect(fx.server.port));
const text = () => fx.connect();

function expectHit(r: Response, value: string | Buffer, flags = 0): void {
  expect(r.magic).toBe(0x81);
  expect(r.status).toBe(St.OK);
  expect(r.extrasLength).toBe(4);
  expect(flagsOf(r)).toBe(flags >>> 0);
  expect(r.value.equals(typeof value === 'string' ? Buffer.from(value, 'latin1') : value)).toBe(true);
}

function expectMiss(r: Response): void {
  expect(r.magic).toBe(0x81);
  expect(r.status).toBe(St.KEY_NOT_FOUND);
  expect(r.extrasLength).toBe(0);
}

function expectOk(r: Response, opcode: number): void {
  expect(r.magic).toBe(0x81);
  expect(r.opcode).toBe(opcode);
  expect(r.status).toBe(St.OK);
}

/** A NOOP round trip: proves the connection is open and everything before it was answered. */
async function noop(c: BinaryClient): Promise<void> {
  const r = await c.call({ opcode: Op.NOOP });
  expectOk(r, Op.NOOP);
  expect(r.bodyLength).toBe(0);
}

/** Sends `requests` then a NOOP; returns every reply before the NOOP's. */
async function withNoop(c: BinaryClient, requests: Buffer[]): Promise<Response[]> {
  const opaque = c.opaque();
  c.send([...requests, packet({ opcode: Op.NOOP, opaque })]);
  const all = await c.readThrough(Op.NOOP, requests.length + 1);
  const last = all.pop()!;
  expect(last.opaque).toBe(opaque);
  expect(last.status).toBe(St.OK);
  return all;
}

function vmRssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s*kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m ? Number(m[1]) * 1024 : 0;
}

describe('basic opcodes', () => {
  it('SET then GET: FIFO order, status 0, 4-byte flags as extras, opaque and opcode echoed', async () => {
    const c = await bin();
    for (let i = 0; i < 3; i++) {
      const r = await c.call({ opcode: Op.SET, key: 'fifo', extras: setExtras(i), value: `item-${i}`, opaque: 0xdead0000 + i });
      expectOk(r, Op.SET);
      expect(r.opaque).toBe(0xdead0000 + i);
      expect(r.bodyLength).toBe(0);
    }
    for (let i = 0; i < 3; i++) {
      const r = await c.call({ opcode: Op.GET, key: 'fifo', opaque: 0xbeef0000 + i });
      expect(r.opcode).toBe(Op.GET);
      expect(r.opaque).toBe(0xbeef0000 + i);
      expect(r.keyLength).toBe(0); // GET does not echo the key
      expectHit(r, `item-${i}`, i);
    }
    const miss = await c.call({ opcode: Op.GET, key: 'fifo', opaque: 0xffffffff });
    expect(miss.opaque).toBe(0xffffffff);
    expect(miss.opcode).toBe(Op.GET);
    expectMiss(miss);
  });

  it('flags are the full unsigned 32 bits; binary-safe and empty values', async () => {
    const c = await bin();
    const blob = Buffer.alloc(70_000);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 31 + 7) & 0xff;
    blob.write('\r\nEND\r\n', 1000, 'latin1');
    expectOk(await c.set('bits', blob, 0xffffffff), Op.SET);
    expectOk(await c.set('bits', '', 0x80000001), Op.SET);
    expectHit(await c.get('bits'), blob, 0xffffffff);
    const empty = await c.get('bits');
    expectHit(empty, '', 0x80000001);
    expect(empty.bodyLength).toBe(4);
    expectMiss(await c.get('bits'));
  });

  it('SET extras carry the exptime (Kestrel rule): past absolute time never served; relative and future kept', async () => {
    const c = await bin();
    const now = Math.floor(Date.now() / 1000);
    expectOk(await c.set('expq', 'past', 1, now - 100), Op.SET);
    expectOk(await c.set('expq', 'relative', 2, 3600), Op.SET);
    expectOk(await c.set('expq', 'future', 3, now + 3600), Op.SET);
    expectHit(await c.get('expq'), 'relative', 2);
    expectHit(await c.get('expq'), 'future', 3);
    expectMiss(await c.get('expq'));
  });

  it('GETK echoes the key exactly as sent, on a hit and on a miss', async () => {
    const c = await bin();
    expectOk(await c.set('gk', 'v', 9), Op.SET);
    const hit = await c.get('gk', Op.GETK);
    expect(hit.opcode).toBe(Op.GETK);
    expectHit(hit, 'v', 9);
    expect(hit.key).toBe('gk');
    const miss = await c.get('gk/t=0', Op.GETK);
    expect(miss.opcode).toBe(Op.GETK);
    expectMiss(miss);
    expect(miss.key).toBe('gk/t=0');
  });

  it('GETQ and GETKQ: a hit is sent, a miss is silent', async () => {
    const c = await bin();
    expectOk(await c.set('gq', 'a', 1), Op.SET);
    expectOk(await c.set('gq', 'b', 2), Op.SET);
    const replies = await withNoop(c, [
      getPacket('gq', Op.GETQ, 11),
      getPacket('gq', Op.GETKQ, 12),
      getPacket('gq', Op.GETQ, 13),
      getPacket('gq', Op.GETKQ, 14),
    ]);
    expect(replies).toHaveLength(2);
    expect(replies[0]!.opcode).toBe(Op.GETQ);
    expect(replies[0]!.opaque).toBe(11);
    expect(replies[0]!.keyLength).toBe(0);
    expectHit(replies[0]!, 'a', 1);
    expect(replies[1]!.opcode).toBe(Op.GETKQ);
    expect(replies[1]!.opaque).toBe(12);
    expect(replies[1]!.key).toBe('gq');
    expectHit(replies[1]!, 'b', 2);
  });

  it('pipelined GETKQ × n over full and empty queues, ended by NOOP: only the hits, in order, then the NOOP', async () => {
    const c = await bin();
    const full = ['pq0', 'pq2', 'pq3', 'pq7'];
    for (const q of full) expectOk(await c.set(q, `value-of-${q}`, q.charCodeAt(2)), Op.SET);
    const keys = Array.from({ length: 10 }, (_, i) => `pq${i}`);
    const replies = await withNoop(
      c,
      keys.map((k, i) => getPacket(k, Op.GETKQ, 500 + i)),
    );
    expect(replies.map((r) => r.key)).toEqual(full);
    for (const r of replies) {
      expect(r.opcode).toBe(Op.GETKQ);
      expect(r.opaque).toBe(500 + Number(r.key.slice(2)));
      expectHit(r, `value-of-${r.key}`, r.key.charCodeAt(2));
    }
    // They were plain gets: the items are gone.
    expect(
      await withNoop(
        c,
        keys.map((k) => getPacket(k, Op.GETKQ)),
      ),
    ).toEqual([]);
  });

  it('SETQ is silent on success, but a failure is still reported', async () => {
    const c = await bin();
    const replies = await withNoop(c, [
      setPacket('sq', 'one', { quiet: true, opaque: 1 }),
      setPacket('sq', 'two', { quiet: true, opaque: 2 }),
      setPacket('small', 'fits', { quiet: true, opaque: 3 }),
      setPacket('small', 'full', { quiet: true, opaque: 4 }), // max_items 1
      setPacket('sq.cur', 'x', { quiet: true, opaque: 5 }), // cannot set to a cursor
    ]);
    expect(replies).toHaveLength(2);
    expect(replies[0]!.opcode).toBe(Op.SETQ);
    expect(replies[0]!.opaque).toBe(4);
    expect(replies[0]!.status).toBe(St.NOT_STORED);
    expect(replies[1]!.opcode).toBe(Op.SETQ);
    expect(replies[1]!.opaque).toBe(5);
    expect(replies[1]!.status).not.toBe(St.OK);
    expect(replies[1]!.value.toString()).toContain('cannot set to a cursor');
    expectHit(await c.get('sq'), 'one');
    expectHit(await c.get('sq'), 'two');
    expectHit(await c.get('small'), 'fits');
    expectMiss(await c.get('small'));
  });

  it('queue full → 0x0005 (item not stored); a slot freed accepts again', async () => {
    const c = await bin();
    expectOk(await c.set('small', 'first'), Op.SET);
    const full = await c.set('small', 'second');
    expect(full.opcode).toBe(Op.SET);
    expect(full.status).toBe(St.NOT_STORED);
    await noop(c); // connection stays open
    expectHit(await c.get('small'), 'first');
    expectOk(await c.set('small', 'third'), Op.SET);
    expectHit(await c.get('small'), 'third');
  });

  it('DELETE / DELETEQ: existing → 0 (DELETEQ silent), missing → 0x0001 (also for DELETEQ)', async () => {
    const c = await bin();
    expectOk(await c.set('del1', 'x'), Op.SET);
    expectOk(await c.set('del2', 'y'), Op.SET);
    const d = await c.call({ opcode: Op.DELETE, key: 'del1' });
    expectOk(d, Op.DELETE);
    const again = await c.call({ opcode: Op.DELETE, key: 'del1' });
    expect(again.opcode).toBe(Op.DELETE);
    expect(again.status).toBe(St.KEY_NOT_FOUND);
    const replies = await withNoop(c, [
      packet({ opcode: Op.DELETEQ, key: 'del2', opaque: 21 }),
      packet({ opcode: Op.DELETEQ, key: 'del2', opaque: 22 }),
    ]);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.opcode).toBe(Op.DELETEQ);
    expect(replies[0]!.opaque).toBe(22);
    expect(replies[0]!.status).toBe(St.KEY_NOT_FOUND);
    expectMiss(await c.get('del1'));
    expectMiss(await c.get('del2'));
  });

  it('NOOP and VERSION (numeric semver ≥ 1.0.0)', async () => {
    const c = await bin();
    await noop(c);
    const v = await c.call({ opcode: Op.VERSION, opaque: 77 });
    expectOk(v, Op.VERSION);
    expect(v.opaque).toBe(77);
    expect(v.extrasLength).toBe(0);
    expect(v.keyLength).toBe(0);
    const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v.value.toString());
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(1);
  });

  it('STAT: one packet per stat (key = name, value = value), then an empty one, all echoing the opaque', async () => {
    const c = await bin();
    expectOk(await c.set('statq', 'a'), Op.SET);
    expectOk(await c.set('statq', 'b'), Op.SET);
    const { stats, packets } = await c.stats();
    const opaque = packets[0]!.opaque;
    for (const p of packets) {
      expect(p.opcode).toBe(Op.STAT);
      expect(p.status).toBe(St.OK);
      expect(p.opaque).toBe(opaque);
      expect(p.extrasLength).toBe(0);
    }
    const names = [...stats.keys()];
    expect(names.slice(0, 4)).toEqual(['uptime', 'time', 'version', 'pid']);
    expect(stats.get('version')).toMatch(/^siberite-\d+\.\d+\.\d+/);
    expect(stats.get('pid')).toBe(String(fx.server.pid));
    expect(stats.get('queue_statq_items')).toBe('2');
    expect(Number(stats.get('curr_connections'))).toBeGreaterThanOrEqual(1);
    // A STAT with a key (a stats group) is answered with all stats too.
    c.send(packet({ opcode: Op.STAT, key: 'items', opaque: 5 }));
    for (let i = 0; i < 100_000; i++) {
      const p = await c.read();
      expect(p.opcode).toBe(Op.STAT);
      expect(p.opaque).toBe(5);
      if (p.bodyLength === 0) break;
    }
    await noop(c);
  });

  it('FLUSH and FLUSHQ, with and without 4 bytes of expiry extras, empty every queue', async () => {
    const c = await bin();
    const fill = async () => {
      expectOk(await c.set('fl_a', '1'), Op.SET);
      expectOk(await c.set('fl_b', '2'), Op.SET);
    };
    const empty = async () => {
      expectMiss(await c.get('fl_a'));
      expectMiss(await c.get('fl_b'));
    };
    await fill();
    expectOk(await c.call({ opcode: Op.FLUSH }), Op.FLUSH);
    await empty();
    await fill();
    const withExpiry = Buffer.alloc(4);
    withExpiry.writeUInt32BE(30, 0);
    expectOk(await c.call({ opcode: Op.FLUSH, extras: withExpiry }), Op.FLUSH);
    await empty();
    await fill();
    expect(await withNoop(c, [packet({ opcode: Op.FLUSHQ, opaque: 3 })])).toEqual([]);
    await empty();
    await fill();
    expect(await withNoop(c, [packet({ opcode: Op.FLUSHQ, extras: withExpiry, opaque: 4 })])).toEqual([]);
    await empty();
  });

  it('QUIT answers then closes; QUITQ closes silently; later packets are not answered', async () => {
    const c = await bin();
    c.send([packet({ opcode: Op.QUIT, opaque: 9 }), packet({ opcode: Op.NOOP, opaque: 10 })]);
    const { responses, rest } = await c.readToClose();
    expect(rest.length).toBe(0);
    expect(responses).toHaveLength(1);
    expectOk(responses[0]!, Op.QUIT);
    expect(responses[0]!.opaque).toBe(9);

    const q = await bin();
    q.send([packet({ opcode: Op.QUITQ, opaque: 11 }), packet({ opcode: Op.NOOP, opaque: 12 })]);
    const quiet = await q.readToClose();
    expect(quiet.responses).toEqual([]);
    expect(quiet.rest.length).toBe(0);
  });
});

describe('errors', () => {
  it('unknown opcodes → 0x0081 with the opaque echoed; the body is skipped and the connection stays open', async () => {
    const c = await bin();
    const unknown = [
      { opcode: Op.ADD, key: 'uq', extras: setExtras(), value: 'add-value' },
      { opcode: Op.REPLACE, key: 'uq', extras: setExtras(), value: 'x' },
      { opcode: Op.INCREMENT, key: 'uq', extras: Buffer.alloc(20) },
      { opcode: Op.APPEND, key: 'uq', value: 'tail' },
      { opcode: 0x42, value: Buffer.alloc(3000, 0x80) }, // a body full of request magic bytes
      { opcode: 0xff },
    ];
    for (const [i, r] of unknown.entries()) {
      const res = await c.call({ ...r, opaque: 0xa000 + i });
      expect(res.magic).toBe(0x81);
      expect(res.opcode).toBe(r.opcode);
      expect(res.opaque).toBe(0xa000 + i);
      expect(res.status).toBe(St.UNKNOWN_COMMAND);
    }
    await noop(c);
    expectMiss(await c.get('uq')); // none of them stored anything
  });

  it('an unknown opcode is answered from its header; its body, arriving later, is skipped', async () => {
    const c = await bin();
    const body = Buffer.alloc(5000, 0x80);
    const whole = packet({ opcode: Op.ADD, key: 'uq2', extras: setExtras(), value: body, opaque: 0xab });
    c.send(whole.subarray(0, 24));
    const r = await c.read();
    expect(r.opaque).toBe(0xab);
    expect(r.status).toBe(St.UNKNOWN_COMMAND);
    c.send(whole.subarray(24, 1000));
    c.send([whole.subarray(1000), setPacket('uq2', 'after', { opaque: 0xac })]);
    const s = await c.read();
    expect(s.opaque).toBe(0xac);
    expectOk(s, Op.SET);
    expectHit(await c.get('uq2'), 'after');
  });

  const badPackets: Array<[string, Buffer]> = [
    ['GET with extras', packet({ opcode: Op.GET, key: 'bp', extras: Buffer.alloc(4) })],
    ['GET without a key', packet({ opcode: Op.GET })],
    ['GET with a value', packet({ opcode: Op.GET, key: 'bp', value: 'v' })],
    ['SET with 4 bytes of extras', packet({ opcode: Op.SET, key: 'bp', extras: Buffer.alloc(4), value: 'v' })],
    ['SET without a key', packet({ opcode: Op.SET, extras: setExtras(), value: 'v' })],
    ['key + extras longer than the body', packet({ opcode: Op.GET, key: 'bpkey', bodyLength: 2 })],
    ['NOOP with a body', packet({ opcode: Op.NOOP, value: 'x' })],
    ['FLUSH with 3 bytes of extras', packet({ opcode: Op.FLUSH, extras: Buffer.alloc(3) })],
  ];
  it.each(badPackets)('bad packet (%s) → 0x0004 and close; pipelined packets behind it are dropped', async (_name, bad) => {
    const c = await bin();
    bad.writeUInt32BE(0x5150, 12);
    c.send([bad, setPacket('bp', 'must-not-be-stored'), packet({ opcode: Op.NOOP })]);
    const { responses, rest } = await c.readToClose();
    expect(rest.length).toBe(0);
    expect(responses).toHaveLength(1);
    expect(responses[0]!.magic).toBe(0x81);
    expect(responses[0]!.opcode).toBe(bad[1]);
    expect(responses[0]!.opaque).toBe(0x5150);
    expect(responses[0]!.status).toBe(St.INVALID_ARGUMENTS);
    const check = await bin();
    expectMiss(await check.get('bp'));
  });

  it('a later packet with the wrong magic → 0x0004 and close', async () => {
    const c = await bin();
    expectOk(await c.set('bm', 'x'), Op.SET);
    c.send([packet({ opcode: Op.GET, key: 'bm', magic: 0x81 }), getPacket('bm')]);
    const { responses } = await c.readToClose();
    expect(responses).toHaveLength(1);
    expect(responses[0]!.status).toBe(St.INVALID_ARGUMENTS);
    const check = await bin();
    expectHit(await check.get('bm'), 'x'); // the get behind it never ran
  });

  it('text bytes after binary packets: 0x0004 and close (never a hang)', async () => {
    const c = await bin();
    c.send([packet({ opcode: Op.NOOP, opaque: 1 }), Buffer.from('get q\r\n')]);
    const { responses } = await c.readToClose();
    expect(responses.map((r) => r.status)).toEqual([St.OK, St.INVALID_ARGUMENTS]);
  });

  it('bad keys and bad get options are errors that keep the connection open', async () => {
    const c = await bin();
    for (const key of ['a.b.c', 'q/opne', 'q/t=', 'q/abort/open', 'q/peek/open', 'x'.repeat(251), 'sp ace']) {
      const r = await c.get(key);
      expect(r.opcode).toBe(Op.GET);
      expect([St.OK, St.KEY_NOT_FOUND]).not.toContain(r.status);
      await noop(c);
    }
    for (const key of ['bad/name', 'a.b.c', 'x'.repeat(251), 'caf\xe9']) {
      const r = await c.set(key, Buffer.alloc(300, 0x80)); // the value is skipped, not parsed
      expect(r.opcode).toBe(Op.SET);
      expect([St.OK, St.KEY_NOT_FOUND]).not.toContain(r.status);
      await noop(c);
    }
    // Errors are reported by quiet gets too.
    const replies = await withNoop(c, [getPacket('q/opne', Op.GETKQ, 1), getPacket('nothing_here', Op.GETQ, 2)]);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.opaque).toBe(1);
    expect([St.OK, St.KEY_NOT_FOUND]).not.toContain(replies[0]!.status);
  });

  it("a value over the queue's max_item_size → 0x0003; connection stays open", async () => {
    const c = await bin();
    const big = await c.set('tiny', Buffer.alloc(1025, 1));
    expect(big.opcode).toBe(Op.SET);
    expect(big.status).toBe(St.VALUE_TOO_LARGE);
    await noop(c);
    expectOk(await c.set('tiny', Buffer.alloc(1024, 2)), Op.SET);
    expectHit(await c.get('tiny'), Buffer.alloc(1024, 2));
    expectMiss(await c.get('tiny'));
  });

  it('a value just over the framing limit (16 MiB + 1) is read and discarded → 0x0003; connection stays open', async () => {
    const c = await bin();
    const value = Buffer.alloc(DEFAULT_MAX_ITEM + 1, 0x61);
    const r = await c.call({ opcode: Op.SET, key: 'huge', extras: setExtras(), value });
    expect(r.status).toBe(St.VALUE_TOO_LARGE);
    await noop(c);
    expectMiss(await c.get('huge'));
  });

  it('a declared body far beyond max_item_size → 0x0003 and close from the header alone, nothing allocated', async () => {
    const pid = fx.server.pid;
    const before = vmRssBytes(pid);
    for (const opcode of [Op.SET, Op.GET, Op.SETQ, 0x42]) {
      const c = await bin();
      // Only the 24 header bytes are sent: the reply must not wait for the 4 GiB body.
      c.send(packet({ opcode, keyLength: 3, extrasLength: opcode === Op.GET ? 0 : 8, bodyLength: 0xffffffff, opaque: 0x77 }));
      const { responses, rest } = await c.readToClose();
      expect(rest.length).toBe(0);
      expect(responses).toHaveLength(1);
      expect(responses[0]!.status).toBe(St.VALUE_TOO_LARGE);
      expect(responses[0]!.opaque).toBe(0x77);
    }
    const c = await bin();
    c.send(packet({ opcode: Op.SET, key: 'far', extras: setExtras(), bodyLength: 1024 * MiB }));
    c.send(Buffer.alloc(64 * 1024, 0x61)); // a start of the body: still refused, still closed
    const { responses } = await c.readToClose();
    expect(responses.map((r) => r.status)).toEqual([St.VALUE_TOO_LARGE]);
    // Loose: an earlier test's 16 MiB buffers may still be collected; a 1–4 GiB body would not fit.
    const after = vmRssBytes(pid);
    expect(after - before).toBeLessThan(256 * MiB);
    await noop(await bin()); // the server is fine
  });

  it('a truncated header waits for the rest (no reply, no close); the connection can finish it', async () => {
    const c = await bin();
    const set = setPacket('trunc', 'whole', { flags: 5, opaque: 0x1234 });
    c.send(set.subarray(0, 10));
    // Let the server see the fragment: a round trip on another connection, then a short grace.
    await noop(await bin());
    await new Promise((r) => setTimeout(r, 50));
    expect(c.pending).toBe(0);
    expect(c.closed).toBe(false);
    c.send(set.subarray(10, 30)); // header complete, body partial
    await noop(await bin());
    expect(c.pending).toBe(0);
    c.send(set.subarray(30));
    const r = await c.read();
    expectOk(r, Op.SET);
    expect(r.opaque).toBe(0x1234);
    expectHit(await c.get('trunc'), 'whole', 5);
  });

  it('packets split at every byte across separate writes are reassembled', async () => {
    const c = await bin();
    const stream = Buffer.concat([
      setPacket('split', 'abc', { flags: 3, opaque: 1 }),
      getPacket('split', Op.GETK, 2),
      packet({ opcode: Op.NOOP, opaque: 3 }),
    ]);
    for (let i = 0; i < stream.length; i++) {
      await new Promise<void>((res) => c.socket.write(stream.subarray(i, i + 1), () => res()));
    }
    const [s, g, n] = await c.readN(3);
    expectOk(s!, Op.SET);
    expect(g!.opaque).toBe(2);
    expect(g!.key).toBe('split');
    expectHit(g!, 'abc', 3);
    expectOk(n!, Op.NOOP);
  });
});

describe('queue syntax in keys', () => {
  it('reliable read: work/open, work/close, work/abort', async () => {
    const c = await bin();
    expectOk(await c.set('work', 'job-1'), Op.SET);
    expectOk(await c.set('work', 'job-2'), Op.SET);
    expectHit(await c.get('work/open'), 'job-1');
    // a second open on the same queue: max_open_transactions is 1
    const busy = await c.get('work/open');
    expect([St.OK, St.KEY_NOT_FOUND]).not.toContain(busy.status);
    expect(busy.value.toString()).toContain('Close current item first');
    // a plain get while an item is open is refused too
    const plain = await c.get('work');
    expect([St.OK, St.KEY_NOT_FOUND]).not.toContain(plain.status);
    // another connection sees job-2 only
    const other = await bin();
    expectHit(await other.get('work/peek'), 'job-2');
    expectMiss(await c.get('work/close')); // close returns nothing
    expectHit(await c.get('work/open'), 'job-2');
    expectMiss(await c.get('work/abort'));
    expectHit(await other.get('work/peek'), 'job-2'); // back at the head
    expectHit(await c.get('work/close/open'), 'job-2');
    expectMiss(await c.get('work/close/open'));
    expectMiss(await other.get('work'));
  });

  it("FLUSH drops this connection's open item: a plain get works again, a later /close is a no-op", async () => {
    const c = await bin();
    expectOk(await c.set('flo', 'held'), Op.SET);
    expectHit(await c.get('flo/open'), 'held');
    expectOk(await c.call({ opcode: Op.FLUSH }), Op.FLUSH);
    expectOk(await c.set('flo', 'next'), Op.SET);
    expectMiss(await c.get('flo/close'));
    expectHit(await c.get('flo'), 'next');
    expectMiss(await c.get('flo'));
  });

  it('an item open on a binary connection returns to the head when the connection closes', async () => {
    const c = await bin();
    expectOk(await c.set('rel', 'r1'), Op.SET);
    expectOk(await c.set('rel', 'r2'), Op.SET);
    expectHit(await c.get('rel/open'), 'r1');
    c.send(packet({ opcode: Op.QUIT }));
    await c.readToClose();
    const t = await text();
    expect(await t.call('get rel\r\n')).toBe('VALUE rel 0 2\r\nr1\r\nEND\r\n');
    expect(await t.call('get rel\r\n')).toBe('VALUE rel 0 2\r\nr2\r\nEND\r\n');
  });

  it('cursors: work.c reads without removing; DELETE of a cursor; SET to a cursor is refused', async () => {
    const c = await bin();
    for (let i = 0; i < 3; i++) expectOk(await c.set('cq', `c${i}`, i), Op.SET);
    expectHit(await c.get('cq.one'), 'c0', 0);
    expectHit(await c.get('cq.one'), 'c1', 1);
    expectHit(await c.get('cq.two'), 'c0', 0);
    expectHit(await c.get('cq.one/open'), 'c2', 2);
    expectMiss(await c.get('cq.one/close'));
    expectMiss(await c.get('cq.one'));
    expectHit(await c.get('cq'), 'c0', 0); // the queue still has every item
    expectOk(await c.call({ opcode: Op.DELETE, key: 'cq.two' }), Op.DELETE);
    expect((await c.call({ opcode: Op.DELETE, key: 'cq.two' })).status).toBe(St.KEY_NOT_FOUND);
    const refused = await c.set('cq.one', 'x');
    expect([St.OK, St.KEY_NOT_FOUND]).not.toContain(refused.status);
    expect(refused.value.toString()).toContain('cannot set to a cursor');
    await noop(c);
  });

  it('fanout SET a+b stores one copy in each queue (one reply)', async () => {
    const c = await bin();
    const r = await c.set('fan_a+fan_b+fan_a', 'shared', 17);
    expectOk(r, Op.SET);
    await noop(c); // exactly one reply came back
    expectHit(await c.get('fan_a'), 'shared', 17);
    expectMiss(await c.get('fan_a')); // duplicates store one copy
    expectHit(await c.get('fan_b'), 'shared', 17);
    const bad = await c.set('fan_a+fan_b.c', 'x');
    expect([St.OK, St.KEY_NOT_FOUND]).not.toContain(bad.status);
    expectMiss(await c.get('fan_a'));
  });

  it('/t=500 on an empty queue misses after ~500 ms (GETQ: silently)', async () => {
    const c = await bin();
    let t0 = performance.now();
    expectMiss(await c.get('blockq/t=500'));
    let waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(480);
    expect(waited).toBeLessThan(3000);
    t0 = performance.now();
    expect(await withNoop(c, [getPacket('blockq/t=300', Op.GETQ)])).toEqual([]);
    waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(280);
  });

  it('/t= wait is woken by a SET on another connection; later packets wait behind it', async () => {
    const c = await bin();
    c.send([getPacket('wakeq/t=5000', Op.GET, 1), packet({ opcode: Op.NOOP, opaque: 2 })]);
    await waitForWaiters(fx.server.port, 'wakeq', 1);
    expect(c.pending).toBe(0); // neither the get nor the NOOP behind it has been answered
    const t0 = performance.now();
    const setter = await bin();
    expectOk(await setter.set('wakeq', 'wake-up', 8), Op.SET);
    const [g, n] = await c.readN(2);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(g!.opaque).toBe(1);
    expectHit(g!, 'wake-up', 8);
    expect(n!.opaque).toBe(2);
    expectOk(n!, Op.NOOP);
  });

  it('a binary waiter that disconnects loses nothing: the next set goes to the next reader', async () => {
    const c = await bin();
    c.send(getPacket('dropq/t=10000', Op.GET, 1));
    await waitForWaiters(fx.server.port, 'dropq', 1);
    c.close();
    await waitForWaiters(fx.server.port, 'dropq', 0);
    const t = await text();
    expect(await t.call(setCmd('dropq', 'kept'))).toBe('STORED\r\n');
    expect(await t.call('get dropq\r\n')).toBe('VALUE dropq 0 4\r\nkept\r\nEND\r\n');
  });

  it('/open/t= waits, then holds the item open', async () => {
    const c = await bin();
    c.send(getPacket('wopen/open/t=5000', Op.GETK, 3));
    await waitForWaiters(fx.server.port, 'wopen', 1);
    const t = await text();
    expect(await t.call(setCmd('wopen', 'held', 4))).toBe('STORED\r\n');
    const r = await c.read();
    expect(r.key).toBe('wopen/open/t=5000');
    expectHit(r, 'held', 4);
    expect(await t.call('get wopen\r\n')).toBe('END\r\n'); // open, not served again
    expectMiss(await c.get('wopen/abort'));
    expect(await t.call('get wopen\r\n')).toBe('VALUE wopen 4 4\r\nheld\r\nEND\r\n');
  });
});

describe('binary and text interoperate', () => {
  it('set via binary, get via text; set via text, get via binary (flags both ways)', async () => {
    const c = await bin();
    const t = await text();
    expectOk(await c.set('inter', 'from-binary', 12345), Op.SET);
    expect(await t.call('get inter\r\n')).toBe('VALUE inter 12345 11\r\nfrom-binary\r\nEND\r\n');
    expect(await t.call(setCmd('inter', 'from-text\r\n!', 42))).toBe('STORED\r\n');
    const r = await c.get('inter');
    expectHit(r, 'from-text\r\n!', 42);
    expect(r.extras.equals(Buffer.from([0, 0, 0, 42]))).toBe(true);
    // A queue's items interleave in FIFO order whatever protocol wrote them.
    expectOk(await c.set('inter', 'b1'), Op.SET);
    expect(await t.call(setCmd('inter', 't1'))).toBe('STORED\r\n');
    expectOk(await c.set('inter', 'b2'), Op.SET);
    expect(await t.call('get inter\r\n')).toBe('VALUE inter 0 2\r\nb1\r\nEND\r\n');
    expectHit(await c.get('inter'), 't1');
    expect(await t.call('get inter\r\n')).toBe('VALUE inter 0 2\r\nb2\r\nEND\r\n');
    expectMiss(await c.get('inter'));
  });

  it('a binary FLUSH is seen by text, a text delete by binary', async () => {
    const c = await bin();
    const t = await text();
    expect(await t.call(setCmd('inter2', 'x'))).toBe('STORED\r\n');
    expectOk(await c.call({ opcode: Op.FLUSH }), Op.FLUSH);
    expect(await t.call('get inter2\r\n')).toBe('END\r\n');
    expectOk(await c.set('inter3', 'y'), Op.SET);
    expect(await t.call('delete inter3\r\n')).toBe('DELETED\r\n');
    // The queue is gone (a get would create it again, docs/protocol.md#server-commands).
    expect((await c.call({ opcode: Op.DELETE, key: 'inter3' })).status).toBe(St.KEY_NOT_FOUND);
    expectMiss(await c.get('inter3'));
  });

  it('many pipelined SETs and GETs in one write: replies in request order', async () => {
    const c = await bin();
    const n = 200;
    const reqs: Buffer[] = [];
    for (let i = 0; i < n; i++) reqs.push(setPacket('pipe', `p${i}`, { flags: i, opaque: i }));
    for (let i = 0; i < n; i++) reqs.push(getPacket('pipe', Op.GET, n + i));
    reqs.push(getPacket('pipe', Op.GET, 2 * n));
    c.send(reqs);
    const replies = await c.readN(2 * n + 1);
    replies.forEach((r, i) => expect(r.opaque).toBe(i));
    for (let i = 0; i < n; i++) expectOk(replies[i]!, Op.SET);
    for (let i = 0; i < n; i++) expectHit(replies[n + i]!, `p${i}`, i);
    expectMiss(replies[2 * n]!);
  });
});

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], timeoutMs = 15_000): Promise<RunResult> {
  return new Promise((res) => {
    execFile(file, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      res({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

describe('python3-pylibmc (binary protocol)', () => {
  it('FIFO, empty → None, binary values, flags via int and pickle, /open + /close + /abort via the key', async () => {
    const r = await run(PYTHON, [join(SCRIPTS, 'pylibmc_binary.py'), String(fx.server.port)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      set: [true, true, true],
      fifo: ['v0', 'v1', 'v2'],
      empty: null,
      binary_ok: true,
      int: 42,
      pickled: { a: [1, 2] },
      open: 'job-1',
      close: null,
      after_close: 'job-2',
      abort: null,
      after_abort: 'job-2',
      final_close: null,
      drained: null,
    });
  });
});
