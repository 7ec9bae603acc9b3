// Reclaiming consumed items and the sweep's bounds, on a real LevelDB in a temp dir with a manual
// clock: the short consumed ranges of many queues go out in one shared write; what a restart
// may have left below a queue's head is cleared a bounded number of queues per sweep; a quiet
// queue is compacted only once it consumed enough; one sweep visits at most 10,000 queues; a
// held item's record is moved out of the larger buffer it arrived in.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Housekeeper } from '../../src/housekeeping.js';
import { type Queue } from '../../src/queue.js';
import { ReclaimBatch } from '../../src/reclaimBatch.js';
import { type Item, RECORD_HEADER, decodeRecord, itemPrefix, prefixRange, recordOf, writeRecordHeader } from '../../src/store/layout.js';
import { Store } from '../../src/store/store.js';
import { DomainHarness, drain, take } from '../helpers/domain.js';
import { LogRecorder } from '../helpers/logRecorder.js';

const IDLE_MS = 5000;
const DRAINED_MS = 900;

let h: DomainHarness;
beforeEach(async () => {
  h = await DomainHarness.open();
});
afterEach(async () => {
  await h.close();
});

/** Counts the calls of the store's background deletes and compactions (they still run). */
function countCalls(store: Store): Record<'clearNow' | 'deleteNow' | 'compactNow', number> {
  const calls = { clearNow: 0, deleteNow: 0, compactNow: 0 };
  for (const name of Object.keys(calls) as Array<keyof typeof calls>) {
    const real = store[name].bind(store) as (...args: unknown[]) => Promise<void>;
    (store as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      calls[name]++;
      return real(...args);
    };
  }
  return calls;
}

/** Ids of `queue`'s items that are still in LevelDB. */
async function storedIds(queue: Queue): Promise<number> {
  return (await h.store.readRange(prefixRange(itemPrefix(queue.name)))).length;
}

/** One sweep's housekeeping of `queues`, as the sweep does it; resolves when the reclaims are done. */
async function housekeepAll(queues: Queue[]): Promise<void> {
  const batch = new ReclaimBatch(h.store);
  const done = queues.map((q) => q.housekeep(IDLE_MS, DRAINED_MS, batch));
  batch.send();
  await Promise.all(done);
}

/** `n` queues holding `items` items each, `consumed` of them taken, every write in LevelDB. */
async function queuesWithConsumed(n: number, items: number, consumed: number, prefix = 'q'): Promise<Queue[]> {
  const queues: Queue[] = [];
  for (let i = 0; i < n; i++) {
    const q = await h.queue(`${prefix}${i}`);
    for (let k = 0; k < items; k++) h.set(q, `${prefix}${i}-${k}`);
    queues.push(q);
  }
  await h.store.applied();
  for (const q of queues) for (let k = 0; k < consumed; k++) await take(q);
  // The metas recording the new heads are in LevelDB: the ranges below them may be reclaimed.
  await h.store.applied();
  return queues;
}

describe('reclaiming consumed items', () => {
  it('deletes the short consumed ranges of many queues in one shared write, not a range delete each', async () => {
    const queues = await queuesWithConsumed(20, 3, 2);
    for (const q of queues) expect(await storedIds(q)).toBe(3);
    const calls = countCalls(h.store);
    await housekeepAll(queues);
    expect(calls).toEqual({ clearNow: 0, deleteNow: 1, compactNow: 0 });
    for (const q of queues) expect(await storedIds(q)).toBe(1);
    // Nothing new consumed: the next sweep writes nothing.
    await housekeepAll(queues);
    expect(calls.deleteNow).toBe(1);
    expect(calls.clearNow).toBe(0);
  });

  it('a failed shared write is logged once, not once per queue; the next sweep deletes; a restart keeps every unconsumed item', async () => {
    // The store logs to a recorder here (the harness's store logs nowhere).
    const log = new LogRecorder();
    await h.store.close();
    h.store = await Store.open(h.dir, { syncAlways: false, readBytes: 1024 * 1024, retryMs: 10, log });
    const queues = await queuesWithConsumed(20, 3, 2);
    // LevelDB goes away under the store, as when it fails and is being reopened.
    await (await h.store.snapshotSource()).close();
    await housekeepAll(queues);
    expect(log.lines.filter((l) => l.msg === 'store: deleting consumed items failed').length).toBe(1);
    // A write fails on the closed LevelDB; the store reopens it.
    h.set(queues[0]!, 'after');
    await h.store.applied();
    await housekeepAll(queues);
    for (const [i, q] of queues.entries()) expect(await storedIds(q)).toBe(i === 0 ? 2 : 1);
    await h.store.close();
    await h.reopen();
    h.budget.used = 0;
    for (const [i, q] of queues.entries()) {
      expect(await drain(await h.queue(q.name))).toEqual(i === 0 ? [`${q.name}-2`, 'after'] : [`${q.name}-2`]);
    }
  });

  it('gives a long consumed range a range delete of its own', async () => {
    const [q] = await queuesWithConsumed(1, 100, 90);
    const calls = countCalls(h.store);
    await housekeepAll([q!]);
    expect(calls.clearNow).toBe(1);
    expect(await storedIds(q!)).toBe(10);
  });

  it('after a restart, clears what was consumed before it, at most 64 queues a sweep', async () => {
    // Each queue consumed one item whose key nothing deleted before the stop.
    const before = await queuesWithConsumed(70, 3, 1, 'r');
    const leftover = await storedIds(before[0]!);
    expect(leftover).toBe(3);
    await h.store.close();
    await h.reopen();
    h.budget.used = 0;
    const queues: Queue[] = [];
    for (let i = 0; i < 70; i++) queues.push(await h.queue(`r${i}`));
    // Touched since the restart (one more consumed), so the sweep looks at their ranges.
    for (const q of queues) await take(q);
    await h.store.applied();
    const calls = countCalls(h.store);
    await housekeepAll(queues);
    expect(calls.clearNow).toBe(64);
    await housekeepAll(queues);
    expect(calls.clearNow).toBe(70);
    // Bounded: nothing is cleared twice.
    await housekeepAll(queues);
    expect(calls.clearNow).toBe(70);
    // The clears run beside the housekeeping: LevelDB settles them before the next applied().
    for (let i = 0; i < 50 && (await storedIds(queues[69]!)) !== 1; i++) await h.store.applied();
    for (const q of queues) expect(await storedIds(q)).toBe(1);
  });

  it('compacts a quiet queue only once it consumed 1,024 items since the last time', async () => {
    const [few, many] = [await queuesWithConsumed(1, 20, 10, 'few'), await queuesWithConsumed(1, 1100, 1100, 'many')];
    const calls = countCalls(h.store);
    h.clock.advance(IDLE_MS + 1);
    await housekeepAll([...few, ...many]);
    expect(calls.compactNow).toBe(1);
    // Consumed more, but still not 1,024: no second compaction of either.
    for (let k = 0; k < 10; k++) await take(few[0]!);
    h.clock.advance(IDLE_MS + 1);
    await housekeepAll([...few, ...many]);
    expect(calls.compactNow).toBe(1);
  });

  it('deletes only consumed items: the unconsumed stay in LevelDB and are served', async () => {
    const [q] = await queuesWithConsumed(1, 5, 2);
    await housekeepAll([q!]);
    const left = await h.store.readRange(prefixRange(itemPrefix(q!.name)));
    expect(left.map(([, record]) => record.subarray(RECORD_HEADER).toString())).toEqual(['q0-2', 'q0-3', 'q0-4']);
    expect((await take(q!))?.data.toString()).toBe('q0-2');
  });
});

describe('the sweep', () => {
  it('visits at most 10,000 queues a sweep, the rest in the next ones, in turn', async () => {
    const n = 12_000;
    const queues = new Map<string, Queue>();
    for (let i = 0; i < n; i++) {
      const q = h.newQueue(`s${i}`);
      h.set(q, 'soon gone', 1000);
      queues.set(q.name, q);
    }
    await h.store.applied();
    const sweeper = new Housekeeper({ store: h.store, queues, requestsServed: () => 0, closing: false }, h.log);
    h.clock.advance(1001);
    await sweeper.sweep();
    expect(h.expired.length).toBe(10_000);
    await sweeper.sweep();
    expect(h.expired.length).toBe(n);
  });
});

describe('records of held items', () => {
  it('a held item stops pinning the larger buffer its record arrived in; bytes, header and order unchanged', async () => {
    const q = h.newQueue('held');
    // Records that are slices of one 64 KiB buffer each, as a socket read hands them over.
    const arrived: ArrayBufferLike[] = [];
    for (let i = 0; i < 50; i++) {
      const shared = Buffer.alloc(64 * 1024);
      const data = Buffer.from(`value-${i}`);
      const record = shared.subarray(1000, 1000 + RECORD_HEADER + data.length);
      data.copy(record, RECORD_HEADER);
      writeRecordHeader(record, 7, h.clock.now(), 0);
      q.append(record, 7, h.clock.now(), 0);
      arrived.push(shared.buffer);
    }
    expect(q.packHeld(1000)).toBe(50);
    // Packed already: looked at again, not moved again.
    const first = (q.take('peek') as Item).data;
    q.packHeld(1000);
    expect((q.take('peek') as Item).data).toBe(first);
    const items: Array<Item | null> = [];
    for (let i = 0; i < 50; i++) items.push(await take(q));
    for (const [i, item] of items.entries()) {
      expect(item!.data.toString()).toBe(`value-${i}`);
      expect(arrived).not.toContain(item!.data.buffer);
      expect(item!.data.buffer.byteLength).toBeLessThanOrEqual(16 * 1024);
      // The record in front of the data is whole: a cursor's retry copy reads it back.
      const decoded = decodeRecord(item!.id, recordOf(item!));
      expect(decoded.damaged).toBeUndefined();
      expect([decoded.flags, decoded.data.toString()]).toEqual([7, `value-${i}`]);
    }
  });
});
