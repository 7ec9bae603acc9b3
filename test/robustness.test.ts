// Throws >10,000 random and mutated command fragments at ONE server over many short connections,
// then checks that it still answers correctly and never crashed (docs/protocol.md#framing: "No input, however
// malformed, may crash or hang the server or affect other connections").
//
// Deterministic: connection i draws every byte it sends (and where its writes split) from a PRNG
// seeded with (SEED, i), so a failure names the connection, and `connectionPlan(i)` rebuilds its
// exact bytes. FUZZ_SEED=<n> runs a different storm.
import net from 'node:net';
import { expect, it } from 'vitest';
import { sleep, useServer } from './helpers/fixtures.js';
import { TextClient, setCmd } from './helpers/textClient.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_2024);
const CONNECTIONS = 240;
const FRAGMENTS_PER_CONNECTION = 50;
const PARALLEL = 8;
/** A connection's lifetime after its last write: until closed, or this long without new bytes. */
const QUIET_MS = 300;
/** ... and never longer than this after the last write. */
const MAX_READ_MS = 2_000;
/** Bytes one connection sends / keeps from the server at most. */
const MAX_SEND_BYTES = 1024 * 1024;
const MAX_RECV_BYTES = 4 * 1024 * 1024;
/** The whole fuzz phase must end by then (the test fails rather than overrun). */
const FUZZ_BUDGET_MS = 45_000;

// ---- deterministic randomness ---------------------------------------------------------------

class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** mulberry32: uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  bytes(n: number, printable = false): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = printable ? 0x20 + this.int(95) : this.int(256);
    return b;
  }
}

// ---- the generator ---------------------------------------------------------------------------

const NAMES = [
  'fz',
  'fz',
  'fz',
  'fy',
  'fy',
  'fx',
  'FZ',
  'fz.c',
  'fz.d',
  'fy.c',
  'fz.',
  'fz+fy',
  'fz+fz+fx',
  'fz+fy.c',
  '.c',
  'a.b.c',
  '+',
  'fz+',
  '/',
  '..',
  '~x',
  '%2F',
  'очередь',
  '队列',
  '😀q',
  'fz\u0000y',
  'x'.repeat(200),
  'x'.repeat(201),
  'y'.repeat(251),
  'a\u00ffb',
  '-',
  '_:-',
];
const NUMBERS = [
  '0',
  '0',
  '1',
  '5',
  '-1',
  '-0',
  '+5',
  '4294967295',
  '4294967296',
  '18446744073709551616',
  '99999999999999999999',
  '999999999999999',
  '1000000',
  '16777216',
  '16777217',
  'abc',
  '1e3',
  '0x10',
  '3.5',
  '-99999999',
  '00007',
  '١٢',
];
const GET_OPTIONS = [
  '',
  '',
  '',
  '/open',
  '/close',
  '/abort',
  '/peek',
  '/close/open',
  '/open/close',
  '/t=0',
  '/t=5',
  '/t=20',
  '/t=abc',
  '/t=',
  '/t=-5',
  '/opne',
  '//',
  '/peek/t=5',
  '/abort/open',
  '/t=99999999999',
  '/OPEN',
  '/t=5/open',
];
const OTHER_LINES = [
  'stats',
  'dump_stats',
  'version',
  'VERSION',
  'verbosity 1',
  'verbosity',
  'verbosity x',
  'status',
  'status UP',
  'status up',
  'status bogus',
  'flush_all',
  'flush_all 0',
  'flush_all noreply',
  'flush_all_expired',
  'flush_expired fz',
  'flush_expired fz.c',
  'flush fz',
  'flush fz.c',
  'flush',
  'delete fz',
  'delete fz.c',
  'delete fy noreply',
  'delete',
  'monitor fz 0',
  'monitor fz 1 1',
  'monitor',
  'confirm fz 1',
  'confirm fz',
  'reload',
  'shutdown',
  'incr fz 1',
  'decr fz 1',
  'touch fz 10',
  'gat 0 fz',
  'mg fz v',
  'ms fz 2',
  'me fz',
  'quit',
  'QUIT',
  ' \t stats \t ',
  '',
  'get',
  'gets',
  'set',
  'set fz',
  'set fz 0 0',
  'help',
  'lru_crawler metadump all',
];
const STORAGE_WORDS = ['set', 'set', 'set', 'SET', 'Set', 'add', 'replace', 'append', 'prepend', 'cas'];
const TERMINATORS = ['\r\n', '\r\n', '\r\n', '\r\n', '\n', '\r', '', '\r\r\n', '\n\r'];
const SAFE_TERMINATORS = ['\r\n', '\r\n', '\r\n', '\n', '\r\r\n', '\n\r'];

const latin1 = (s: string) => Buffer.from(s, 'latin1');
const utf8 = (s: string) => Buffer.from(s, 'utf8');
const nameBytes = (rng: Rng) => (rng.bool(0.85) ? utf8(rng.pick(NAMES)) : rng.bytes(rng.range(1, 12), true));

function dataBlock(rng: Rng): Buffer {
  const n = rng.pick([0, 1, 2, 5, 10, 64, 300, 2000]);
  const b = rng.bool(0.5) ? rng.bytes(n, true) : rng.bytes(n);
  if (n > 4 && rng.bool(0.3)) b.write('\r\nEND\r\n'.slice(0, Math.min(7, n)), rng.int(n - 3), 'latin1');
  return b;
}

/**
 * A storage command. `safe`: its byte count is right and its block ends in CRLF, so framing
 * survives it (whatever else is wrong with it); otherwise also the framing-losing kinds.
 */
function setCommand(rng: Rng, safe = false): Buffer {
  const word = rng.pick(STORAGE_WORDS);
  const data = dataBlock(rng);
  const flags = rng.bool(0.8) ? String(rng.int(100_000)) : rng.pick(NUMBERS);
  const exptime = rng.bool(0.8) ? rng.pick(['0', '0', '0', '60', '-1', '1', '2000000000']) : rng.pick(NUMBERS);
  let bytes = String(data.length);
  const r = safe ? 1 : rng.next();
  if (r < 0.15)
    bytes = String(data.length + rng.range(1, 5)); // too short a block: eats later bytes
  else if (r < 0.3)
    bytes = String(Math.max(0, data.length - rng.range(1, 5))); // block not ended by CRLF
  else if (r < 0.45) bytes = rng.pick(NUMBERS);
  const tokens = [word, nameBytes(rng).toString('latin1'), flags, exptime, bytes];
  if (word === 'cas') tokens.push(String(rng.int(1000)));
  if (rng.bool(0.1)) tokens.push('noreply');
  if (rng.bool(0.03)) tokens.push('extra', 'tokens');
  const sep = rng.bool(0.9) ? ' ' : rng.pick(['  ', '\t', ' \t ']);
  const end = safe ? rng.pick(['\r\n', '\r\n', '\r\n\r\n', '\r\nstats\r\n']) : rng.pick(TERMINATORS);
  return Buffer.concat([latin1(tokens.join(sep)), latin1(rng.pick(['\r\n', '\r\n', '\n'])), data, latin1(end)]);
}

function getCommand(rng: Rng, safe = false): Buffer {
  const word = rng.pick(['get', 'get', 'get', 'gets', 'GET', 'Get']);
  const keys: Buffer[] = [];
  const n = rng.bool(0.8) ? 1 : rng.range(2, 5);
  for (let i = 0; i < n; i++) {
    let key = Buffer.concat([nameBytes(rng), latin1(rng.pick(GET_OPTIONS))]);
    if (rng.bool(0.05)) key = Buffer.concat([key, latin1(rng.pick(GET_OPTIONS))]);
    keys.push(key);
  }
  const parts: Buffer[] = [latin1(word)];
  for (const k of keys) parts.push(latin1(' '), k);
  parts.push(latin1(rng.pick(safe ? SAFE_TERMINATORS : TERMINATORS)));
  return Buffer.concat(parts);
}

function otherCommand(rng: Rng, safe = false): Buffer {
  let line = rng.pick(OTHER_LINES);
  if (safe && /quit/i.test(line)) line = 'version';
  return latin1(line + rng.pick(safe ? SAFE_TERMINATORS : TERMINATORS));
}

/** 1–3 byte-level mutations: flip, insert, delete, duplicate, truncate, token swap. */
function mutate(rng: Rng, b: Buffer): Buffer {
  let out = Buffer.from(b);
  const count = rng.range(1, 3);
  for (let m = 0; m < count; m++) {
    const at = out.length ? rng.int(out.length) : 0;
    switch (rng.int(8)) {
      case 0: // flip a byte
        if (out.length) out[at] = rng.int(256);
        break;
      case 1: // insert random bytes
        out = Buffer.concat([out.subarray(0, at), rng.bytes(rng.range(1, 8)), out.subarray(at)]);
        break;
      case 2: // delete a run
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + rng.range(1, 6))]);
        break;
      case 3: // truncate (missing CRLF, cut data block)
        out = out.subarray(0, at);
        break;
      case 4: // duplicate a slice
        out = Buffer.concat([out.subarray(0, at), out.subarray(at, at + rng.range(1, 20)), out.subarray(at)]);
        break;
      case 5: // NUL bytes
        out = Buffer.concat([out.subarray(0, at), Buffer.alloc(rng.range(1, 4)), out.subarray(at)]);
        break;
      case 6: // a number token replaced by an extreme one
        out = Buffer.concat([out.subarray(0, at), latin1(` ${rng.pick(NUMBERS)} `), out.subarray(at)]);
        break;
      case 7: // unicode
        out = Buffer.concat([out.subarray(0, at), utf8(rng.pick(['é', '€', '😀', '\u2028', '\ufeff', 'ÿ'])), out.subarray(at)]);
        break;
    }
  }
  return out;
}

/** A binary-protocol packet (docs/protocol.md#binary-protocol), often lying about its lengths. */
function binaryPacket(rng: Rng, safe = false): Buffer {
  const opcode = rng.bool(0.8)
    ? rng.pick([0x00, 0x01, 0x04, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x10, 0x11, 0x14, 0x18, 0x07])
    : rng.int(256);
  const key = rng.bool(0.1) ? Buffer.alloc(0) : Buffer.concat([nameBytes(rng), latin1(rng.bool(0.7) ? '' : rng.pick(GET_OPTIONS))]);
  const isSet = opcode === 0x01 || opcode === 0x11;
  const extras = isSet ? rng.bytes(8) : opcode === 0x08 && rng.bool(0.5) ? rng.bytes(4) : Buffer.alloc(0);
  const value = isSet ? dataBlock(rng) : Buffer.alloc(0);
  const h = Buffer.alloc(24);
  h[0] = safe || rng.bool(0.9) ? 0x80 : rng.int(256);
  h[1] = opcode === 0x07 || opcode === 0x17 ? (safe ? 0x0a : opcode) : opcode; // QUIT closes
  h.writeUInt16BE(safe || rng.bool(0.8) ? key.length : rng.int(65536), 2);
  h[4] = safe || rng.bool(0.8) ? extras.length : rng.int(256);
  h[5] = rng.bool(0.95) ? 0 : rng.int(256);
  let body = extras.length + key.length + value.length;
  const r = safe ? 1 : rng.next();
  if (r < 0.04) body = 0xffffffff;
  else if (r < 0.08) body = rng.int(1 << 25);
  else if (r < 0.12) body = Math.max(0, body - rng.range(1, 10));
  else if (r < 0.15) body += rng.range(1, 10);
  h.writeUInt32BE(body >>> 0, 8);
  h.writeUInt32BE(rng.int(0x100000000), 12);
  if (rng.bool(0.05)) h.writeUInt32BE(rng.int(0x100000000), 16);
  const packet = Buffer.concat([h, extras, key, value]);
  return !safe && rng.bool(0.3) ? mutate(rng, packet) : packet;
}

/**
 * One fragment; `kinds` tallies what was generated. `safe` fragments keep the framing in step
 * (they may still be errors), so a connection's later fragments are parsed too; the others may
 * lose framing (bad byte counts, long lines, length-lying binary packets), which closes the
 * connection.
 */
function fragment(rng: Rng, binary: boolean, safe: boolean, kinds: Map<string, number>): Buffer {
  const tally = (k: string) => kinds.set(k, (kinds.get(k) ?? 0) + 1);
  if (binary && (safe || rng.bool(0.85))) {
    tally('binary');
    return binaryPacket(rng, safe);
  }
  const r = rng.next();
  if (r < 0.22) {
    tally('set');
    return setCommand(rng, safe);
  }
  if (r < 0.4) {
    tally('get');
    return getCommand(rng, safe);
  }
  if (r < 0.52) {
    tally('other');
    return otherCommand(rng, safe);
  }
  if (r < 0.8) {
    tally('mutated');
    const base = safe ? rng.pick([getCommand, otherCommand])(rng, true) : rng.pick([setCommand, getCommand, otherCommand])(rng);
    const m = mutate(rng, base);
    // A mutated line stays one line when it must be safe: its newline is kept.
    return safe ? Buffer.concat([m.subarray(0, 8000), latin1('\r\n')]) : m;
  }
  if (r < 0.88) {
    tally('random');
    const b = rng.bytes(rng.range(1, 64), rng.bool(0.5));
    return safe || rng.bool(0.5) ? Buffer.concat([b, latin1('\r\n')]) : b;
  }
  if (r < 0.93) {
    tally('nul/unicode');
    return Buffer.concat([
      utf8(rng.pick(['get ', 'set ', 'stats', 'delete ', '\u0000', '😀 ', 'gét '])),
      Buffer.alloc(rng.int(4)),
      utf8(rng.pick(NAMES)),
      latin1('\r\n'),
    ]);
  }
  if (r < 0.95 && !safe) {
    tally('binary-in-text');
    return binaryPacket(rng);
  }
  if (r < 0.975 && !safe) {
    tally('long-line');
    const n = rng.range(8 * 1024 + 1, 20 * 1024);
    const line = rng.bytes(n, true);
    return rng.bool(0.5) ? Buffer.concat([latin1('get '), line, latin1('\r\n')]) : line;
  }
  tally('blank');
  return latin1(rng.pick(['\r\n', '\n', ' \r\n', '\t\r\n', '\r\n\r\n']));
}

/** Everything connection `index` sends, and the points where its writes are split. */
function connectionPlan(index: number, kinds = new Map<string, number>()): { payload: Buffer; splits: number[]; delays: number[] } {
  const rng = new Rng((SEED ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const binary = rng.bool(0.12);
  const parts: Buffer[] = [];
  if (binary) parts.push(binaryPacket(rng));
  let size = 0;
  // Most of a connection keeps framing; its tail (and a few whole connections) may lose it.
  const safeCount = rng.bool(0.1) ? 0 : rng.range(FRAGMENTS_PER_CONNECTION - 15, FRAGMENTS_PER_CONNECTION);
  for (let i = 0; i < FRAGMENTS_PER_CONNECTION; i++) {
    const f = fragment(rng, binary, i < safeCount, kinds);
    if (size + f.length > MAX_SEND_BYTES) break;
    parts.push(f);
    size += f.length;
  }
  const payload = Buffer.concat(parts);
  const cuts = new Set<number>();
  const nCuts = rng.range(0, 12);
  for (let i = 0; i < nCuts; i++) cuts.add(1 + rng.int(Math.max(1, payload.length - 1)));
  const splits = [...cuts].filter((c) => c < payload.length).sort((a, b) => a - b);
  const delays = splits.map(() => rng.int(4));
  return { payload, splits, delays };
}

// ---- reply checking ----------------------------------------------------------------------------

const TEXT_LINE =
  /^(END|STORED|NOT_STORED|DELETED|NOT_FOUND|OK|ERROR|ERROR .+|CLIENT_ERROR .+|SERVER_ERROR .+|STAT \S+ \S*|VERSION \S+|UP|READONLY|QUIESCENT|Reloaded config\.|\d+|queue '.*' \{|  +\S.*| *\})$/s; // the last three: dump_stats blocks
const FRAMING_LOST = /^CLIENT_ERROR (bad data chunk|line too long)$/;

/** Problems in what a text connection received (a prefix of the server's replies). */
function checkText(data: Buffer, cleanClose: boolean): { problems: string[]; replies: number } {
  const problems: string[] = [];
  let replies = 0;
  let pos = 0;
  while (pos < data.length) {
    const nl = data.indexOf('\r\n', pos);
    if (nl < 0) {
      if (cleanClose) problems.push(`partial line before close: ${JSON.stringify(data.toString('latin1', pos, pos + 200))}`);
      break;
    }
    const line = data.toString('latin1', pos, nl);
    pos = nl + 2;
    replies++;
    if (line.startsWith('VALUE ')) {
      const t = line.split(' ');
      const n = Number(t[3]);
      if (!(t.length === 4 || t.length === 5) || !/^\d+$/.test(t[2] ?? '') || !/^\d+$/.test(t[3] ?? '')) {
        problems.push(`bad VALUE line: ${JSON.stringify(line)}`);
        break;
      }
      if (pos + n + 2 > data.length) {
        if (cleanClose) problems.push(`VALUE block cut short before close: ${JSON.stringify(line)}`);
        break;
      }
      if (data[pos + n] !== 13 || data[pos + n + 1] !== 10) {
        problems.push(`VALUE block not ended by CRLF: ${JSON.stringify(line)}`);
        break;
      }
      pos += n + 2;
      continue;
    }
    if (!TEXT_LINE.test(line)) problems.push(`unexpected reply line: ${JSON.stringify(line.slice(0, 200))}`);
    if (FRAMING_LOST.test(line) && pos < data.length) {
      problems.push(`bytes after "${line}" (which must close): ${JSON.stringify(data.toString('latin1', pos, pos + 200))}`);
      break;
    }
  }
  return { problems, replies };
}

/** Problems in what a binary connection received. */
function checkBinary(data: Buffer, cleanClose: boolean): { problems: string[]; replies: number } {
  const problems: string[] = [];
  let replies = 0;
  let pos = 0;
  while (pos < data.length) {
    if (data.length - pos < 24) {
      if (cleanClose) problems.push('partial binary header before close');
      break;
    }
    if (data[pos] !== 0x81) {
      problems.push(`bad response magic 0x${data[pos]!.toString(16)} at ${pos}`);
      break;
    }
    const keyLen = data.readUInt16BE(pos + 2);
    const extLen = data[pos + 4]!;
    const body = data.readUInt32BE(pos + 8);
    if (keyLen + extLen > body) {
      problems.push(`response key+extras (${keyLen}+${extLen}) exceed body ${body}`);
      break;
    }
    if (pos + 24 + body > data.length) {
      if (cleanClose) problems.push('partial binary body before close');
      break;
    }
    pos += 24 + body;
    replies++;
  }
  return { problems, replies };
}

interface ConnResult {
  index: number;
  binary: boolean;
  received: Buffer;
  closedByServer: boolean;
  problems: string[];
  replies: number;
}

/** Runs connection `index`: connect, write its plan in pieces, read for a bounded time, destroy. */
function runConnection(port: number, index: number, kinds: Map<string, number>): Promise<ConnResult> {
  const { payload, splits, delays } = connectionPlan(index, kinds);
  return new Promise<ConnResult>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    const chunks: Buffer[] = [];
    let receivedBytes = 0;
    let ended = false; // server sent FIN
    let errored = false;
    let closed = false;
    let capped = false;
    let lastActivity = Date.now();
    let wake: (() => void) | null = null;
    const poke = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    socket.on('data', (chunk: Buffer) => {
      lastActivity = Date.now();
      if (receivedBytes + chunk.length > MAX_RECV_BYTES) {
        capped = true;
        socket.destroy();
        return;
      }
      chunks.push(chunk);
      receivedBytes += chunk.length;
      poke();
    });
    socket.on('end', () => {
      ended = true;
    });
    socket.on('error', () => {
      errored = true;
    });
    socket.on('close', () => {
      closed = true;
      poke();
    });
    const waitEvent = (ms: number) =>
      new Promise<void>((r) => {
        const t = setTimeout(() => {
          wake = null;
          r();
        }, ms);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
    void (async () => {
      await new Promise<void>((r) => {
        socket.once('connect', r);
        socket.once('close', r);
      });
      let from = 0;
      for (let i = 0; i <= splits.length && !closed; i++) {
        const to = i < splits.length ? splits[i]! : payload.length;
        socket.write(payload.subarray(from, to));
        from = to;
        if (i < splits.length && delays[i]! > 0) await sleep(delays[i]!);
      }
      const writtenAt = Date.now();
      lastActivity = writtenAt;
      while (!closed) {
        const now = Date.now();
        const quietLeft = lastActivity + QUIET_MS - now;
        const hardLeft = writtenAt + MAX_READ_MS - now;
        if (quietLeft <= 0 || hardLeft <= 0) break;
        await waitEvent(Math.min(quietLeft, hardLeft));
      }
      const closedByServer = ended;
      socket.destroy();
      const received = Buffer.concat(chunks);
      const binary = payload[0] === 0x80;
      const cleanClose = closedByServer && !errored && !capped;
      const { problems, replies } = binary ? checkBinary(received, cleanClose) : checkText(received, cleanClose);
      resolve({ index, binary, received, closedByServer, problems, replies });
    })();
  });
}

// ---- the test --------------------------------------------------------------------------------

const fx = useServer();

it('survives >10,000 random and mutated fragments, then still serves correctly', async () => {
  const started = Date.now();
  const kinds = new Map<string, number>();
  const results: ConnResult[] = [];

  // A sentinel connection keeps asking `version` during the storm: other connections' input
  // must never stall it (docs/protocol.md#framing).
  const sentinel = await TextClient.connect(fx.server.port);
  let sentinelRunning = true;
  let worstLatency = 0;
  let pings = 0;
  let sentinelFailure = '';
  const sentinelLoop = (async () => {
    while (sentinelRunning && Date.now() - started < FUZZ_BUDGET_MS) {
      const t0 = Date.now();
      let reply: string;
      try {
        reply = await Promise.race([sentinel.call('version\r\n'), sleep(5_000).then(() => 'TIMEOUT')]);
      } catch (err) {
        reply = String(err);
      }
      if (!/^VERSION \d+\.\d+\.\d+\r\n$/.test(reply)) {
        sentinelFailure = `sentinel got ${JSON.stringify(reply)} after ${Date.now() - started} ms; server exit ${fx.server.proc.exitCode} ${fx.server.proc.signalCode}; output tail:\n${fx.server.output().slice(-3000)}`;
        return;
      }
      worstLatency = Math.max(worstLatency, Date.now() - t0);
      pings++;
      await sleep(100);
    }
  })();

  let next = 0;
  const worker = async () => {
    while (next < CONNECTIONS && Date.now() - started < FUZZ_BUDGET_MS) {
      const index = next++;
      results.push(await runConnection(fx.server.port, index, kinds));
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  sentinelRunning = false;
  await sentinelLoop;
  sentinel.close();
  expect(sentinelFailure).toBe('');

  const fragments = [...kinds.values()].reduce((a, b) => a + b, 0);
  const elapsed = Date.now() - started;
  const replies = results.reduce((a, r) => a + r.replies, 0);
  const closedByServer = results.filter((r) => r.closedByServer).length;
  console.log(
    `storm: ${results.length} connections (${results.filter((r) => r.binary).length} binary), ${fragments} fragments ` +
      `${JSON.stringify(Object.fromEntries(kinds))}, ${replies} replies, ${closedByServer} closed by the server, ` +
      `${elapsed} ms, worst sentinel latency ${worstLatency} ms`,
  );
  // The whole storm ran (not cut by the time budget) and really sent >10,000 fragments.
  expect(results.length, `only ${results.length}/${CONNECTIONS} connections in ${elapsed} ms`).toBe(CONNECTIONS);
  expect(fragments).toBeGreaterThanOrEqual(10_000);
  expect(pings).toBeGreaterThan(0);
  expect(worstLatency, 'a `version` on a quiet connection waited this long during the storm').toBeLessThan(3_000);

  // Every reply was well formed; framing errors closed the connection.
  const bad = results.filter((r) => r.problems.length > 0);
  const report = bad
    .slice(0, 5)
    .map(
      (r) =>
        `connection ${r.index} (${r.binary ? 'binary' : 'text'}; replay with connectionPlan(${r.index})):\n  ${r.problems.slice(0, 3).join('\n  ')}`,
    )
    .join('\n');
  expect(bad.length, report).toBe(0);

  // The server is alive and serves correctly on a fresh connection.
  expect(fx.server.proc.exitCode).toBeNull();
  expect(fx.server.proc.signalCode).toBeNull();
  const c = await TextClient.connect(fx.server.port);
  expect(await c.call('version\r\n')).toMatch(/^VERSION \d+\.\d+\.\d+\r\n$/);
  expect(await c.call('status\r\n')).toBe('UP\r\n');
  for (const v of ['first', 'second', 'third']) expect(await c.call(setCmd('after_storm', v, 7))).toBe('STORED\r\n');
  expect(await c.call('get after_storm\r\n')).toBe('VALUE after_storm 7 5\r\nfirst\r\nEND\r\n');
  expect(await c.call('get after_storm\r\n')).toBe('VALUE after_storm 7 6\r\nsecond\r\nEND\r\n');
  expect(await c.call('get after_storm\r\n')).toBe('VALUE after_storm 7 5\r\nthird\r\nEND\r\n');
  expect(await c.call('get after_storm\r\n')).toBe('END\r\n');
  const stats = await c.call('stats\r\n');
  const lines = stats.split('\r\n');
  expect(lines.pop()).toBe('');
  expect(lines.pop()).toBe('END');
  for (const line of lines) expect(line).toMatch(/^STAT \S+ \S+$/);
  const map = new Map(lines.map((l) => [l.split(' ')[1]!, l.split(' ')[2]!]));
  expect(map.get('queue_after_storm_items')).toBe('0');
  expect(map.get('queue_after_storm_total_items')).toBe('3');
  expect(Number(map.get('total_connections'))).toBeGreaterThanOrEqual(CONNECTIONS);
  c.close();
  // Every storm connection is gone on the server side too (bounded poll: no event for it).
  const probe = await TextClient.connect(fx.server.port);
  let current = '';
  for (let i = 0; i < 40; i++) {
    current = /STAT curr_connections (\d+)\r\n/.exec(await probe.call('stats\r\n'))?.[1] ?? '';
    if (current === '1') break;
    await sleep(50);
  }
  expect(current).toBe('1');
  probe.close();

  expect(fx.server.proc.exitCode).toBeNull();
  // No command failed inside the server (session logs `command failed` at error level).
  const errors = fx.server
    .output()
    .split('\n')
    .filter((l) => /"level":(50|60)/.test(l) || (/Warning|Error:/.test(l) && !l.startsWith('{')));
  expect(errors.slice(0, 5).join('\n')).toBe('');
}, 90_000);

it('honours a huge /t= wait (beyond a 32-bit timer) instead of answering at once', async () => {
  const waiter = await TextClient.connect(fx.server.port);
  const setter = await TextClient.connect(fx.server.port);
  try {
    // 99,999,999,999 ms is a valid <ms> (a decimal number): the read must wait for an item.
    waiter.send('get huge_wait/t=99999999999\r\n');
    const pending = waiter.readReply();
    const early = await Promise.race([pending, sleep(500).then(() => null)]);
    expect(early, 'answered before any item arrived').toBeNull();
    expect(await setter.call(setCmd('huge_wait', 'late'))).toBe('STORED\r\n');
    const reply = await pending;
    expect(reply).toBe('VALUE huge_wait 0 4\r\nlate\r\nEND\r\n');
    expect(fx.server.proc.exitCode).toBeNull();
  } finally {
    waiter.close();
    setter.close();
  }
});
