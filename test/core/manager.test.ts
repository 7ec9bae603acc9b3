// QueueManager in-process, over a real Store (LevelDB in a temp dir) on a manual clock: set
// outcomes, the read-only rules, fanout, deletes and the counters stats reports.
import { afterEach, describe, expect, it } from 'vitest';
import { expiryFor } from '../../src/manager.js';
import { type SetOutcome } from '../../src/outcomes.js';
import { type SetCommand } from '../../src/protocol/command.js';
import { RECORD_HEADER } from '../../src/store/layout.js';
import { queueTotals, serverStats } from '../../src/stats.js';
import { type Item } from '../../src/store/layout.js';
import { type Core, openCore, queueConfig } from './harness.js';

function setOf(queues: string[], value: string, exptime = 0): SetCommand {
  const data = Buffer.from(value, 'latin1');
  const record = Buffer.alloc(RECORD_HEADER + data.length);
  data.copy(record, RECORD_HEADER);
  return { kind: 'set', key: queues.join('+'), queues, flags: 7, exptime, record, noreply: false };
}

/** The outcome of a set, with the store batch it joined written when it was stored. */
async function set(core: Core, queues: string[], value: string, exptime = 0): Promise<SetOutcome['kind']> {
  const outcome = await core.manager.set(setOf(queues, value, exptime));
  if (outcome.kind === 'stored') await outcome.durable;
  return outcome.kind;
}

/** Takes the head of `queue` for good, reading it in from the store first when needed. */
async function take(core: Core, queue: string): Promise<Item | null> {
  const source = core.manager.queue(queue);
  for (let i = 0; i < 100; i++) {
    const taken = source.take('remove');
    if (!(taken instanceof Promise)) return taken;
    await taken;
  }
  throw new Error('head never loaded');
}

let core: Core | undefined;
afterEach(async () => {
  await core?.close();
  core = undefined;
});

describe('QueueManager.set outcomes', () => {
  it('stores an item: durable settles once its batch is written, and the item is served', async () => {
    core = await openCore();
    const outcome = core.manager.set(setOf(['jobs'], 'hello'));
    expect(outcome).not.toBeInstanceOf(Promise);
    expect((outcome as SetOutcome).kind).toBe('stored');
    await (outcome as Extract<SetOutcome, { kind: 'stored' }>).durable;
    const item = await take(core, 'jobs');
    expect(item?.data.toString('latin1')).toBe('hello');
    expect(item?.flags).toBe(7);
    expect(core.manager.counters.cmdSet).toBe(1);
  });

  it('sets of one batch share one durable promise', async () => {
    core = await openCore();
    const a = core.manager.set(setOf(['a'], '1')) as Extract<SetOutcome, { kind: 'stored' }>;
    const b = core.manager.set(setOf(['b'], '2')) as Extract<SetOutcome, { kind: 'stored' }>;
    expect(a.durable).toBe(b.durable);
    await a.durable;
  });

  it('full: a queue at max_items refuses, unless it discards old items', async () => {
    core = await openCore(queueConfig({ maxItems: 1 }, { rolling: { discardOldWhenFull: true } }));
    expect(await set(core, ['capped'], 'one')).toBe('stored');
    expect(await set(core, ['capped'], 'two')).toBe('full');
    expect(await set(core, ['rolling'], 'one')).toBe('stored');
    expect(await set(core, ['rolling'], 'two')).toBe('stored');
    expect((await take(core, 'rolling'))?.data.toString()).toBe('two');
  });

  it("tooLarge: a value over max_item_size, in any of a fanout set's queues, stores nothing", async () => {
    core = await openCore(queueConfig({}, { small: { maxItemSize: 4 } }));
    expect(await set(core, ['big', 'small'], 'abcdef')).toBe('tooLarge');
    expect(await take(core, 'big')).toBeNull();
    expect(await set(core, ['small'], 'abcd')).toBe('stored');
  });

  it('readOnly in READONLY and QUIESCENT; the status survives a restart', async () => {
    core = await openCore();
    expect(await core.manager.setStatus('readonly')).toBe(true);
    expect(await set(core, ['q'], 'x')).toBe('readOnly');
    expect(await core.manager.setStatus('bogus')).toBe(false);
    await core.reopen();
    expect(core.manager.status).toBe('READONLY');
    expect(await core.manager.setStatus('QUIESCENT')).toBe(true);
    expect(await set(core, ['q'], 'x')).toBe('readOnly');
    expect(await core.manager.setStatus('UP')).toBe(true);
    expect(await set(core, ['q'], 'x')).toBe('stored');
  });

  it('fanout stores one copy in every named queue, kept across a restart', async () => {
    core = await openCore();
    expect(await set(core, ['f1', 'f2', 'f3'], 'copy')).toBe('stored');
    await core.reopen();
    for (const q of ['f1', 'f2', 'f3']) expect((await take(core, q))?.data.toString()).toBe('copy');
  });
});

describe('expiry and time', () => {
  it('expiryFor: relative seconds, absolute Unix seconds, capped by max_age', () => {
    const now = 1_700_000_000_000;
    expect(expiryFor(0, now, null)).toBe(0);
    expect(expiryFor(10, now, null)).toBe(now + 10_000);
    expect(expiryFor(1_800_000_000, now, null)).toBe(1_800_000_000_000);
    expect(expiryFor(0, now, 5000)).toBe(now + 5000);
    expect(expiryFor(60, now, 5000)).toBe(now + 5000);
  });

  it('items are stamped with the injected clock', async () => {
    core = await openCore();
    core.clock.advance(12_345);
    await set(core, ['stamped'], 'x', 30);
    const item = await take(core, 'stamped');
    expect(item?.addTime).toBe(core.clock.now());
    expect(item?.expiry).toBe(core.clock.now() + 30_000);
  });

  it('uptime in stats follows the clock', async () => {
    core = await openCore();
    core.clock.advance(42_000);
    const stats = new Map(serverStats(core.manager));
    expect(stats.get('uptime')).toBe('42');
    expect(stats.get('time')).toBe(String(Math.floor(core.clock.now() / 1000)));
  });
});

describe('queues and counters', () => {
  it('totals keep counting the items of deleted queues', async () => {
    core = await openCore();
    await set(core, ['gone'], 'a');
    await set(core, ['kept'], 'b');
    expect(queueTotals(core.manager)).toMatchObject({ items: 2, totalItems: 2 });
    expect(await core.manager.deleteQueue('gone')).toBe(true);
    expect(await core.manager.deleteQueue('gone')).toBe(false);
    expect(queueTotals(core.manager)).toMatchObject({ items: 1, totalItems: 2 });
    expect(core.manager.counters).toMatchObject({ queueCreates: 2, queueDeletes: 1 });
  });

  it('flush_all empties every queue and the store', async () => {
    core = await openCore();
    for (let i = 0; i < 5; i++) await set(core, [`q${i}`], `v${i}`);
    await core.manager.flushAll();
    await core.reopen();
    for (let i = 0; i < 5; i++) expect(await take(core, `q${i}`)).toBeNull();
  });

  it('cursors and their positions come back after a restart', async () => {
    core = await openCore();
    await set(core, ['log'], 'first');
    await set(core, ['log'], 'second');
    const cursor = core.manager.source({ queue: 'log', cursor: 'reader' });
    let taken = cursor.take('remove');
    for (let i = 0; i < 100 && taken instanceof Promise; i++) taken = (await taken, cursor.take('remove'));
    expect((taken as Item).data.toString()).toBe('first');
    await core.manager.store.written();
    await core.reopen();
    const again = core.manager.source({ queue: 'log', cursor: 'reader' });
    let next = again.take('remove');
    for (let i = 0; i < 100 && next instanceof Promise; i++) next = (await next, again.take('remove'));
    expect((next as Item).data.toString()).toBe('second');
  });
});
