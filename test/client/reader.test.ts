// The client's reply reader against every way TCP may cut or join the server's bytes: one byte at
// a time, every split point, many replies in one chunk, values that contain "\r\n" and "END".
import { describe, expect, it } from 'vitest';
import { ProtocolError, type Reply, ReplyReader, type ReplyShape } from '../../src/client/reader.js';

/** The replies of a session: what the server sends, and what the reader must make of it. */
const SESSION: Array<{ shape: ReplyShape; bytes: string; reply: Reply }> = [
  { shape: 'line', bytes: 'STORED\r\n', reply: { kind: 'line', line: 'STORED' } },
  {
    shape: 'values',
    bytes: 'VALUE jobs 7 13\r\nab\r\nEND\r\ncd\r\n\r\nEND\r\n',
    reply: { kind: 'values', values: [{ key: 'jobs', flags: 7, data: Buffer.from('ab\r\nEND\r\ncd\r\n') }] },
  },
  { shape: 'values', bytes: 'END\r\n', reply: { kind: 'values', values: [] } },
  {
    shape: 'values',
    bytes: 'VALUE z 0 0\r\n\r\nEND\r\n',
    reply: { kind: 'values', values: [{ key: 'z', flags: 0, data: Buffer.alloc(0) }] },
  },
  { shape: 'line', bytes: 'NOT_STORED\r\n', reply: { kind: 'line', line: 'NOT_STORED' } },
  { shape: 'values', bytes: 'CLIENT_ERROR bad get option\r\n', reply: { kind: 'error', line: 'CLIENT_ERROR bad get option' } },
  {
    shape: 'stats',
    bytes: 'STAT uptime 7\r\nSTAT version siberite-1.0.0\r\nSTAT queue_jobs_items 0\r\nEND\r\n',
    reply: { kind: 'stats', stats: { uptime: '7', version: 'siberite-1.0.0', queue_jobs_items: '0' } },
  },
  {
    shape: 'values',
    bytes: 'VALUE jobs 4294967295 3 17\r\n\x00\xff\n\r\nEND\r\n',
    reply: { kind: 'values', values: [{ key: 'jobs', flags: 4294967295, data: Buffer.from([0, 0xff, 0x0a]) }] },
  },
  { shape: 'line', bytes: 'SERVER_ERROR read only\r\n', reply: { kind: 'error', line: 'SERVER_ERROR read only' } },
  { shape: 'values', bytes: 'ERROR\r\n', reply: { kind: 'error', line: 'ERROR' } },
];
const ALL = Buffer.concat(SESSION.map((s) => Buffer.from(s.bytes, 'latin1')));

/** Feeds `chunks` to a reader expecting the whole session; returns the replies it produced. */
function run(chunks: Buffer[]): Reply[] {
  const got: Reply[] = [];
  const reader = new ReplyReader((r) => got.push(r));
  for (const s of SESSION) reader.expect(s.shape);
  for (const c of chunks) reader.feed(c);
  expect(reader.outstanding).toBe(0);
  return got;
}

const EXPECTED = SESSION.map((s) => s.reply);

describe('client reply reader', () => {
  it('reads a whole session coalesced into one chunk', () => {
    expect(run([ALL])).toEqual(EXPECTED);
  });

  it('reads it one byte at a time', () => {
    const bytes = Array.from({ length: ALL.length }, (_, i) => ALL.subarray(i, i + 1));
    expect(run(bytes)).toEqual(EXPECTED);
  });

  it('reads it split in two at every possible point', () => {
    for (let cut = 0; cut <= ALL.length; cut++) {
      expect(run([ALL.subarray(0, cut), ALL.subarray(cut)])).toEqual(EXPECTED);
    }
  });

  it('reads it in random chunks (seeded, 200 runs)', () => {
    let seed = 42;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let run_ = 0; run_ < 200; run_++) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < ALL.length;) {
        const n = 1 + Math.floor(rnd() * 24);
        chunks.push(ALL.subarray(at, at + n));
        at += n;
      }
      expect(run(chunks)).toEqual(EXPECTED);
    }
  });

  it('hands replies over as soon as each is complete, not before', () => {
    const got: Reply[] = [];
    const reader = new ReplyReader((r) => got.push(r));
    reader.expect('values');
    reader.expect('line');
    reader.feed(Buffer.from('VALUE q 0 5\r\nhel'));
    expect(got).toEqual([]);
    reader.feed(Buffer.from('lo\r\nEN'));
    expect(got).toEqual([]);
    reader.feed(Buffer.from('D\r\nSTO'));
    expect(got).toHaveLength(1);
    reader.feed(Buffer.from('RED\r\n'));
    expect(got[1]).toEqual({ kind: 'line', line: 'STORED' });
  });

  it('reads a 4 MiB value sent in 64 KiB chunks, copied out of the chunks', () => {
    const value = Buffer.alloc(4 << 20, 0x61);
    const wire = Buffer.concat([Buffer.from(`VALUE big 0 ${value.length}\r\n`), value, Buffer.from('\r\nEND\r\n')]);
    const got: Reply[] = [];
    const reader = new ReplyReader((r) => got.push(r));
    reader.expect('values');
    for (let at = 0; at < wire.length; at += 65536) reader.feed(wire.subarray(at, at + 65536));
    expect(got).toHaveLength(1);
    const r = got[0]!;
    expect(r.kind === 'values' && r.values[0]!.data.equals(value)).toBe(true);
    expect(r.kind === 'values' && r.values[0]!.data.buffer).not.toBe(wire.buffer);
  });

  it('accepts bare \\n line ends', () => {
    const got: Reply[] = [];
    const reader = new ReplyReader((r) => got.push(r));
    reader.expect('values');
    reader.feed(Buffer.from('VALUE q 0 1\nx\r\nEND\n'));
    expect(got).toEqual([{ kind: 'values', values: [{ key: 'q', flags: 0, data: Buffer.from('x') }] }]);
  });

  it('refuses what is not a reply: no request, a bad VALUE line, a bad block end, a runaway line', () => {
    const bad: Array<[ReplyShape | null, string]> = [
      [null, 'STORED\r\n'],
      ['values', 'VALUE q x 1\r\n'],
      ['values', 'VALUE q 0 -1\r\n'],
      ['values', 'VALUE q 0 1\r\nxyz'],
      ['values', 'STORED\r\n'],
      ['stats', 'VALUE q 0 1\r\n'],
      ['line', 'x'.repeat(20_000)],
    ];
    for (const [shape, bytes] of bad) {
      const reader = new ReplyReader(() => undefined);
      if (shape) reader.expect(shape);
      expect(() => reader.feed(Buffer.from(bytes)), bytes.slice(0, 30)).toThrow(ProtocolError);
    }
  });
});
