// The Store's failure paths, in-process, on a real LevelDB in a temp dir and real faults (no
// mocks): a write after close, a full disk under the write-ahead log and under LevelDB itself
// (a small tmpfs; needs root, else skipped with the reason), and a damaged log at start-up.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type BatchOp } from '../../src/store/layout.js';
import { Store, type StoreOptions } from '../../src/store/store.js';
import { WriteAheadLog } from '../../src/store/wal.js';
import { LogDamageError, type TornTail } from '../../src/store/walRead.js';
import { LogRecorder } from '../helpers/logRecorder.js';
import { walSegments } from '../helpers/fixtures.js';
import { fillDisk, mountTmpfs, unmount } from '../helpers/tmpfs.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const options: StoreOptions = { syncAlways: false, readBytes: 64 * 1024 };
/** Larger than anything a full tmpfs has left (fillDisk leaves under 512 bytes). */
const BIG_VALUE = Buffer.alloc(96 * 1024, 7);

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'siberite-store-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Waits for `done` to hold, checking every 5 ms, for at most `ms` (no event marks a retry). */
async function until(done: () => boolean, ms = 5000): Promise<void> {
  for (let waited = 0; !done() && waited < ms; waited += 5) await new Promise((r) => setTimeout(r, 5));
  expect(done()).toBe(true);
}

/** Records what a participant is told, in order. */
function participant(seen: string[]) {
  return {
    sealBatch: (ops: BatchOp[]) => void seen.push(`sealed ${ops.length}`),
    batchDone: (err: Error | undefined) => void seen.push(err ? `failed: ${err.message}` : 'done'),
  };
}

describe('Store after close', () => {
  it('refuses a write cleanly: the writer and its participant learn it, nothing hangs, nothing is kept', async () => {
    const dir = tempDir();
    const store = await Store.open(dir, options);
    store.put(b('before'), b('1'));
    await store.written();
    await store.close();
    expect(store.writable).toBe(false);

    const seen: string[] = [];
    store.put(b('after'), b('2'), participant(seen));
    await expect(store.written()).rejects.toThrow(/store closed/);
    expect(seen).toEqual(['sealed 1', 'failed: store closed: write refused']);
    await expect(store.clearRange({ gte: b('a'), lt: b('z') })).rejects.toThrow(/store closed/);

    const reopened = await Store.open(dir, options);
    expect(await reopened.getValue(b('before'))).toEqual(b('1'));
    expect(await reopened.getValue(b('after'))).toBeUndefined();
    await reopened.close();
  }, 5000);
});

describe('Store on a full disk', () => {
  const root = mkdtempSync(join(tmpdir(), 'siberite-store-full-'));
  let skipReason: string | null = null;
  beforeAll(() => {
    skipReason = mountTmpfs(root, '16m');
  });
  // A failed test must not leave the next one a full disk.
  afterEach(() => rmSync(join(root, 'filler'), { force: true }));
  afterAll(() => {
    if (!skipReason) unmount(root);
    rmdirSync(root);
  });

  /** Writes `count` acknowledged and applied keys; returns them. */
  async function writeApplied(store: Store, tag: string, count: number): Promise<Map<string, Buffer>> {
    const kept = new Map<string, Buffer>();
    for (let i = 0; i < count; i++) kept.set(`${tag}-${i}`, b(`${tag} value ${i}`));
    for (const [k, v] of kept) store.put(b(k), v);
    await store.written();
    await store.applied();
    return kept;
  }

  /**
   * Fills the disk, writes one big value, and checks the store fails closed: the fault in
   * health(), one error line, no acknowledgement while retries keep failing. Then frees the
   * space and checks it recovers by itself, the big value acknowledged by then.
   */
  async function failAndRecover(store: Store, log: LogRecorder, where: 'log' | 'leveldb'): Promise<void> {
    fillDisk(join(root, 'filler'));
    store.put(b('during'), BIG_VALUE);
    let acknowledged = false;
    const written = store.written().then(() => (acknowledged = true));

    const failure = await log.next(/store write failed/);
    expect(failure.level).toBe('error');
    expect(failure.obj).toMatchObject({ module: 'store', where, code: 'ENOSPC' });
    expect(store.health()).toMatchObject({ writable: false, fault: { where, code: 'ENOSPC' } });
    await until(() => store.health().errors[where] >= 3);
    expect(acknowledged, 'acknowledged while the disk was full').toBe(false);
    expect(store.writable).toBe(false);
    expect(
      log.lines.filter((l) => /store write failed/.test(l.msg)),
      'the fault is reported once',
    ).toHaveLength(1);

    rmSync(join(root, 'filler'));
    await written;
    expect(await log.next(/store writable again/)).toMatchObject({ level: 'warn', obj: { where, code: 'ENOSPC' } });
    expect(store.health()).toMatchObject({ writable: true, fault: undefined });
  }

  async function expectKeptAfterReopen(dir: string, storeOptions: StoreOptions, kept: Map<string, Buffer>): Promise<void> {
    const reopened = await Store.open(dir, storeOptions);
    for (const [k, v] of kept) expect(await reopened.getValue(b(k)), k).toEqual(v);
    await reopened.close();
  }

  it('a log write that hits ENOSPC fails closed, recovers once space frees, and keeps every acknowledged write', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const dir = join(root, 'log-full');
    mkdirSync(dir);
    const log = new LogRecorder();
    const storeOptions = { ...options, retryMs: 10, log };
    const store = await Store.open(dir, storeOptions);
    const kept = await writeApplied(store, 'before', 50);

    await failAndRecover(store, log, 'log');
    kept.set('during', BIG_VALUE);
    for (const [k, v] of await writeApplied(store, 'after', 50)) kept.set(k, v);
    await store.close();
    await expectKeptAfterReopen(dir, storeOptions, kept);
  }, 15_000);

  it('a LevelDB write that hits ENOSPC (-fsync always) fails closed, reopens LevelDB and recovers', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const dir = join(root, 'leveldb-full');
    mkdirSync(dir);
    const log = new LogRecorder();
    const storeOptions = { ...options, syncAlways: true, retryMs: 10, log };
    const store = await Store.open(dir, storeOptions);
    const kept = await writeApplied(store, 'before', 50);

    await failAndRecover(store, log, 'leveldb');
    kept.set('during', BIG_VALUE);
    for (const [k, v] of await writeApplied(store, 'after', 50)) kept.set(k, v);
    await store.close();
    await expectKeptAfterReopen(dir, storeOptions, kept);
  }, 15_000);
});

describe('Store opening a damaged log', () => {
  /** A data directory whose log holds `count` records LevelDB lacks (as after a kill -9). */
  async function unappliedLog(count: number): Promise<{ dir: string; segment: string }> {
    const dir = tempDir();
    await (await Store.open(dir, options)).close();
    const wal = WriteAheadLog.create(join(dir, 'wal'), 1);
    for (let i = 0; i < count; i++) wal.append([{ type: 'put', key: b(`k${i}`), value: b(`v${i}`) }]);
    wal.close(false);
    const [segment] = walSegments(dir);
    return { dir, segment: join(dir, 'wal', segment!) };
  }

  function flipByte(file: string, at: number): void {
    const bytes = readFileSync(file);
    bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(file, bytes);
  }

  it('reports a damaged last record as a torn tail, cuts it, and opens with every record before it', async () => {
    const { dir, segment } = await unappliedLog(5);
    const size = statSync(segment).size;
    flipByte(segment, size - 1);
    const tails: TornTail[] = [];
    const store = await Store.open(dir, options, (tail) => tails.push(tail));
    expect(tails).toHaveLength(1);
    expect(tails[0]!.file).toBe(segment);
    expect(tails[0]!.offset + tails[0]!.bytes).toBe(size);
    expect(store.recovered).toBe(4);
    for (let i = 0; i < 4; i++) expect(await store.getValue(b(`k${i}`))).toEqual(b(`v${i}`));
    expect(await store.getValue(b('k4'))).toBeUndefined();
    // The log goes on after the cut.
    store.put(b('k5'), b('v5'));
    await store.written();
    await store.close();
  });

  it('refuses to open on damage before good records, naming where, and changes nothing', async () => {
    const { dir, segment } = await unappliedLog(5);
    flipByte(segment, 12); // inside the first record's body
    const before = readFileSync(segment);
    const opening = Store.open(dir, options);
    await expect(opening).rejects.toBeInstanceOf(LogDamageError);
    await expect(opening).rejects.toMatchObject({ file: segment, offset: 0 });
    expect(readFileSync(segment).equals(before), 'the log is left as it was, for repair').toBe(true);
    // LevelDB was closed again (its lock released): the same damage is reported again.
    await expect(Store.open(dir, options)).rejects.toBeInstanceOf(LogDamageError);
  });
});
