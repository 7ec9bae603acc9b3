// The compaction scheduler on a real LevelDB in a temp dir: one compaction at a time, ranges asked
// for while one runs merged into the next, failures reported and not fatal, nothing after a stop.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it } from 'vitest';
import { CompactionScheduler } from '../../src/store/compaction.js';
import { LEVEL_OPTIONS } from '../../src/store/level.js';
import { Store } from '../../src/store/store.js';
import { LogRecorder } from '../helpers/logRecorder.js';

const b = (s: string) => Buffer.from(s, 'latin1');

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A LevelDB with a consumed range (written, then deleted): compactions have work to do. */
async function levelWithConsumedRange(): Promise<ClassicLevel<Buffer, Buffer>> {
  const dir = mkdtempSync(join(tmpdir(), 'siberite-compact-'));
  const db = new ClassicLevel<Buffer, Buffer>(dir, LEVEL_OPTIONS);
  await db.open();
  cleanups.push(async () => {
    if (db.status === 'open') await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const value = Buffer.alloc(1024, 1);
  const keys = Array.from({ length: 2000 }, (_, i) => b(`i/q/${String(i).padStart(6, '0')}`));
  await db.batch(keys.map((key) => ({ type: 'put' as const, key, value })));
  await db.batch(keys.map((key) => ({ type: 'del' as const, key })));
  return db;
}

/** Runs real compactions on `db`, recording each range and how many ran at once. */
function observedCompactions(db: ClassicLevel<Buffer, Buffer>) {
  const seen = { ranges: [] as Array<[string, string]>, running: 0, mostAtOnce: 0, started: [] as Array<() => void> };
  const compact = async (gte: Buffer, lt: Buffer): Promise<void> => {
    seen.ranges.push([gte.toString('latin1'), lt.toString('latin1')]);
    seen.mostAtOnce = Math.max(seen.mostAtOnce, ++seen.running);
    seen.started.shift()?.();
    try {
      await db.compactRange(gte, lt);
    } finally {
      seen.running--;
    }
  };
  const nextStart = () => new Promise<void>((resolve) => seen.started.push(resolve));
  return { seen, compact, nextStart };
}

describe('CompactionScheduler', () => {
  it('runs one compaction at a time and merges the ranges asked for while one runs into the next', async () => {
    const db = await levelWithConsumedRange();
    const { seen, compact, nextStart } = observedCompactions(db);
    const scheduler = new CompactionScheduler(compact, new LogRecorder());

    const started = nextStart();
    const first = scheduler.request(b('i/q/000000'), b('i/q/000500'));
    await started; // the first runs now: what follows waits for it
    const second = scheduler.request(b('i/q/001000'), b('i/q/001500'));
    const third = scheduler.request(b('i/q/000500'), b('i/q/001200'));
    const fourth = scheduler.request(b('i/q/001400'), b('i/q/002000'));
    expect(third, 'merged into the waiting compaction').toBe(second);
    expect(fourth).toBe(second);
    expect(second).not.toBe(first);
    await Promise.all([first, second]);

    expect(seen.ranges).toEqual([
      ['i/q/000000', 'i/q/000500'],
      ['i/q/000500', 'i/q/002000'],
    ]);
    expect(seen.mostAtOnce).toBe(1);
  });

  it('reports a failed compaction, still runs the next, and runs none after stop()', async () => {
    const db = await levelWithConsumedRange();
    const { seen, compact } = observedCompactions(db);
    const log = new LogRecorder();
    const scheduler = new CompactionScheduler(compact, log);

    await db.close();
    await expect(scheduler.request(b('a/'), b('b/'))).rejects.toThrow();
    expect(await log.next(/compaction failed/)).toMatchObject({ level: 'warn' });
    await db.open();
    await scheduler.request(b('i/q/'), b('i/r/'));
    expect(seen.ranges).toHaveLength(2);

    scheduler.stop();
    await scheduler.request(b('i/q/'), b('i/r/'));
    expect(seen.ranges, 'nothing runs after a stop').toHaveLength(2);
    expect(log.lines.filter((l) => /compaction failed/.test(l.msg))).toHaveLength(1);
  });
});

describe('Store.compactNow', () => {
  it('lets LevelDB drop a consumed range, and resolves without work once the store is closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'siberite-compact-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const store = await Store.open(dir, { syncAlways: false, readBytes: 64 * 1024 });
    const range = { gte: b('i/q/'), lt: b('i/r/') };
    // Incompressible, in writes of 400 KiB: memtables fill and go to table files.
    for (let i = 0; i < 2000; i++) {
      store.put(b(`i/q/${String(i).padStart(6, '0')}`), randomBytes(4096));
      if (i % 100 === 99) await store.applied();
    }
    expect(await store.approximateSize(range), 'most of the range is in table files').toBeGreaterThan(4 * 1024 * 1024);
    await store.clearRange(range);
    await store.compactNow(range.gte, range.lt);
    expect(await store.readRange(range)).toEqual([]);
    expect(await store.approximateSize(range), 'the range takes no space after compaction').toBeLessThan(64 * 1024);
    await store.close();
    await expect(store.compactNow(range.gte, range.lt)).resolves.toBeUndefined();
  });
});
