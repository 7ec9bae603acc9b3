// The write-ahead log: its record codec (pure), its segment files, and the Store acknowledging
// through it and replaying it into a real LevelDB in a temp directory.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it } from 'vitest';
import { type BatchOp, WAL_SEQ_KEY, decodeSeq, encodeSeq, mergeBatchOps } from '../src/store/layout.js';
import { Store } from '../src/store/store.js';
import { walSegments } from './helpers/fixtures.js';
import { SEGMENT_BYTES, WriteAheadLog } from '../src/store/wal.js';
import { decodeRecords, encodeRecord } from '../src/store/walRecord.js';
import { readLog } from '../src/store/walRead.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const put = (k: string, v: string | Buffer): BatchOp => ({ type: 'put', key: b(k), value: typeof v === 'string' ? b(v) : v });
const del = (k: string): BatchOp => ({ type: 'del', key: b(k) });

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'siberite-wal-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('record codec', () => {
  const ops = [put('i/q/1', 'one'), del('i/q/0'), put('m/q', Buffer.alloc(0)), put('k', Buffer.alloc(300, 7))];

  it('round-trips ops and sequence numbers beyond 32 bits', () => {
    const buf = Buffer.concat([encodeRecord(1, ops), encodeRecord(2 ** 40 + 5, []), encodeRecord(7, [del('x')])]);
    const { records, end } = decodeRecords(buf);
    expect(end).toBe(buf.length);
    expect(records.map((r) => r.seq)).toEqual([1, 2 ** 40 + 5, 7]);
    expect(records[0]!.ops).toEqual(ops);
    expect(records[1]!.ops).toEqual([]);
    expect(records[2]!.ops).toEqual([del('x')]);
  });

  it('encodes into a scratch buffer large enough, and into a new one otherwise, with the same bytes', () => {
    const scratch = Buffer.alloc(64);
    const small = encodeRecord(3, [put('a', 'b')], scratch);
    expect(small.buffer).toBe(scratch.buffer);
    expect(small).toEqual(encodeRecord(3, [put('a', 'b')]));
    const large = encodeRecord(4, ops, scratch);
    expect(large.buffer).not.toBe(scratch.buffer);
    expect(decodeRecords(large).records[0]!.ops).toEqual(ops);
  });

  it('stops at a record cut short, wherever the cut falls', () => {
    const first = encodeRecord(1, ops);
    const second = encodeRecord(2, [put('a', 'b')]);
    const whole = Buffer.concat([first, second]);
    for (let cut = first.length; cut < whole.length; cut++) {
      const { records, end } = decodeRecords(whole.subarray(0, cut));
      expect(records.map((r) => r.seq)).toEqual([1]);
      expect(end).toBe(first.length);
    }
    for (let cut = 0; cut < first.length; cut++) expect(decodeRecords(whole.subarray(0, cut)).records).toEqual([]);
  });

  it('stops at a record whose checksum does not match', () => {
    const first = encodeRecord(1, [put('a', 'b')]);
    const second = encodeRecord(2, [put('c', 'd')]);
    second[second.length - 1] ^= 0xff;
    const { records, end } = decodeRecords(Buffer.concat([first, second, encodeRecord(3, [])]));
    expect(records.map((r) => r.seq)).toEqual([1]);
    expect(end).toBe(first.length);
  });
});

describe('mergeBatchOps', () => {
  it('keeps every op in order, but of the queue and cursor metas only the last write of each', () => {
    const merged = mergeBatchOps([
      [put('i/q/1', 'a'), put('m/q', '1'), put('c/q/x', '1')],
      [put('i/q/2', 'b'), put('m/q', '2'), put('r/q/x/1', 'a')],
      [del('r/q/x/1'), put('m/other', '1'), del('c/q/x')],
      [put('m/q', '3'), put('s/status', 'UP')],
    ]);
    expect(merged).toEqual([
      put('i/q/1', 'a'),
      put('i/q/2', 'b'),
      put('r/q/x/1', 'a'),
      del('r/q/x/1'),
      put('m/other', '1'),
      del('c/q/x'),
      put('m/q', '3'),
      put('s/status', 'UP'),
    ]);
  });

  it('keeps item keys that merely start like a meta', () => {
    expect(mergeBatchOps([[put('i/m/1', 'a')], [put('i/m/1', 'b')]])).toEqual([put('i/m/1', 'a'), put('i/m/1', 'b')]);
  });
});

describe('WriteAheadLog', () => {
  it('appends numbered records that readLog returns in order, across segments', () => {
    const dir = join(tempDir(), 'wal');
    const log = WriteAheadLog.create(dir, 10);
    const big = Buffer.alloc(SEGMENT_BYTES / 2 + 1, 1);
    expect(log.append([put('a', big)])).toBe(10);
    expect(log.append([put('b', big)])).toBe(11); // fills the first segment
    expect(log.append([del('a')])).toBe(12);
    log.close(false);
    expect(readdirSync(dir)).toHaveLength(2);
    const records = [...readLog(dir)];
    expect(records.map((r) => r.seq)).toEqual([10, 11, 12]);
    expect(records[2]!.ops).toEqual([del('a')]);
  });

  it('deletes a closed segment once its last record is released, and every file on a clean close', () => {
    const dir = join(tempDir(), 'wal');
    const log = WriteAheadLog.create(dir, 1);
    const big = Buffer.alloc(SEGMENT_BYTES, 1);
    log.append([put('a', big)]); // 1: first segment, closed
    log.append([put('b', 'c')]); // 2: second segment, open
    log.release(0);
    expect(readdirSync(dir)).toHaveLength(2);
    log.release(1);
    expect(readdirSync(dir)).toHaveLength(1);
    log.close(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('starts afresh, deleting the segments of an earlier log', () => {
    const dir = join(tempDir(), 'wal');
    const old = WriteAheadLog.create(dir, 1);
    old.append([put('a', 'b')]);
    old.close(false);
    WriteAheadLog.create(dir, 2).close(false);
    expect([...readLog(dir)]).toEqual([]);
  });
});

describe('Store with the write-ahead log', () => {
  const options = { syncAlways: false, readBytes: 64 * 1024 };

  it('acknowledges a batch once logged, before LevelDB has it; applies it after', async () => {
    const dir = tempDir();
    const store = await Store.open(dir, options);
    store.put(b('k1'), b('v1'));
    let applied = false;
    void store.applied().then(() => (applied = true));
    await store.written();
    expect(applied).toBe(false);
    expect([...readLog(join(dir, 'wal'))].flatMap((r) => r.ops)).toEqual([put('k1', 'v1')]);
    await store.applied();
    expect(await store.getValue(b('k1'))).toEqual(b('v1'));
    expect(decodeSeq(await store.getValue(WAL_SEQ_KEY))).toBe(1);
    await store.close();
    expect(walSegments(dir)).toEqual([]);
  });

  it('logs a batch of metas alone with the next write, or after a short delay', async () => {
    const dir = tempDir();
    const store = await Store.open(dir, options);
    let version = 0;
    const meta = { sealBatch: (ops: BatchOp[]) => void ops.push(put('m', String(++version))), batchDone: () => undefined };
    store.touch(meta);
    await new Promise((resolve) => setImmediate(resolve)); // the turn that would have sealed it
    expect([...readLog(join(dir, 'wal'))]).toEqual([]);
    store.put(b('k'), b('v'));
    await store.written();
    expect([...readLog(join(dir, 'wal'))].map((r) => r.ops)).toEqual([[put('k', 'v'), put('m', '1')]]);
    store.touch(meta);
    await store.written(); // nothing else comes: the apply timer logs it
    expect([...readLog(join(dir, 'wal'))].map((r) => r.ops)).toEqual([[put('k', 'v'), put('m', '1')], [put('m', '2')]]);
    await store.close();
  });

  it('past the cap on unapplied bytes, acknowledges only once applied', async () => {
    const store = await Store.open(tempDir(), { ...options, maxUnappliedBytes: 0 });
    store.put(b('k'), b('v'));
    let applied = false;
    void store.applied().then(() => (applied = true));
    await store.written();
    expect(applied).toBe(true);
    await store.close();
  });

  it('deletes log segments once LevelDB holds their records', async () => {
    const dir = tempDir();
    const store = await Store.open(dir, options);
    const big = Buffer.alloc(SEGMENT_BYTES / 4, 2);
    for (let i = 0; i < 6; i++) {
      store.put(b(`big${i}`), big);
      await store.written(); // one batch, one record each
    }
    await store.applied();
    expect(walSegments(dir)).toHaveLength(1);
    await store.close();
  });

  it('keeps no log with -fsync always: a batch is acknowledged once fsynced in LevelDB', async () => {
    const dir = tempDir();
    const store = await Store.open(dir, { ...options, syncAlways: true });
    store.put(b('k'), b('v'));
    let applied = false;
    void store.applied().then(() => (applied = true));
    await store.written();
    expect(applied).toBe(true);
    expect(walSegments(dir)).toEqual([]);
    await store.close();
  });

  it('replays at open exactly the records after the sequence number LevelDB records', async () => {
    const dir = tempDir();
    const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.put(WAL_SEQ_KEY, encodeSeq(2));
    await db.put(b('kept'), b('yes'));
    await db.close();
    const log = WriteAheadLog.create(join(dir, 'wal'), 1);
    log.append([del('kept')]); // 1 and 2: already applied, must not run again
    log.append([put('old', 'x')]);
    log.append([put('new', 'y'), put('gone', 'z')]);
    log.append([del('gone')]);
    log.close(false);

    const store = await Store.open(dir, options);
    expect(store.recovered).toBe(2);
    expect(await store.getValue(b('kept'))).toEqual(b('yes'));
    expect(await store.getValue(b('old'))).toBeUndefined();
    expect(await store.getValue(b('new'))).toEqual(b('y'));
    expect(await store.getValue(b('gone'))).toBeUndefined();
    expect(decodeSeq(await store.getValue(WAL_SEQ_KEY))).toBe(4);
    // The next record continues the numbering.
    store.put(b('after'), b('1'));
    await store.written();
    expect([...readLog(join(dir, 'wal'))].map((r) => r.seq)).toEqual([5]);
    await store.close();

    const again = await Store.open(dir, options);
    expect(again.recovered).toBe(0);
    await again.close();
  });
});
