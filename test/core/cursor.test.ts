// Cursor in-process: a real Store over LevelDB in a temp dir, a manual clock, no server. A cursor
// reads its queue without consuming it; its open and aborted reads come back first; its waiters
// have deadlines on the clock; flush rewinds it and delete wakes its waiters.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DomainHarness, drain, numbered, recordingWaiter, take, text } from '../helpers/domain.js';

let h: DomainHarness;
beforeEach(async () => {
  h = await DomainHarness.open();
});
afterEach(async () => {
  await h.close();
});

describe('Cursor: reading', () => {
  it('reads the queue in order without removing anything', async () => {
    const q = await h.queue('feed');
    for (const v of ['a', 'b', 'c']) h.set(q, v);
    const c = h.cursor(q, 'audit');
    expect(c.items).toBe(3);
    expect(await drain(c)).toEqual(['a', 'b', 'c']);
    expect(c.items).toBe(0);
    expect(q.items).toBe(3);
    expect(await drain(q)).toEqual(['a', 'b', 'c']);
  });

  it('starts at the queue head and skips what plain reads consumed meanwhile', async () => {
    const q = await h.queue('head');
    for (const v of ['a', 'b', 'c', 'd']) h.set(q, v);
    await take(q);
    const c = h.cursor(q, 'late');
    await take(q);
    expect(await drain(c)).toEqual(['c', 'd']);
  });

  it('reads items that are only on disk, each cursor at its own pace', async () => {
    const sent = numbered('v', 600);
    const q = await h.queueOnDisk('disk', sent);
    const fast = h.cursor(q, 'fast');
    const slow = h.cursor(q, 'slow');
    expect(await drain(fast)).toEqual(sent);
    expect(text(await take(slow))).toBe('v0');
    expect(q.items).toBe(sent.length);
  });

  it('a peek does not move the cursor', async () => {
    const q = await h.queue('peek');
    h.set(q, 'one');
    const c = h.cursor(q, 'c');
    expect(text(await take(c, 'peek'))).toBe('one');
    expect(text(await take(c))).toBe('one');
    expect(await take(c)).toBeNull();
  });

  it('skips items that expired, on the clock', async () => {
    const q = await h.queue('ttl');
    h.set(q, 'brief', 100);
    h.set(q, 'lasting');
    const c = h.cursor(q, 'c');
    h.clock.advance(100);
    expect(await drain(c)).toEqual(['lasting']);
  });
});

describe('Cursor: open reads', () => {
  it('an aborted read comes back first; a confirmed one does not', async () => {
    const q = await h.queue('tx');
    for (const v of ['a', 'b', 'c']) h.set(q, v);
    const c = h.cursor(q, 'c');
    const a = (await take(c, 'open'))!;
    expect(c.isOpen(a)).toBe(true);
    expect(c.openCount).toBe(1);
    const b = (await take(c, 'open'))!;
    expect(c.release(a)).toBe(true);
    expect(c.release(a)).toBe(false);
    expect(c.confirm(b)).toBe(true);
    expect(c.isOpen(b)).toBe(false);
    expect(await drain(c)).toEqual(['a', 'c']);
  });

  it('an aborted read goes straight to a reader blocked on the cursor', async () => {
    const q = await h.queue('handoff');
    h.set(q, 'x');
    const c = h.cursor(q, 'c');
    const x = (await take(c, 'open'))!;
    const got: Array<string | null> = [];
    c.addWaiter(recordingWaiter('open', got), 5000);
    c.release(x);
    expect(got).toEqual(['x']);
    expect(c.openCount).toBe(1);
  });
});

describe('Cursor: waiters', () => {
  it('serves blocked readers in arrival order as items arrive', async () => {
    const q = await h.queue('wait');
    const c = h.cursor(q, 'c');
    expect(await take(c)).toBeNull();
    const got: Array<string | null> = [];
    c.addWaiter(recordingWaiter('remove', got), 10_000);
    c.addWaiter(recordingWaiter('remove', got), 10_000);
    expect(c.waiterCount).toBe(2);
    h.set(q, 'first');
    h.set(q, 'second');
    expect(got).toEqual(['first', 'second']);
    expect(c.waiterCount).toBe(0);
    expect(q.items).toBe(2); // a cursor never consumes
  });

  it('times a blocked reader out on the clock', async () => {
    const q = await h.queue('timeout');
    const c = h.cursor(q, 'c');
    const got: Array<string | null> = [];
    c.addWaiter(recordingWaiter('remove', got), 500);
    h.clock.advance(499);
    expect(got).toEqual([]);
    h.clock.advance(1);
    expect(got).toEqual([null]);
    h.set(q, 'later');
    expect(got).toEqual([null]);
    expect(text(await take(c))).toBe('later');
  });
});

describe('Cursor: flush and delete', () => {
  it('flush rewinds to the queue head and drops open and aborted reads', async () => {
    const q = await h.queue('flush');
    for (const v of ['a', 'b', 'c']) h.set(q, v);
    const c = h.cursor(q, 'c');
    const a = (await take(c, 'open'))!;
    await take(c);
    await c.flush();
    expect(c.isOpen(a)).toBe(false);
    expect(c.confirm(a)).toBe(false);
    expect(await drain(c)).toEqual(['a', 'b', 'c']);
  });

  it('a flush while a read from disk is out serves each item once, from the head', async () => {
    const q = await h.queueOnDisk('guard', numbered('g', 20));
    const c = h.cursor(q, 'c');
    const loading = c.take('remove');
    expect(loading).toBeInstanceOf(Promise);
    const flushed = c.flush();
    await loading;
    await flushed;
    expect(await drain(c)).toEqual(numbered('g', 20));
  });

  it('delete wakes its waiters with nothing and clears their deadlines; the queue keeps its items', async () => {
    const q = await h.queue('delete');
    h.set(q, 'stays');
    const c = h.cursor(q, 'c');
    await take(c);
    const got: Array<string | null> = [];
    c.addWaiter(recordingWaiter('remove', got), 1000);
    q.editCursors().delete('c');
    await c.destroy();
    expect(got).toEqual([null]);
    expect(c.deleted).toBe(true);
    expect(h.clock.pendingTimers).toBe(0);
    expect(await drain(q)).toEqual(['stays']);
  });
});
