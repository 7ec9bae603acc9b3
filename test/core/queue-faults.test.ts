// Queue failure paths, in-process over a real LevelDB: a store write refused by a real full disk
// (a small tmpfs; mounting needs root, elsewhere the test says why it skips) neither loses an
// acknowledged item nor brings back a consumed one; a load that fails (LevelDB closed under the
// store) is logged when it was a read-ahead and surfaces on the next take, and the queue serves
// on once the store has reopened LevelDB.
import { mkdirSync, mkdtempSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainHarness, WARN, drain, numbered, take, text } from '../helpers/domain.js';
import { fillDisk, mountTmpfs, unmount } from '../helpers/tmpfs.js';

/** Settles after `turns` turns of the event loop: the store seals a batch on the next one. */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('Queue under a full disk', () => {
  const root = mkdtempSync(join(tmpdir(), 'siberite-core-full-'));
  let skipReason: string | null = null;
  beforeAll(() => {
    skipReason = mountTmpfs(root, '24m');
    if (skipReason) process.stdout.write(`queue-faults.test.ts (full disk) skipped: ${skipReason}\n`);
  });
  afterAll(() => {
    if (!skipReason) unmount(root);
    rmdirSync(root);
  });

  it('withdraws the items whose write failed, keeps the acknowledged ones, and brings back no consumed one', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const dir = join(root, 'data');
    mkdirSync(dir);
    const h = await DomainHarness.open(dir);
    let q = await h.queue('jobs');
    for (let i = 0; i < 10; i++) h.set(q, `kept-${i}`);
    await h.store.written(); // acknowledged: a producer would have heard STORED
    expect(text(await take(q))).toBe('kept-0');
    await h.store.written(); // the consumption is recorded too
    // Not waiting for LevelDB: the disk fills while these writes may still be on their way there.

    fillDisk(join(root, 'filler'));
    // Large enough that the log needs new pages the full tmpfs cannot give.
    for (let i = 0; i < 4; i++) h.set(q, `refused-${i}-${'x'.repeat(64 * 1024)}`);
    const refused = h.store.written();
    refused.catch(() => undefined); // asserted below, once the store gives up on it
    for (let i = 0; i < 100 && h.store.writable; i++) await turns(1);
    expect(h.store.writable).toBe(false);
    expect(h.store.health().fault?.code).toBe('ENOSPC');
    expect(q.items).toBe(13); // readers see appended items before they are kept

    // A stop while the disk is still full: the batch is given up and its items withdrawn.
    await h.store.close();
    await expect(refused).rejects.toThrow();
    expect(q.items).toBe(9);

    rmSync(join(root, 'filler'));
    await h.reopen();
    q = await h.queue('jobs');
    expect(await drain(q)).toEqual(Array.from({ length: 9 }, (_, i) => `kept-${i + 1}`));
    await h.close();
  });
});

describe('Queue when a load fails', () => {
  let h: DomainHarness;
  beforeAll(async () => {
    h = await DomainHarness.open();
  });
  afterAll(async () => {
    await h.close();
  });

  it('logs a failed read-ahead, surfaces the failure on the next take, and serves on after the store reopens LevelDB', async () => {
    const sent = numbered('r', 2000);
    const q = await h.queueOnDisk('reads', sent);
    const served: string[] = [];
    served.push(text(await take(q))!); // the first refill
    const inWindow = q.memItems;
    expect(inWindow).toBeGreaterThan(256);

    // LevelDB goes away under the store (as when it fails and is being reopened).
    const db = await h.store.snapshotSource();
    await db.close();
    // Down to the low-water mark: the next take starts a read-ahead, which fails.
    while (q.memItems > 256) served.push(text(await take(q))!);
    served.push(text(await take(q))!);
    for (let i = 0; i < 100 && h.warnings().length === 0; i++) await turns(1);
    const warned = h.warnings();
    expect(warned.map((line) => line.msg)).toEqual(['read-ahead failed']);
    expect(warned[0]!.level).toBe(WARN);
    expect(warned[0]!['queue']).toBe('reads');
    expect(warned[0]!['err']).toBeDefined();

    // The window drains; the read it then needs fails in the taker's hands.
    while (q.memItems > 0) served.push(text(await take(q))!);
    const failed = q.take('remove');
    expect(failed).toBeInstanceOf(Promise);
    await expect(failed).rejects.toThrow();
    expect(q.items).toBe(sent.length - served.length); // nothing lost to the failure

    // A write fails on the closed LevelDB; the store reopens it and the queue reads on.
    h.set(q, 'after');
    await h.store.applied();
    served.push(...(await drain(q)));
    expect(served).toEqual([...sent, 'after']);
  });
});
