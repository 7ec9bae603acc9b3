// Pure unit tests of the memcache binary framing (docs/protocol.md#binary-protocol): bytes → Commands, Replies → packets.
import { describe, it, expect } from 'vitest';
import memjs from 'memjs';
import { BinaryFraming } from '../src/protocol/binary.js';
import { Opcode, Status, type BinaryTag } from '../src/protocol/binaryWire.js';
import { clientError, serverError, type Command, type Reply } from '../src/protocol/command.js';
import { RECORD_HEADROOM } from '../src/store/layout.js';
import { packet, parseResponse, type Request, type Response, setExtras } from './helpers/binaryClient.js';
import { encoded } from './helpers/encode.js';

const MAX_ITEM = 1024;

/** Key, extras, value and header overrides of a request. */
type Req = Omit<Request, 'opcode'>;

/** A request packet (see packet()). */
const req = (opcode: number, r: Req = {}): Buffer => packet({ opcode, ...r });

/** Splits response bytes into packets; every byte must belong to a whole packet. */
function packets(out: Buffer): Response[] {
  let rest = out;
  const list: Response[] = [];
  while (rest.length > 0) {
    const p = parseResponse(rest);
    expect(p, `${rest.length} bytes left that are not a whole packet`).not.toBeNull();
    list.push(p!.response);
    rest = p!.rest;
  }
  return list;
}

function one(out: Buffer): Response {
  const list = packets(out);
  expect(list).toHaveLength(1);
  return list[0]!;
}

function framing(): BinaryFraming {
  return new BinaryFraming({ maxItemSize: MAX_ITEM });
}

/** Pushes `bytes` and returns every command that comes out. */
function parse(bytes: Buffer, f = framing()): Command[] {
  f.push(bytes);
  const out: Command[] = [];
  for (let c = f.next(); c !== null; c = f.next()) out.push(c);
  return out;
}

function parseOne(bytes: Buffer, f = framing()): Command {
  const list = parse(bytes, f);
  expect(list).toHaveLength(1);
  return list[0]!;
}

function tag(c: Command): BinaryTag {
  return c.tag as BinaryTag;
}

function hit(data: string, flags = 0, cas?: number): Reply {
  return { kind: 'values', values: [{ key: 'q', flags, data: Buffer.from(data), ...(cas === undefined ? {} : { cas }) }] };
}
const MISS: Reply = { kind: 'values', values: [] };

describe('binary framing: requests to commands', () => {
  it('GET, GETQ, GETK, GETKQ parse the key with the text key syntax', () => {
    for (const op of [Opcode.GET, Opcode.GETQ, Opcode.GETK, Opcode.GETKQ]) {
      const c = parseOne(req(op, { key: 'work/open/t=500', opaque: 77 }));
      expect(c.kind).toBe('get');
      if (c.kind !== 'get') continue;
      expect(c.cas).toBe(false);
      expect(c.keys).toHaveLength(1);
      expect(c.keys[0]).toMatchObject({ raw: 'work/open/t=500', queue: 'work', open: true, timeoutMs: 500 });
      expect(tag(c)).toMatchObject({
        opcode: op,
        opaque: 77,
        quiet: op === Opcode.GETQ || op === Opcode.GETKQ,
        withKey: op === Opcode.GETK || op === Opcode.GETKQ,
        key: 'work/open/t=500',
      });
    }
  });

  it('GET of a cursor', () => {
    const c = parseOne(req(Opcode.GET, { key: 'q.c/peek' }));
    expect(c).toMatchObject({ kind: 'get', keys: [{ queue: 'q', cursor: 'c', peek: true }] });
  });

  it('GET with a bad key or a bad option is a client error that keeps the connection open', () => {
    const f = framing();
    const [bad, opt, good] = parse(
      Buffer.concat([req(Opcode.GET, { key: 'a.b.c' }), req(Opcode.GET, { key: 'q/opne' }), req(Opcode.GET, { key: 'q' })]),
      f,
    );
    expect(bad).toMatchObject({ kind: 'invalid', reply: { code: 'bad_format', message: 'bad queue name' } });
    expect(opt).toMatchObject({ kind: 'invalid', reply: { code: 'bad_format', message: 'bad get option' } });
    expect(good).toMatchObject({ kind: 'get' });
    if (bad!.kind !== 'invalid') throw new Error('unreachable');
    expect(bad!.reply.close).toBeFalsy();
    const p = one(encoded(f, bad!.reply, bad!));
    expect(p.status).toBe(Status.INVALID_ARGUMENTS);
    expect(p.value.toString()).toBe('bad queue name');
  });

  it('a key longer than 250 bytes is a bad name (connection stays open, body skipped)', () => {
    const f = framing();
    const [c, after] = parse(Buffer.concat([req(Opcode.GET, { key: 'k'.repeat(300) }), req(Opcode.NOOP)]), f);
    expect(c).toMatchObject({ kind: 'invalid', reply: { code: 'bad_format', message: 'bad queue name' } });
    expect(after).toMatchObject({ kind: 'noop' });
  });

  it('key bytes are latin1: any byte maps to one char', () => {
    const c = parseOne(req(Opcode.GET, { key: Buffer.from([0x71, 0xe9]) }));
    // é (0xE9) is outside printable ASCII: a bad name, but it arrived as one char.
    expect(c).toMatchObject({ kind: 'invalid', reply: { message: 'bad queue name' } });
    const k = parseOne(req(Opcode.GETK, { key: Buffer.from([0x71, 0xe9]) }));
    expect(tag(k).key).toBe('q\u00e9');
  });

  it('SET carries flags, exptime and the value in a record with headroom', () => {
    const value = Buffer.from('hello\r\nworld\0\xff', 'latin1');
    const c = parseOne(req(Opcode.SET, { key: 'jobs', extras: setExtras(0xdeadbeef, 60), value, opaque: 5 }));
    expect(c.kind).toBe('set');
    if (c.kind !== 'set') return;
    expect(c).toMatchObject({ key: 'jobs', queues: ['jobs'], flags: 0xdeadbeef, exptime: 60, noreply: false });
    expect(c.record.length).toBe(RECORD_HEADROOM + value.length);
    expect(c.record.subarray(RECORD_HEADROOM).equals(value)).toBe(true);
    expect(tag(c)).toMatchObject({ opcode: Opcode.SET, opaque: 5, quiet: false });
  });

  it('SET of an empty value is a real item', () => {
    const c = parseOne(req(Opcode.SET, { key: 'q', extras: setExtras(0, 0) }));
    expect(c).toMatchObject({ kind: 'set', queues: ['q'] });
    if (c.kind === 'set') expect(c.record.length).toBe(RECORD_HEADROOM);
  });

  it('SETQ is noreply; fanout keys collapse duplicates', () => {
    const c = parseOne(req(Opcode.SETQ, { key: 'a+b+a', extras: setExtras(1, 2), value: 'x' }));
    expect(c).toMatchObject({ kind: 'set', key: 'a+b+a', queues: ['a', 'b'], noreply: true });
    expect(tag(c).quiet).toBe(true);
  });

  it('SET to a cursor or a bad name is a client error; the value is skipped, connection open', () => {
    const f = framing();
    const [cur, bad, next] = parse(
      Buffer.concat([
        req(Opcode.SET, { key: 'q.c', extras: setExtras(0, 0), value: 'abc' }),
        req(Opcode.SETQ, { key: 'a/b', extras: setExtras(0, 0), value: 'abc' }),
        req(Opcode.NOOP),
      ]),
      f,
    );
    expect(cur).toMatchObject({ kind: 'invalid', reply: { code: 'bad_format', message: 'cannot set to a cursor' } });
    expect(bad).toMatchObject({ kind: 'invalid', reply: { code: 'bad_format', message: 'bad queue name' } });
    expect(next).toMatchObject({ kind: 'noop' });
    // Errors are never suppressed, even for SETQ.
    if (bad!.kind === 'invalid') expect(one(encoded(f, bad!.reply, bad!)).status).toBe(Status.INVALID_ARGUMENTS);
  });

  it('a value larger than max_item_size (but within the packet limit) → too large, stays open', () => {
    const f = framing();
    const big = req(Opcode.SET, { key: 'q', extras: setExtras(0, 0), value: Buffer.alloc(MAX_ITEM + 1), opaque: 9 });
    // Decided from the header: the value need not arrive first.
    f.push(big.subarray(0, 24));
    const c = f.next();
    expect(c).toMatchObject({ kind: 'invalid', reply: { code: 'too_large' } });
    if (c!.kind !== 'invalid') return;
    expect(c!.reply.close).toBeFalsy();
    const p = one(encoded(f, c!.reply, c!));
    expect(p).toMatchObject({ status: Status.VALUE_TOO_LARGE, opcode: Opcode.SET, opaque: 9 });
    // The value is discarded as it arrives; the next packet parses.
    f.push(big.subarray(24, 500));
    expect(f.next()).toBeNull();
    expect(f.buffered).toBe(0);
    f.push(Buffer.concat([big.subarray(500), req(Opcode.VERSION)]));
    expect(f.next()).toMatchObject({ kind: 'version' });
    expect(f.next()).toBeNull();
  });

  it('a value of exactly max_item_size is accepted', () => {
    const c = parseOne(req(Opcode.SET, { key: 'q', extras: setExtras(0, 0), value: Buffer.alloc(MAX_ITEM, 7) }));
    expect(c.kind).toBe('set');
  });

  it('DELETE and DELETEQ', () => {
    expect(parseOne(req(Opcode.DELETE, { key: 'q' }))).toMatchObject({ kind: 'delete', ref: { queue: 'q' }, noreply: false });
    expect(parseOne(req(Opcode.DELETEQ, { key: 'q.c' }))).toMatchObject({
      kind: 'delete',
      ref: { queue: 'q', cursor: 'c' },
      noreply: true,
    });
    expect(parseOne(req(Opcode.DELETE, { key: 'q/open' }))).toMatchObject({ kind: 'invalid', reply: { code: 'bad_format' } });
  });

  it('QUIT, QUITQ, FLUSH (with and without expiry extras), FLUSHQ, NOOP, VERSION, STAT', () => {
    expect(parseOne(req(Opcode.QUIT))).toMatchObject({ kind: 'quit' });
    expect(parseOne(req(Opcode.QUITQ))).toMatchObject({ kind: 'quit' });
    expect(parseOne(req(Opcode.FLUSH))).toMatchObject({ kind: 'flush_all', noreply: false });
    expect(parseOne(req(Opcode.FLUSH, { extras: Buffer.alloc(4, 1) }))).toMatchObject({ kind: 'flush_all', noreply: false });
    expect(parseOne(req(Opcode.FLUSHQ))).toMatchObject({ kind: 'flush_all', noreply: true });
    expect(parseOne(req(Opcode.NOOP))).toMatchObject({ kind: 'noop' });
    expect(parseOne(req(Opcode.VERSION))).toMatchObject({ kind: 'version' });
    expect(parseOne(req(Opcode.STAT))).toMatchObject({ kind: 'stats' });
    // memjs resetStats / statsWithKey send a key: all stats are returned.
    expect(parseOne(req(Opcode.STAT, { key: 'reset' }))).toMatchObject({ kind: 'stats' });
  });

  it('unknown opcodes (add, incr, append, …) → unknown command; the body is skipped, stays open', () => {
    const f = framing();
    const add = req(0x02, { key: 'q', extras: setExtras(0, 0), value: 'v', opaque: 3 });
    const [c, next, noop] = parse(Buffer.concat([add, req(0x05, { key: 'n', extras: Buffer.alloc(20) }), req(Opcode.NOOP)]), f);
    expect(c).toMatchObject({
      kind: 'invalid',
      reply: { kind: 'error', type: 'ERROR', message: 'unknown command', code: 'unknown_command' },
    });
    if (c!.kind !== 'invalid') return;
    expect(c!.reply.close).toBeFalsy();
    expect(one(encoded(f, c!.reply, c!))).toMatchObject({ magic: 0x81, opcode: 0x02, opaque: 3, status: Status.UNKNOWN_COMMAND });
    expect(next).toMatchObject({ kind: 'invalid', reply: { code: 'unknown_command' } });
    expect(noop).toMatchObject({ kind: 'noop' });
  });

  it('an unknown opcode whose body arrives later is skipped as it arrives', () => {
    const f = framing();
    const pkt = req(0x19, { key: 'k', value: Buffer.alloc(100) });
    f.push(pkt.subarray(0, 30));
    expect(f.next()).toMatchObject({ kind: 'invalid', reply: { code: 'unknown_command' } });
    expect(f.next()).toBeNull();
    f.push(pkt.subarray(30, 60));
    f.push(Buffer.concat([pkt.subarray(60), req(Opcode.NOOP, { opaque: 1 })]));
    const n = f.next();
    expect(n).toMatchObject({ kind: 'noop' });
    expect(tag(n!).opaque).toBe(1);
  });
});

describe('binary framing: bad packets close the connection', () => {
  function expectFatal(f: BinaryFraming, c: Command | null, status: number = Status.INVALID_ARGUMENTS): void {
    expect(c).not.toBeNull();
    expect(c!.kind).toBe('invalid');
    if (c!.kind !== 'invalid') return;
    expect(c!.reply.close).toBe(true);
    expect(one(encoded(f, c!.reply, c!)).status).toBe(status);
    // Nothing more is parsed from this connection.
    f.push(req(Opcode.NOOP));
    expect(f.next()).toBeNull();
    expect(f.buffered).toBe(0);
  }

  it('wrong magic in a later packet', () => {
    const f = framing();
    const [ok, bad] = parse(Buffer.concat([req(Opcode.NOOP), req(Opcode.NOOP, { magic: 0x81 })]), f);
    expect(ok).toMatchObject({ kind: 'noop' });
    expectFatal(f, bad!);
  });

  it('wrong magic is seen at the first byte (text after binary does not hang)', () => {
    const f = framing();
    f.push(Buffer.from('get q\r\n'));
    expectFatal(f, f.next());
  });

  it('key length + extras length > body length', () => {
    const f = framing();
    f.push(req(Opcode.GET, { key: 'abc', bodyLength: 2 }));
    expectFatal(f, f.next());
  });

  it('SET without 8 bytes of extras', () => {
    const f = framing();
    f.push(req(Opcode.SET, { key: 'q', extras: Buffer.alloc(4), value: 'v' }));
    expectFatal(f, f.next());
    const g = framing();
    g.push(req(Opcode.SETQ, { key: 'q', value: 'v' }));
    expectFatal(g, g.next());
  });

  it('GET with extras, GET with a value, GET without a key', () => {
    for (const pkt of [
      req(Opcode.GET, { key: 'q', extras: Buffer.alloc(4) }),
      req(Opcode.GETK, { key: 'q', value: 'zz' }),
      req(Opcode.GETQ),
      req(Opcode.DELETE),
      req(Opcode.SET, { extras: setExtras(0, 0), value: 'v' }),
    ]) {
      const f = framing();
      f.push(pkt);
      expectFatal(f, f.next());
    }
  });

  it('FLUSH with a key or odd extras, NOOP/VERSION/QUIT with a body', () => {
    for (const pkt of [
      req(Opcode.FLUSH, { key: 'q' }),
      req(Opcode.FLUSH, { extras: Buffer.alloc(8) }),
      req(Opcode.NOOP, { value: 'x' }),
      req(Opcode.VERSION, { key: 'x' }),
      req(Opcode.QUIT, { extras: Buffer.alloc(4) }),
      req(Opcode.STAT, { extras: Buffer.alloc(4) }),
    ]) {
      const f = framing();
      f.push(pkt);
      expectFatal(f, f.next());
    }
  });

  it('a body larger than max item size + key + extras → too large and close, from the header alone', () => {
    const f = framing();
    const h = req(Opcode.SET, { key: 'q', extras: setExtras(0, 0), bodyLength: MAX_ITEM + 250 + 8 + 1, opaque: 42 });
    f.push(h); // header + extras + key only: the declared body never arrives
    const c = f.next();
    expect(c).toMatchObject({ kind: 'invalid', reply: { code: 'too_large', close: true } });
    if (c!.kind !== 'invalid') return;
    expect(one(encoded(f, c!.reply, c!))).toMatchObject({ status: Status.VALUE_TOO_LARGE, opaque: 42, opcode: Opcode.SET });
    expectFatal(f, c, Status.VALUE_TOO_LARGE);
  });

  it('a 4 GiB declared body is refused from the 24 header bytes, for any opcode', () => {
    const f = framing();
    f.push(req(0x42, { bodyLength: 0xffffffff }).subarray(0, 24));
    expectFatal(f, f.next(), Status.VALUE_TOO_LARGE);
  });

  it('the largest legal body is not refused by the header check', () => {
    const f = framing();
    f.push(req(Opcode.SET, { key: 'q', extras: setExtras(0, 0), bodyLength: MAX_ITEM + 9 }).subarray(0, 24));
    expect(f.next()).toBeNull(); // waits for the body
  });
});

describe('binary framing: streaming', () => {
  it('a truncated header waits for more bytes', () => {
    const f = framing();
    f.push(req(Opcode.NOOP).subarray(0, 23));
    expect(f.next()).toBeNull();
    expect(f.buffered).toBe(23);
    f.push(Buffer.alloc(0));
    expect(f.next()).toBeNull();
  });

  it('pipelined packets in one push all come out, in order', () => {
    const bytes = Buffer.concat([
      req(Opcode.SET, { key: 'a', extras: setExtras(1, 0), value: 'one', opaque: 1 }),
      req(Opcode.SETQ, { key: 'b', extras: setExtras(2, 0), value: 'two', opaque: 2 }),
      req(Opcode.GETKQ, { key: 'a', opaque: 3 }),
      req(Opcode.DELETE, { key: 'b', opaque: 4 }),
      req(Opcode.FLUSHQ, { opaque: 5 }),
      req(Opcode.VERSION, { opaque: 6 }),
      req(Opcode.STAT, { opaque: 7 }),
      req(Opcode.NOOP, { opaque: 8 }),
      req(Opcode.QUIT, { opaque: 9 }),
    ]);
    const f = framing();
    const cmds = parse(bytes, f);
    expect(cmds.map((c) => c.kind)).toEqual(['set', 'set', 'get', 'delete', 'flush_all', 'version', 'stats', 'noop', 'quit']);
    expect(cmds.map((c) => tag(c).opaque)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(f.buffered).toBe(0);
  });

  it('packets split byte by byte are reassembled', () => {
    const value = Buffer.from('binary\0value\r\n');
    const bytes = Buffer.concat([
      req(Opcode.SET, { key: 'work', extras: setExtras(7, 100), value, opaque: 11 }),
      req(Opcode.GETK, { key: 'work/open', opaque: 12 }),
      req(Opcode.FLUSH, { extras: Buffer.alloc(4), opaque: 13 }),
      req(Opcode.NOOP, { opaque: 14 }),
    ]);
    const f = framing();
    const cmds: Command[] = [];
    for (let i = 0; i < bytes.length; i++) {
      f.push(bytes.subarray(i, i + 1));
      for (let c = f.next(); c !== null; c = f.next()) cmds.push(c);
    }
    expect(cmds.map((c) => c.kind)).toEqual(['set', 'get', 'flush_all', 'noop']);
    const set = cmds[0]!;
    if (set.kind !== 'set') throw new Error('not a set');
    expect(set).toMatchObject({ key: 'work', flags: 7, exptime: 100 });
    expect(set.record.subarray(RECORD_HEADROOM).equals(value)).toBe(true);
    expect(cmds[1]).toMatchObject({ keys: [{ queue: 'work', open: true }] });
    expect(cmds.map((c) => tag(c).opaque)).toEqual([11, 12, 13, 14]);
    expect(f.buffered).toBe(0);
  });

  it('split at every possible point of a pipelined stream', () => {
    const bytes = Buffer.concat([
      req(Opcode.SET, { key: 'q', extras: setExtras(3, 0), value: 'abcdef' }),
      req(Opcode.GET, { key: 'q' }),
      req(0x03, { key: 'q', value: 'zz' }),
      req(Opcode.NOOP),
    ]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const f = framing();
      const kinds: string[] = [];
      for (const part of [bytes.subarray(0, cut), bytes.subarray(cut)]) {
        f.push(part);
        for (let c = f.next(); c !== null; c = f.next()) kinds.push(c.kind);
      }
      expect(kinds).toEqual(['set', 'get', 'invalid', 'noop']);
      expect(f.buffered).toBe(0);
    }
  });

  it('hundreds of tiny chunks pushed before parsing come out whole', () => {
    const packetsIn: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      packetsIn.push(req(Opcode.SET, { key: `q${i}`, extras: setExtras(i, 0), value: `value-${i}`, opaque: i }));
      packetsIn.push(req(Opcode.GETKQ, { key: `q${i}/open`, opaque: 1000 + i }));
    }
    const bytes = Buffer.concat(packetsIn);
    const f = framing();
    for (let i = 0; i < bytes.length; i += 3) f.push(bytes.subarray(i, i + 3));
    expect(f.buffered).toBe(bytes.length);
    const cmds = parse(Buffer.alloc(0), f);
    expect(cmds).toHaveLength(100);
    for (let i = 0; i < 50; i++) {
      const set = cmds[2 * i]!;
      if (set.kind !== 'set') throw new Error('not a set');
      expect(set).toMatchObject({ key: `q${i}`, flags: i });
      expect(set.record.subarray(RECORD_HEADROOM).toString()).toBe(`value-${i}`);
      expect(tag(cmds[2 * i + 1]!)).toMatchObject({ opaque: 1000 + i, key: `q${i}/open` });
    }
    expect(f.buffered).toBe(0);
  });

  it('buffered counts the bytes held', () => {
    const f = framing();
    const pkt = req(Opcode.SET, { key: 'q', extras: setExtras(0, 0), value: 'x'.repeat(100) });
    f.push(pkt.subarray(0, 50));
    expect(f.next()).toBeNull();
    expect(f.buffered).toBeLessThanOrEqual(50);
    f.push(pkt.subarray(50));
    expect(f.next()).toMatchObject({ kind: 'set' });
    expect(f.buffered).toBe(0);
  });
});

describe('binary framing: replies to packets', () => {
  function cmd(op: number, r: Req = {}): { f: BinaryFraming; c: Command } {
    const f = framing();
    return { f, c: parseOne(req(op, r), f) };
  }

  it('response header: magic 0x81, echoed opcode and opaque', () => {
    const { f, c } = cmd(Opcode.NOOP, { opaque: 0xfffffffe });
    const p = one(encoded(f, { kind: 'ok' }, c));
    expect(p).toMatchObject({ magic: 0x81, opcode: Opcode.NOOP, opaque: 0xfffffffe, status: 0, bodyLength: 0, dataType: 0 });
  });

  it('GET hit: status 0, 4-byte flags as extras, value, no key', () => {
    const { f, c } = cmd(Opcode.GET, { key: 'q/open', opaque: 21 });
    const p = one(encoded(f, hit('payload', 0xcafe), c));
    expect(p).toMatchObject({ status: 0, opcode: Opcode.GET, opaque: 21, extrasLength: 4, keyLength: 0, cas: 0n });
    expect(p.extras.readUInt32BE(0)).toBe(0xcafe);
    expect(p.value.toString()).toBe('payload');
  });

  it('a single-hit reply encodes as the same one-value list', () => {
    for (const op of [Opcode.GET, Opcode.GETK]) {
      const { f, c } = cmd(op, { key: 'q', opaque: 5 });
      const list = hit('payload', 7, 99);
      if (list.kind !== 'values') throw new Error('not a list');
      expect(encoded(f, { kind: 'value', ...list.values[0]! }, c).equals(encoded(f, list, c))).toBe(true);
    }
  });

  it('GET hit with an empty value', () => {
    const { f, c } = cmd(Opcode.GET, { key: 'q' });
    const p = one(encoded(f, hit(''), c));
    expect(p).toMatchObject({ status: 0, bodyLength: 4 });
    expect(p.value.length).toBe(0);
  });

  it('GETK and GETKQ hits echo the requested key', () => {
    for (const op of [Opcode.GETK, Opcode.GETKQ]) {
      const { f, c } = cmd(op, { key: 'work/close/open' });
      const p = one(encoded(f, hit('v', 1), c));
      expect(p).toMatchObject({ status: 0, opcode: op, key: 'work/close/open', extrasLength: 4 });
      expect(p.value.toString()).toBe('v');
    }
  });

  it('GETQ hit is sent (quiet gets suppress misses only)', () => {
    const { f, c } = cmd(Opcode.GETQ, { key: 'q' });
    expect(one(encoded(f, hit('v'), c)).status).toBe(0);
  });

  it('the CAS field carries value.cas when set (64-bit)', () => {
    const { f, c } = cmd(Opcode.GET, { key: 'q' });
    expect(one(encoded(f, hit('v', 0, 12345), c)).cas).toBe(12345n);
    expect(one(encoded(f, hit('v', 0, 2 ** 40 + 3), c)).cas).toBe(2n ** 40n + 3n);
  });

  it('a miss is 0x0001 Key not found; GETK echoes the key; GETQ/GETKQ say nothing', () => {
    {
      const { f, c } = cmd(Opcode.GET, { key: 'q', opaque: 4 });
      const p = one(encoded(f, MISS, c));
      expect(p).toMatchObject({ status: Status.KEY_NOT_FOUND, opaque: 4, extrasLength: 0 });
      expect(p.value.toString()).toBe('Not found');
    }
    {
      const { f, c } = cmd(Opcode.GETK, { key: 'q/t=10' });
      expect(one(encoded(f, MISS, c))).toMatchObject({ status: Status.KEY_NOT_FOUND, key: 'q/t=10' });
    }
    for (const op of [Opcode.GETQ, Opcode.GETKQ]) {
      const { f, c } = cmd(op, { key: 'q' });
      expect(packets(encoded(f, MISS, c))).toEqual([]);
      expect(packets(encoded(f, { kind: 'end' }, c))).toEqual([]);
    }
  });

  it('END (a timed-out wait) and NOT_FOUND answer a get as a miss', () => {
    const { f, c } = cmd(Opcode.GET, { key: 'q/t=5' });
    expect(one(encoded(f, { kind: 'end' }, c)).status).toBe(Status.KEY_NOT_FOUND);
    expect(one(encoded(f, { kind: 'not_found' }, c)).status).toBe(Status.KEY_NOT_FOUND);
  });

  it('errors on a quiet get are still sent', () => {
    const { f, c } = cmd(Opcode.GETKQ, { key: 'q/open' });
    const p = one(encoded(f, clientError('Close current item first', 'busy'), c));
    expect(p).toMatchObject({ status: Status.BUSY, opcode: Opcode.GETKQ });
    expect(p.value.toString()).toBe('Close current item first');
  });

  it('SET: stored → 0, not_stored → 0x0005; SETQ suppresses success only', () => {
    const r = { key: 'q', extras: setExtras(0, 0), value: 'v', opaque: 8 };
    {
      const { f, c } = cmd(Opcode.SET, r);
      expect(one(encoded(f, { kind: 'stored' }, c))).toMatchObject({ status: 0, opcode: Opcode.SET, opaque: 8, bodyLength: 0 });
      expect(one(encoded(f, { kind: 'not_stored' }, c)).status).toBe(Status.ITEM_NOT_STORED);
    }
    {
      const { f, c } = cmd(Opcode.SETQ, r);
      expect(packets(encoded(f, { kind: 'stored' }, c))).toEqual([]);
      expect(packets(encoded(f, { kind: 'none' }, c))).toEqual([]);
      expect(one(encoded(f, { kind: 'not_stored' }, c))).toMatchObject({ status: Status.ITEM_NOT_STORED, opcode: Opcode.SETQ });
      expect(one(encoded(f, serverError('read only', 'not_stored'), c)).status).toBe(Status.ITEM_NOT_STORED);
      expect(one(encoded(f, serverError('disk full'), c)).status).toBe(Status.INTERNAL_ERROR);
    }
  });

  it('DELETE: deleted → 0, not_found → 0x0001; DELETEQ suppresses success but not a miss', () => {
    {
      const { f, c } = cmd(Opcode.DELETE, { key: 'q' });
      expect(one(encoded(f, { kind: 'deleted' }, c)).status).toBe(0);
      expect(one(encoded(f, { kind: 'not_found' }, c)).status).toBe(Status.KEY_NOT_FOUND);
    }
    {
      const { f, c } = cmd(Opcode.DELETEQ, { key: 'q' });
      expect(packets(encoded(f, { kind: 'deleted' }, c))).toEqual([]);
      expect(one(encoded(f, { kind: 'not_found' }, c))).toMatchObject({ status: Status.KEY_NOT_FOUND, opcode: Opcode.DELETEQ });
    }
  });

  it('FLUSH: ok/end → 0; FLUSHQ suppresses success', () => {
    {
      const { f, c } = cmd(Opcode.FLUSH);
      expect(one(encoded(f, { kind: 'ok' }, c)).status).toBe(0);
      expect(one(encoded(f, { kind: 'end' }, c)).status).toBe(0);
    }
    {
      const { f, c } = cmd(Opcode.FLUSHQ);
      expect(packets(encoded(f, { kind: 'ok' }, c))).toEqual([]);
      expect(packets(encoded(f, { kind: 'end' }, c))).toEqual([]);
      expect(one(encoded(f, serverError('read only', 'not_stored'), c)).status).toBe(Status.ITEM_NOT_STORED);
    }
  });

  it('VERSION: status 0 and the version string as value', () => {
    const { f, c } = cmd(Opcode.VERSION, { opaque: 2 });
    const p = one(encoded(f, { kind: 'version', version: '1.2.3' }, c));
    expect(p).toMatchObject({ status: 0, opcode: Opcode.VERSION, opaque: 2, keyLength: 0, extrasLength: 0 });
    expect(p.value.toString()).toBe('1.2.3');
  });

  it('STAT: one packet per stat, then an empty one, all with the opaque', () => {
    const { f, c } = cmd(Opcode.STAT, { opaque: 31 });
    const list = packets(
      encoded(
        f,
        {
          kind: 'stats',
          stats: [
            ['uptime', '12'],
            ['version', 'siberite-1.0.0'],
            ['queue_work_items', '3'],
          ],
        },
        c,
      ),
    );
    expect(list.map((p) => [p.key, p.value.toString()])).toEqual([
      ['uptime', '12'],
      ['version', 'siberite-1.0.0'],
      ['queue_work_items', '3'],
      ['', ''],
    ]);
    for (const p of list) expect(p).toMatchObject({ status: 0, opcode: Opcode.STAT, opaque: 31, extrasLength: 0 });
    expect(list[3]!.bodyLength).toBe(0);
  });

  it('QUIT answers success before the close; QUITQ says nothing', () => {
    {
      const { f, c } = cmd(Opcode.QUIT, { opaque: 6 });
      expect(one(encoded(f, { kind: 'close' }, c))).toMatchObject({ status: 0, opcode: Opcode.QUIT, opaque: 6 });
    }
    {
      const { f, c } = cmd(Opcode.QUITQ);
      expect(packets(encoded(f, { kind: 'close' }, c))).toEqual([]);
    }
  });

  it('NOOP → success; none → nothing', () => {
    const { f, c } = cmd(Opcode.NOOP);
    expect(one(encoded(f, { kind: 'ok' }, c)).status).toBe(0);
    expect(packets(encoded(f, { kind: 'none' }, c))).toEqual([]);
  });

  it('every error code maps to its status and carries the message', () => {
    const { f, c } = cmd(Opcode.GET, { key: 'q' });
    const cases: Array<[Reply, number, string]> = [
      [{ kind: 'error', type: 'ERROR', message: 'unknown command', code: 'unknown_command' }, 0x0081, 'unknown command'],
      [serverError('object too large for cache', 'too_large'), 0x0003, 'object too large for cache'],
      [serverError('read only', 'not_stored'), 0x0005, 'read only'],
      [clientError('Close current item first', 'busy'), 0x0085, 'Close current item first'],
      [serverError('disk full'), 0x0084, 'disk full'],
      [clientError('bad get option'), 0x0004, 'bad get option'],
      [clientError('bad data chunk', 'bad_data', true), 0x0004, 'bad data chunk'],
      [clientError('line too long', 'line_too_long', true), 0x0004, 'line too long'],
      [{ kind: 'error', type: 'ERROR', code: 'empty' }, 0x0004, 'Invalid arguments'],
    ];
    for (const [reply, status, text] of cases) {
      const p = one(encoded(f, reply, c));
      expect(p.status).toBe(status);
      expect(p.value.toString()).toBe(text);
      expect(p.opcode).toBe(Opcode.GET);
    }
  });

  it('a command without a binary tag still gets a well-formed packet', () => {
    const f = framing();
    const p = one(encoded(f, { kind: 'stored' }, { kind: 'noop' }));
    expect(p).toMatchObject({ magic: 0x81, status: 0, opaque: 0 });
  });

  it('pipelined quiet gets ended by NOOP: only hits and the NOOP answer', () => {
    const f = framing();
    const cmds = parse(
      Buffer.concat([
        req(Opcode.GETKQ, { key: 'a', opaque: 1 }),
        req(Opcode.GETKQ, { key: 'b', opaque: 2 }),
        req(Opcode.GETKQ, { key: 'c', opaque: 3 }),
        req(Opcode.NOOP, { opaque: 4 }),
      ]),
      f,
    );
    expect(cmds.map((c) => c.kind)).toEqual(['get', 'get', 'get', 'noop']);
    const replies: Reply[] = [MISS, hit('B', 2), MISS, { kind: 'ok' }];
    const out = packets(Buffer.concat(cmds.map((c, i) => encoded(f, replies[i]!, c))));
    expect(out.map((p) => [p.opcode, p.opaque, p.status, p.key])).toEqual([
      [Opcode.GETKQ, 2, 0, 'b'],
      [Opcode.NOOP, 4, 0, ''],
    ]);
    expect(out[0]!.value.toString()).toBe('B');
  });
});

describe('binary framing: what memjs sends and expects', () => {
  const { makeRequestBuffer, parseMessage } = memjs.Utils;

  it('get/set/delete/flush/stats/quit requests built by memjs parse', () => {
    const f = framing();
    const extras = Buffer.concat([Buffer.from('00000000', 'hex'), memjs.Utils.makeExpiration(30)]);
    const cmds = parse(
      Buffer.concat([
        makeRequestBuffer(1, 'q', extras, 'hello', 1),
        makeRequestBuffer(0, 'q/open', '', '', 2),
        makeRequestBuffer(4, 'q', '', '', 3),
        makeRequestBuffer(0x08, '', '', '', 4),
        makeRequestBuffer(0x10, '', '', '', 5),
        makeRequestBuffer(0x10, 'reset', '', '', 6),
        makeRequestBuffer(0x07, '', '', '', 7),
      ]),
      f,
    );
    expect(cmds.map((c) => c.kind)).toEqual(['set', 'get', 'delete', 'flush_all', 'stats', 'stats', 'quit']);
    expect(cmds[0]).toMatchObject({ flags: 0, exptime: 30 });
    expect(cmds.map((c) => tag(c).opaque)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('memjs reads our replies: get hit/miss by opaque, stats ending at an empty body', () => {
    const f = framing();
    const [get, stat] = parse(Buffer.concat([makeRequestBuffer(0, 'q', '', '', 10), makeRequestBuffer(0x10, '', '', '', 11)]), f);
    const h = parseMessage(encoded(f, hit('data', 5), get!));
    expect(h.header).toMatchObject({ magic: 0x81, status: 0, opaque: 10 });
    expect(h.val.toString()).toBe('data');
    expect(h.extras.readUInt32BE(0)).toBe(5);
    const m = parseMessage(encoded(f, MISS, get!));
    expect(m.header.status).toBe(1); // memjs: callback(null, null, null)

    // memjs keeps reading stat packets until one has totalBodyLength 0.
    let buf = encoded(
      f,
      {
        kind: 'stats',
        stats: [
          ['pid', '1'],
          ['uptime', '2'],
        ],
      },
      stat!,
    );
    const seen: Record<string, string> = {};
    for (let msg = parseMessage(buf); msg; msg = parseMessage(buf)) {
      buf = buf.subarray(24 + msg.header.totalBodyLength);
      expect(msg.header.opaque).toBe(11);
      if (msg.header.totalBodyLength === 0) break;
      seen[msg.key.toString()] = msg.val.toString();
    }
    expect(seen).toEqual({ pid: '1', uptime: '2' });
    expect(buf.length).toBe(0);
  });
});
