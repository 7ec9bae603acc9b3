// Damaged files, for real (docs/durability.md "Damaged files"): bytes flipped and files cut in
// the write-ahead log and in a LevelDB table. A torn tail is cut off with a warning; any other
// damage in the log refuses to start, naming the file and offset, until `siberite repair`
// salvages every valid record; a damaged item in a table is reported and never served, and the
// queue serves the items after it.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, type ServerHandle, startServer } from './helpers/server.js';
import { TextClient, setCmd } from './helpers/textClient.js';
import { walSegments } from './helpers/fixtures.js';
import { type BatchOp } from '../src/store/layout.js';
import { WriteAheadLog } from '../src/store/wal.js';
import { LogDamageError, readLog } from '../src/store/walRead.js';

const started: ServerHandle[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) await s.kill9();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(dataDir?: string): Promise<ServerHandle> {
  const s = await startServer({ dataDir });
  started.push(s);
  if (!dataDir) dirs.push(s.dataDir);
  return s;
}

/** Runs the CLI to completion (a server that refuses to start, or `repair`). */
function run(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'latin1', timeout: 30_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Stores `count` items in `queue` and kills the server: its log segment keeps every record. */
async function writeAndKill(count: number): Promise<{ dataDir: string; values: string[] }> {
  const s = await start();
  const c = await TextClient.connect(s.port);
  const values: string[] = [];
  for (let i = 0; i < count; i++) {
    const v = `item-${i}-${'p'.repeat(100)}`;
    expect(await c.call(setCmd('q', v))).toBe('STORED\r\n');
    values.push(v);
  }
  c.close();
  await s.kill9();
  return { dataDir: s.dataDir, values };
}

async function drainValues(port: number, queue: string): Promise<string[]> {
  const c = await TextClient.connect(port);
  const out: string[] = [];
  for (let i = 0; i < 100_000; i++) {
    const r = await c.call(`get ${queue}\r\n`);
    if (r === 'END\r\n') break;
    expect(r).toMatch(/^VALUE /);
    out.push(r.split('\r\n')[1]!);
  }
  c.close();
  return out;
}

describe('the write-ahead log at start-up', () => {
  it('cuts a torn tail of the newest segment with a warning that says how many bytes', async () => {
    const { dataDir, values } = await writeAndKill(50);
    const [segment] = walSegments(dataDir);
    const file = join(dataDir, 'wal', segment!);
    // A record whose write a crash cut short (never acknowledged): its header says 1000 bytes
    // follow, 20 did.
    const torn = Buffer.alloc(28);
    torn.writeUInt32BE(1000, 0);
    writeFileSync(file, Buffer.concat([readFileSync(file), torn]));
    const s = await start(dataDir);
    expect(s.output()).toMatch(/"bytes":28,.*cut off a torn tail/);
    expect(await drainValues(s.port, 'q')).toEqual(values);
  }, 30_000);

  it('refuses to start on a damaged record followed by good ones, naming file and offset; repair salvages the rest', async () => {
    const { dataDir, values } = await writeAndKill(50);
    const [segment] = walSegments(dataDir);
    const file = join(dataDir, 'wal', segment!);
    const bytes = readFileSync(file);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(file, bytes);

    const refused = run(['-listen', '127.0.0.1:0', '-data', dataDir]);
    expect(refused.status).toBe(2);
    expect(refused.out).toContain(segment!);
    expect(refused.out).toMatch(/at byte \d+/);
    expect(refused.out).toContain('followed by valid records');
    expect(refused.out).toContain('siberite repair');
    expect(readFileSync(file)).toEqual(bytes); // nothing changed

    const repaired = run(['repair', '-data', dataDir]);
    expect(repaired.status).toBe(0);
    expect(repaired.out).toMatch(/skipped \d+ bytes at .* offset \d+ \(bad checksum\)/);
    expect(repaired.out).toMatch(/records \d+ missing/);
    const s = await start(dataDir);
    // LevelDB had applied every record before the kill, so here nothing at all is lost.
    expect(await drainValues(s.port, 'q')).toEqual(values);
  }, 30_000);

  it('repair refuses a directory a running server holds', async () => {
    const s = await start();
    const r = run(['repair', '-data', s.dataDir]);
    expect(r.status).toBe(2);
    expect(r.out).toContain('in use by a running server');
  });
});

describe('readLog (segments written by the real log, then damaged)', () => {
  const b = (s: string) => Buffer.from(s, 'latin1');
  const op = (k: string): BatchOp => ({ type: 'put', key: b(k), value: Buffer.alloc(4000, 7) });
  function logWith(records: number, segments: number): string {
    const dir = mkdtempSync(join(tmpdir(), 'siberite-logdamage-'));
    dirs.push(dir);
    const log = WriteAheadLog.create(dir, 1);
    for (let i = 0; i < records; i++) {
      log.append([op(`k${i}`)]);
      if (segments > 1 && i === Math.floor(records / 2)) (log as unknown as { rotate(): void }).rotate();
    }
    log.close(false);
    expect(readdirSync(dir)).toHaveLength(segments);
    return dir;
  }

  it('refuses damage in a segment older than the newest', () => {
    const dir = logWith(20, 2);
    const oldest = join(dir, readdirSync(dir).sort()[0]!);
    const bytes = readFileSync(oldest);
    bytes[bytes.length - 100] ^= 0x01;
    writeFileSync(oldest, bytes);
    expect(() => [...readLog(dir)]).toThrow(LogDamageError);
    expect(() => [...readLog(dir)]).toThrow(/older than the newest/);
  });

  it('refuses a gap in sequence numbers (records missing between segments)', () => {
    const dir = logWith(16, 1);
    const elsewhere = mkdtempSync(join(tmpdir(), 'siberite-logdamage-'));
    dirs.push(elsewhere);
    const later = WriteAheadLog.create(elsewhere, 100);
    later.append([op('late')]);
    later.close(false);
    const name = readdirSync(elsewhere)[0]!;
    writeFileSync(join(dir, name), readFileSync(join(elsewhere, name)));
    expect(() => [...readLog(dir)]).toThrow(/sequence gap: expected record 17, found 100/);
  });

  it('cuts a tail of zeros (power loss after the file grew) as torn', () => {
    const dir = logWith(5, 1);
    const file = join(dir, readdirSync(dir)[0]!);
    writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.alloc(4096)]));
    const tails: number[] = [];
    expect([...readLog(dir, (t) => tails.push(t.bytes))].map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(tails).toEqual([4096]);
  });
});

describe('a damaged item in a LevelDB table', () => {
  it('is reported and never served; the items after it are', async () => {
    // Random (incompressible) values are stored raw in the table, so a flipped byte reaches
    // the record as it is — LevelDB does not check block checksums on reads.
    const values = Array.from({ length: 40 }, () => randomBytes(600).toString('hex'));
    const s = await start();
    const c = await TextClient.connect(s.port);
    for (const v of values) expect(await c.call(setCmd('q', v))).toBe('STORED\r\n');
    c.close();
    expect(await s.stop()).toBe(0);
    // A start and stop moves LevelDB's log into a table file.
    const again = await start(s.dataDir);
    expect(await again.stop()).toBe(0);
    const victim = values[17]!;
    const tables = readdirSync(s.dataDir).filter((f) => f.endsWith('.ldb'));
    let flipped = false;
    for (const t of tables) {
      const bytes = readFileSync(join(s.dataDir, t));
      const at = bytes.indexOf(Buffer.from(victim.slice(200, 260), 'latin1'));
      if (at < 0) continue;
      bytes[at + 10] = bytes[at + 10]! ^ 0x20;
      writeFileSync(join(s.dataDir, t), bytes);
      flipped = true;
    }
    expect(flipped, 'the value was found in a table file').toBe(true);
    const third = await start(s.dataDir);
    const served = await drainValues(third.port, 'q');
    expect(served).toEqual(values.filter((v) => v !== victim));
    const stats = await (await TextClient.connect(third.port)).call('stats\r\n');
    expect(stats).toContain('STAT damaged_items 1\r\n');
    expect(stats).toContain('STAT curr_items 0\r\n');
    expect(await third.outputMatching(/damaged item record dropped/)).toContain('damaged item record dropped');
  }, 30_000);
});
