// Unit tests of the text framing (docs/protocol.md#framing–docs/protocol.md#reading-items-get-and-gets parsing) and the shared key syntax (keys.ts).
import { describe, expect, it } from 'vitest';
import { type Command, type GetKey } from '../src/protocol/command.js';
import { RECORD_HEADROOM } from '../src/store/layout.js';
import {
  MAX_KEY_BYTES,
  MAX_NAME_BYTES,
  getKeyList,
  isValidName,
  parseDecimal,
  parseGetKey,
  parseQueueRef,
  parseSetKey,
  parseSignedDecimal,
  setKeyQueues,
} from '../src/protocol/keys.js';
import { encoded } from './helpers/encode.js';
import { MAX_LINE_BYTES, TextFraming, tokenize } from '../src/protocol/text.js';

const MAX_ITEM = 1024;

function framing(maxItemSize = MAX_ITEM): TextFraming {
  return new TextFraming({ maxItemSize });
}

/** Pushes each chunk and collects every command the framing completes. */
function parse(chunks: Array<string | Buffer>, f = framing()): Command[] {
  const out: Command[] = [];
  for (const chunk of chunks) {
    f.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    for (let c = f.next(), n = 0; c && n < 10_000; c = f.next(), n++) out.push(c);
  }
  return out;
}

function one(text: string | Buffer): Command {
  const cmds = parse([text]);
  expect(cmds).toHaveLength(1);
  return cmds[0]!;
}

/** The wire bytes the framing would write for the command's error reply. */
function errorText(cmd: Command): string {
  expect(cmd.kind).toBe('invalid');
  if (cmd.kind !== 'invalid') throw new Error('not invalid');
  return encoded(framing(), cmd.reply, cmd).toString('latin1');
}

function closes(cmd: Command): boolean {
  return cmd.kind === 'invalid' && cmd.reply.close === true;
}

function setData(cmd: Command): Buffer {
  if (cmd.kind !== 'set') throw new Error(`expected set, got ${cmd.kind}`);
  return cmd.record.subarray(RECORD_HEADROOM);
}

describe('tokenize', () => {
  const tok = (s: string) => tokenize(Buffer.from(s, 'latin1'), 0, s.length);
  it('splits on runs of spaces and tabs, ignoring leading and trailing blanks', () => {
    expect(tok('  get \t\t q  ')).toEqual(['get', 'q']);
    expect(tok('set\tq\t0  0 \t3')).toEqual(['set', 'q', '0', '0', '3']);
    expect(tok('')).toEqual([]);
    expect(tok(' \t ')).toEqual([]);
  });
  it('respects the start/end window', () => {
    const b = Buffer.from('xxget qyy');
    expect(tokenize(b, 2, 7)).toEqual(['get', 'q']);
  });
});

describe('TextFraming: lines', () => {
  it('ends a line at \\n, with or without \\r', () => {
    const cmds = parse(['version\r\nversion\nstats\r\n']);
    expect(cmds.map((c) => c.kind)).toEqual(['version', 'version', 'stats']);
  });

  it('waits for the \\n of a line split across chunks', () => {
    const f = framing();
    expect(parse(['ver'], f)).toEqual([]);
    expect(parse(['sion\r'], f)).toEqual([]);
    expect(parse(['\n'], f).map((c) => c.kind)).toEqual(['version']);
  });

  it('treats the command word case-insensitively and names case-sensitively', () => {
    const c = one('GeT MyQueue\r\n');
    expect(c.kind).toBe('get');
    if (c.kind === 'get') expect(c.keys[0]!.queue).toBe('MyQueue');
    expect(one('VERSION\r\n').kind).toBe('version');
    const s = one('SeT Q 0 0 1\r\nx\r\n');
    expect(s.kind).toBe('set');
    if (s.kind === 'set') expect(s.queues).toEqual(['Q']);
  });

  it('accepts tabs and repeated blanks between tokens', () => {
    const c = one('\t set \t q\t\t7  0 \t 2 \r\nab\r\n');
    expect(c.kind).toBe('set');
    if (c.kind === 'set') {
      expect(c.flags).toBe(7);
      expect(setData(c).toString()).toBe('ab');
    }
  });

  it('answers an empty or blank line with ERROR, connection open', () => {
    for (const line of ['\r\n', '\n', '  \t \r\n']) {
      const c = one(line);
      expect(errorText(c)).toBe('ERROR\r\n');
      expect(closes(c)).toBe(false);
    }
  });

  it('answers an unknown command word with ERROR unknown command, connection open', () => {
    for (const line of ['bogus\r\n', 'incr q 1\r\n', 'decr q 1\r\n', 'touch q 10\r\n', 'gat 0 q\r\n']) {
      const c = one(line);
      expect(errorText(c)).toBe('ERROR unknown command\r\n');
      expect(closes(c)).toBe(false);
    }
  });

  it('skips the data block of add/replace/append/prepend/cas, then ERROR unknown command', () => {
    for (const word of ['add', 'replace', 'append', 'prepend', 'ADD']) {
      const cmds = parse([`${word} q 0 0 3\r\nabc\r\nversion\r\n`]);
      expect(cmds).toHaveLength(2);
      expect(errorText(cmds[0]!)).toBe('ERROR unknown command\r\n');
      expect(cmds[1]!.kind).toBe('version');
    }
    const cas = parse(['cas q 0 0 3 99\r\nabc\r\nversion\r\n']);
    expect(cas).toHaveLength(2);
    expect(errorText(cas[0]!)).toBe('ERROR unknown command\r\n');
    expect(cas[1]!.kind).toBe('version');
  });

  it('refuses a line longer than 8 KiB without \\n and stops parsing', () => {
    const f = framing();
    const cmds = parse([Buffer.alloc(MAX_LINE_BYTES + 1, 0x61)], f);
    expect(cmds).toHaveLength(1);
    expect(errorText(cmds[0]!)).toBe('CLIENT_ERROR line too long\r\n');
    expect(closes(cmds[0]!)).toBe(true);
    // Dead afterwards: nothing more is parsed and nothing is buffered.
    expect(parse(['version\r\n'], f)).toEqual([]);
    expect(f.buffered).toBe(0);
  });

  it('refuses a long line that arrives in small chunks (never buffers without bound)', () => {
    const f = framing();
    const out: Command[] = [];
    for (let i = 0; i < 20 && out.length === 0; i++) out.push(...parse([Buffer.alloc(1024, 0x61)], f));
    expect(out).toHaveLength(1);
    expect(errorText(out[0]!)).toBe('CLIENT_ERROR line too long\r\n');
    expect(f.buffered).toBe(0);
  });

  it('accepts a long-but-legal line up to 8 KiB', () => {
    // A line of exactly MAX_LINE_BYTES bytes before \n (mostly blanks) still parses.
    const line = `version${' '.repeat(MAX_LINE_BYTES - 7)}`;
    expect(one(`${line}\n`).kind).toBe('version');
    // The CR of a CR LF terminator is not part of the line.
    expect(one(`${line}\r\n`).kind).toBe('version');
    // Even when the CR arrives before its LF.
    const f = framing();
    expect(parse([`${line}\r`], f)).toEqual([]);
    expect(parse(['\n'], f).map((c) => c.kind)).toEqual(['version']);
    // One byte more is too long.
    expect(errorText(one(` ${line}\n`))).toBe('CLIENT_ERROR line too long\r\n');
  });

  it('parses many pipelined commands from one chunk, in order', () => {
    const text = Array.from({ length: 50 }, (_, i) => `set q${i} 0 0 1\r\n${i % 10}\r\nget q${i}\r\n`).join('');
    const cmds = parse([text]);
    expect(cmds).toHaveLength(100);
    cmds.forEach((c, i) => expect(c.kind).toBe(i % 2 === 0 ? 'set' : 'get'));
  });
});

describe('TextFraming: set', () => {
  it('parses key, flags, exptime, data and noreply', () => {
    const c = one('set q 4294967295 -5 5 noreply\r\nhello\r\n');
    expect(c.kind).toBe('set');
    if (c.kind !== 'set') return;
    expect(c.key).toBe('q');
    expect(c.queues).toEqual(['q']);
    expect(c.flags).toBe(4294967295);
    expect(c.exptime).toBe(-5);
    expect(c.noreply).toBe(true);
    expect(setData(c).toString()).toBe('hello');
    expect(c.record.length).toBe(RECORD_HEADROOM + 5);
  });

  it('accepts a zero-length item', () => {
    const c = one('set q 0 0 0\r\n\r\n');
    expect(c.kind).toBe('set');
    expect(setData(c).length).toBe(0);
  });

  it('is binary safe: all 256 byte values and \\r\\n inside the data', () => {
    const data = Buffer.concat([Buffer.from('\r\nEND\r\n'), Buffer.from(Array.from({ length: 256 }, (_, i) => i))]);
    const c = one(Buffer.concat([Buffer.from(`set q 0 0 ${data.length}\r\n`), data, Buffer.from('\r\n')]));
    expect(setData(c).equals(data)).toBe(true);
  });

  it('reads a data block split across many chunks, including the trailing CR LF', () => {
    const data = Buffer.from('0123456789abcdef');
    const whole = Buffer.concat([Buffer.from(`set q 0 0 ${data.length}\r\n`), data, Buffer.from('\r\nversion\r\n')]);
    const f = framing();
    const out: Command[] = [];
    for (let i = 0; i < whole.length; i++) out.push(...parse([whole.subarray(i, i + 1)], f));
    expect(out.map((c) => c.kind)).toEqual(['set', 'version']);
    expect(setData(out[0]!).equals(data)).toBe(true);
  });

  it('does not parse commands inside a data block', () => {
    const cmds = parse(['set q 0 0 9\r\nversion\r\n\r\nstats\r\n']);
    expect(cmds.map((c) => c.kind)).toEqual(['set', 'stats']);
    expect(setData(cmds[0]!).toString()).toBe('version\r\n');
  });

  it('closes on non-numeric or negative <bytes>', () => {
    for (const bytes of ['-1', 'abc', '1x', '']) {
      const line = bytes === '' ? 'set q 0 0 \r\n' : `set q 0 0 ${bytes}\r\n`;
      const cmds = parse([`${line}abc\r\nversion\r\n`]);
      if (bytes === '') {
        // Too few tokens: a format error, the connection stays open.
        expect(errorText(cmds[0]!)).toBe('CLIENT_ERROR bad command line format\r\n');
        expect(closes(cmds[0]!)).toBe(false);
        continue;
      }
      expect(cmds).toHaveLength(1);
      expect(errorText(cmds[0]!)).toBe('CLIENT_ERROR bad data chunk\r\n');
      expect(closes(cmds[0]!)).toBe(true);
    }
  });

  it('closes when the data block is not followed by \\r\\n', () => {
    for (const tail of ['xx', '\rx', 'x\n', '\n']) {
      const cmds = parse([`set q 0 0 3\r\nabc${tail}version\r\n`]);
      expect(cmds).toHaveLength(1);
      expect(errorText(cmds[0]!)).toBe('CLIENT_ERROR bad data chunk\r\n');
      expect(closes(cmds[0]!)).toBe(true);
    }
  });

  it('detects a bad terminator that arrives in a later chunk', () => {
    const f = framing();
    expect(parse(['set q 0 0 3\r\nabc\r'], f)).toEqual([]);
    const cmds = parse(['Xversion\r\n'], f);
    expect(cmds).toHaveLength(1);
    expect(errorText(cmds[0]!)).toBe('CLIENT_ERROR bad data chunk\r\n');
  });

  it('reads and discards the block on bad flags or exptime, connection open', () => {
    for (const [flags, exptime] of [
      ['x', '0'],
      ['-1', '0'],
      ['4294967296', '0'],
      ['1.5', '0'],
      ['0', 'x'],
      ['0', '1.5'],
      ['0', '--1'],
    ]) {
      const cmds = parse([`set q ${flags} ${exptime} 3\r\nabc\r\nversion\r\n`]);
      expect(cmds).toHaveLength(2);
      expect(errorText(cmds[0]!)).toBe('CLIENT_ERROR bad command line format\r\n');
      expect(closes(cmds[0]!)).toBe(false);
      expect(cmds[1]!.kind).toBe('version');
    }
  });

  it('answers too few or too many tokens with bad command line format', () => {
    for (const line of ['set\r\n', 'set q\r\n', 'set q 0 0\r\n', 'set q 0 0 1 noreply extra\r\n']) {
      const cmds = parse([`${line}version\r\n`]);
      expect(errorText(cmds[0]!)).toBe('CLIENT_ERROR bad command line format\r\n');
      expect(closes(cmds[0]!)).toBe(false);
      expect(cmds[cmds.length - 1]!.kind).toBe('version');
    }
  });

  it('reads and discards a block over max_item_size, then SERVER_ERROR object too large for cache', () => {
    const f = framing(10);
    const cmds = parse([`set q 0 0 11\r\n${'x'.repeat(11)}\r\nversion\r\n`], f);
    expect(cmds).toHaveLength(2);
    expect(errorText(cmds[0]!)).toBe('SERVER_ERROR object too large for cache\r\n');
    expect(closes(cmds[0]!)).toBe(false);
    expect(cmds[1]!.kind).toBe('version');
    // Exactly the limit is fine.
    expect(parse([`set q 0 0 10\r\n${'x'.repeat(10)}\r\n`], framing(10))[0]!.kind).toBe('set');
  });

  it('does not hold the bytes of a block it discards', () => {
    const f = framing(10);
    parse(['set q 0 0 100000\r\n'], f);
    for (let i = 0; i < 10; i++) {
      parse([Buffer.alloc(10_000, 0x61)], f);
      expect(f.buffered).toBe(0);
    }
    const cmds = parse(['\r\nversion\r\n'], f);
    expect(cmds.map((c) => c.kind)).toEqual(['invalid', 'version']);
  });

  it('reports a bad name after reading the block, connection open', () => {
    const cmds = parse([`set a/b 0 0 1\r\nx\r\nset q.c 0 0 1\r\nx\r\nversion\r\n`]);
    expect(cmds).toHaveLength(3);
    expect(errorText(cmds[0]!)).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(errorText(cmds[1]!)).toBe('CLIENT_ERROR cannot set to a cursor\r\n');
    expect(cmds[2]!.kind).toBe('version');
  });

  it('encodes nothing for a noreply set', () => {
    const c = one('set q 0 0 1 noreply\r\nx\r\n');
    expect(encoded(framing(), { kind: 'stored' }, c).length).toBe(0);
    const c2 = one('set q 0 0 1\r\nx\r\n');
    expect(encoded(framing(), { kind: 'stored' }, c2).toString()).toBe('STORED\r\n');
  });
});

describe('TextFraming: get and other commands', () => {
  it('parses get with several keys and options', () => {
    const c = one('get a b/open c/t=500 d/close/open\r\n');
    expect(c.kind).toBe('get');
    if (c.kind !== 'get') return;
    expect(c.cas).toBe(false);
    expect(c.keys.map((k) => k.queue)).toEqual(['a', 'b', 'c', 'd']);
    expect(c.keys[1]!.open).toBe(true);
    expect(c.keys[2]!.timeoutMs).toBe(500);
    expect(c.keys[3]!.close && c.keys[3]!.open).toBe(true);
    const g = one('gets q\r\n');
    expect(g.kind === 'get' && g.cas).toBe(true);
  });

  it('answers get without a key with bad command line format', () => {
    expect(errorText(one('get\r\n'))).toBe('CLIENT_ERROR bad command line format\r\n');
  });

  it('answers a bad get option with CLIENT_ERROR bad get option', () => {
    for (const key of ['q/opne', 'q/abort/open', 'q/peek/open', 'q/t=', 'q/t=x', 'q/', 'q/peek/close', 'q/abort/t=5']) {
      const c = one(`get ${key}\r\n`);
      expect(errorText(c), key).toBe('CLIENT_ERROR bad get option\r\n');
      expect(closes(c)).toBe(false);
    }
  });

  it('answers a bad queue name with CLIENT_ERROR bad queue name', () => {
    for (const key of ['q.a.b', 'a+b', '.c', 'x'.repeat(201)]) {
      expect(errorText(one(`get ${key}\r\n`)), key).toBe('CLIENT_ERROR bad queue name\r\n');
    }
  });

  it('parses delete, flush, flush_all, verbosity, quit with noreply where allowed', () => {
    const d = one('delete q noreply\r\n');
    expect(d).toMatchObject({ kind: 'delete', ref: { queue: 'q' }, noreply: true });
    expect(one('flush q\r\n')).toMatchObject({ kind: 'flush', ref: { queue: 'q' }, noreply: false });
    expect(one('flush_all\r\n')).toMatchObject({ kind: 'flush_all', noreply: false });
    expect(one('flush_all 0 noreply\r\n')).toMatchObject({ kind: 'flush_all', noreply: true });
    expect(one('verbosity 1\r\n')).toMatchObject({ kind: 'verbosity', noreply: false });
    expect(errorText(one('verbosity\r\n'))).toBe('CLIENT_ERROR bad command line format\r\n');
    expect(one('QUIT\r\n').kind).toBe('quit');
    expect(errorText(one('delete a/b\r\n'))).toBe('CLIENT_ERROR bad queue name\r\n');
  });

  it('encodes VALUE lines with optional cas, and END', () => {
    const c = one('gets q\r\n');
    const enc = (values: Array<{ key: string; flags: number; data: Buffer; cas?: number }>) => {
      return encoded(framing(), { kind: 'values', values }, c).toString('latin1');
    };
    expect(enc([])).toBe('END\r\n');
    expect(enc([{ key: 'q', flags: 3, data: Buffer.from('ab'), cas: 7 }])).toBe('VALUE q 3 2 7\r\nab\r\nEND\r\n');
    expect(enc([{ key: 'q', flags: 0, data: Buffer.alloc(0) }])).toBe('VALUE q 0 0\r\n\r\nEND\r\n');
    expect(
      enc([
        { key: 'a', flags: 0, data: Buffer.from('1') },
        { key: 'b', flags: 1, data: Buffer.from('22') },
      ]),
    ).toBe('VALUE a 0 1\r\n1\r\nVALUE b 1 2\r\n22\r\nEND\r\n');
    const big = Buffer.alloc(10_000, 0x62);
    expect(enc([{ key: 'q', flags: 0, data: big }])).toBe(`VALUE q 0 10000\r\n${big.toString()}\r\nEND\r\n`);
    const single = { kind: 'value' as const, key: 'q', flags: 3, data: Buffer.from('ab'), cas: 7 };
    expect(encoded(framing(), single, c).toString('latin1')).toBe('VALUE q 3 2 7\r\nab\r\nEND\r\n');
  });
});

describe('keys.ts', () => {
  it('isValidName: 1–200 printable bytes, no / . +', () => {
    expect(MAX_NAME_BYTES).toBe(200);
    expect(isValidName('a')).toBe(true);
    expect(isValidName('A-z_0:9')).toBe(true);
    expect(isValidName('~x%2F!@#$^&*()[]{}<>?,;\'"`|\\=')).toBe(true);
    expect(isValidName('x'.repeat(200))).toBe(true);
    expect(isValidName('x'.repeat(201))).toBe(false);
    expect(isValidName('')).toBe(false);
    for (const bad of ['a/b', 'a.b', 'a+b', 'a b', 'a\tb', 'a\x7f', 'a\x00', 'é', 'a\x80'])
      expect(isValidName(bad), JSON.stringify(bad)).toBe(false);
  });

  it('parseQueueRef: q, q. and q.c', () => {
    expect(parseQueueRef('q')).toEqual({ queue: 'q' });
    expect(parseQueueRef('q.')).toEqual({ queue: 'q' });
    expect(parseQueueRef('q.c')).toEqual({ queue: 'q', cursor: 'c' });
    expect(parseQueueRef('q.a.b')).toBe('bad queue name');
    expect(parseQueueRef('.c')).toBe('bad queue name');
    expect(parseQueueRef('q+r')).toBe('bad queue name');
    expect(parseQueueRef('')).toBe('bad queue name');
    // Names never reach the file system: path-like names are just names.
    expect(parseQueueRef('~x')).toEqual({ queue: '~x' });
    expect(parseQueueRef('%2F')).toEqual({ queue: '%2F' });
    expect(parseQueueRef('..')).toBe('bad queue name'); // '..' would be queue '' and cursor '.'
  });

  it('limits a whole key to 250 bytes', () => {
    expect(MAX_KEY_BYTES).toBe(250);
    const q = 'q'.repeat(200);
    const c = 'c'.repeat(49);
    expect(parseQueueRef(`${q}.${c}`)).toEqual({ queue: q, cursor: c }); // 250 bytes
    expect(parseQueueRef(`${q}.${c}c`)).toBe('bad queue name'); // 251
    expect(parseGetKey(`${q}/open/close/peek`.padEnd(251, 'x'))).toBe('bad queue name');
    const opts = '/open/close/t=1'; // 200 + 15 = 215, fine
    expect(typeof parseGetKey(q + opts)).toBe('object');
    expect(parseGetKey(`${q}/t=${'0'.repeat(48)}`)).toBe('bad queue name'); // 251 bytes
    expect(parseSetKey(`${'a'.repeat(125)}+${'b'.repeat(125)}`)).toBe('bad queue name'); // 251
    expect(parseSetKey(`${'a'.repeat(124)}+${'b'.repeat(125)}`)).toEqual(['a'.repeat(124), 'b'.repeat(125)]);
  });

  it('parseGetKey: options in any order, combinations', () => {
    expect(parseGetKey('q')).toMatchObject({ raw: 'q', queue: 'q', open: false, close: false, abort: false, peek: false });
    expect(parseGetKey('q/open')).toMatchObject({ open: true });
    expect(parseGetKey('q/close/open')).toMatchObject({ open: true, close: true });
    expect(parseGetKey('q/open/close')).toMatchObject({ open: true, close: true });
    expect(parseGetKey('q/t=0')).toMatchObject({ timeoutMs: 0 });
    expect(parseGetKey('q/t=250/open')).toMatchObject({ open: true, timeoutMs: 250 });
    expect(parseGetKey('q/peek/t=10')).toMatchObject({ peek: true, timeoutMs: 10 });
    expect(parseGetKey('q/abort')).toMatchObject({ abort: true });
    expect(parseGetKey('q./open')).toMatchObject({ queue: 'q', open: true });
    expect(parseGetKey('q.c/open')).toMatchObject({ queue: 'q', cursor: 'c', open: true });
    for (const bad of [
      'q/opne',
      'q/OPEN',
      'q/t=',
      'q/t=-1',
      'q/t=1.5',
      'q/t=abc',
      'q//open',
      'q/',
      'q/abort/open',
      'q/abort/close',
      'q/abort/peek',
      'q/abort/t=10',
      'q/peek/open',
      'q/close/peek',
    ]) {
      expect(parseGetKey(bad), bad).toBe('bad get option');
    }
    expect(parseGetKey('a.b.c/open')).toBe('bad queue name');
    expect(parseGetKey('/open')).toBe('bad queue name');
  });

  it('parseSetKey: one queue, fanout, q. and cursor refusal', () => {
    expect(parseSetKey('q')).toEqual(['q']);
    expect(parseSetKey('q.')).toEqual(['q']);
    expect(parseSetKey('a+b+a')).toEqual(['a', 'b']);
    expect(parseSetKey('q.c')).toBe('cannot set to a cursor');
    expect(parseSetKey('a+')).toBe('bad queue name');
    expect(parseSetKey('a/b')).toBe('bad queue name');
    expect(parseSetKey('q.a.b')).toBe('bad queue name');
  });

  it('parseDecimal and parseSignedDecimal', () => {
    expect(parseDecimal('0')).toBe(0);
    expect(parseDecimal('4294967295')).toBe(4294967295);
    expect(parseDecimal('007')).toBe(7);
    for (const bad of ['', '-1', '+1', '1.0', ' 1', '1e3', '0x10', '1234567890123456']) expect(parseDecimal(bad), bad).toBeUndefined();
    expect(parseSignedDecimal('-1')).toBe(-1);
    expect(parseSignedDecimal('999999')).toBe(999999);
    expect(parseSignedDecimal('-')).toBeUndefined();
    expect(parseSignedDecimal('--1')).toBeUndefined();
    expect(parseSignedDecimal('')).toBeUndefined();
  });
});

describe('keys.ts: remembered parses', () => {
  it('getKeyList: one frozen list per key, shared; errors as messages', () => {
    const a = getKeyList('q/open');
    expect(a).toEqual([parseGetKey('q/open')]);
    expect(getKeyList('q/open')).toBe(a);
    expect(Object.isFrozen(a) && Object.isFrozen((a as GetKey[])[0])).toBe(true);
    expect(getKeyList('q/opne')).toBe('bad get option');
  });

  it('setKeyQueues: one frozen list per key, shared; errors as messages', () => {
    const a = setKeyQueues('a+b+a');
    expect(a).toEqual(['a', 'b']);
    expect(setKeyQueues('a+b+a')).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(setKeyQueues('q.c')).toBe('cannot set to a cursor');
  });

  it('parses every key right while it forgets', () => {
    for (let i = 0; i < 3000; i++) expect(setKeyQueues(`q${i}`)).toEqual([`q${i}`]);
    expect(getKeyList('q1/peek')).toEqual([parseGetKey('q1/peek')]);
  });
});
