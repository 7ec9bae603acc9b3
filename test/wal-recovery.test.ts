// Start-up replay of the write-ahead log through the real server: STORED is sent once a batch is
// in the log, before LevelDB has it, so a kill -9 in between must lose nothing. To make that
// moment certain, the test kills the server and then empties its LevelDB (as if none of the
// batches had reached it); the log alone must bring every acknowledged write back, in order.
import { appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it } from 'vitest';
import { drain, fill, walSegments } from './helpers/fixtures.js';
import { statsOf } from './helpers/stats.js';
import { type ServerHandle, startServer } from './helpers/server.js';
import { END, TextClient, value } from './helpers/textClient.js';

const started: ServerHandle[] = [];
const clients: TextClient[] = [];
async function start(dataDir?: string, args?: string[]): Promise<ServerHandle> {
  const s = await startServer({ dataDir, args });
  started.push(s);
  return s;
}
async function connect(s: ServerHandle): Promise<TextClient> {
  const c = await TextClient.connect(s.port);
  clients.push(c);
  return c;
}
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of started) await s.kill9();
  for (const dir of new Set(started.map((s) => s.dataDir))) rmSync(dir, { recursive: true, force: true });
  started.length = 0;
});

/** Deletes every key of the (stopped) server's LevelDB: only the log is left. */
async function wipeLevelDb(dataDir: string): Promise<void> {
  const db = new ClassicLevel<Buffer, Buffer>(dataDir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.clear();
  await db.close();
}

const recoveredIn = (s: ServerHandle) => Number(/"recovered":(\d+)/.exec(s.output())?.[1]);

describe('write-ahead log recovery', () => {
  it('brings back every STORED item, in order, with its flags, from the log alone', async () => {
    const s = await start();
    const c = await connect(s);
    await fill(c, 'wq', ['a', 'b'], 7);
    await fill(c, 'wq', ['c']);
    await fill(c, 'other', ['x']);
    await s.kill9();
    await wipeLevelDb(s.dataDir);

    const again = await start(s.dataDir);
    expect(recoveredIn(again)).toBeGreaterThan(0);
    const c2 = await connect(again);
    expect(await c2.call('get wq\r\n')).toBe(value('wq', 'a', 7));
    expect(await drain(c2, 'wq')).toEqual(['b', 'c']);
    expect(await drain(c2, 'other')).toEqual(['x']);
  });

  it('replays consumption too: consumed items stay consumed, an open one comes back at the head', async () => {
    const s = await start();
    const c = await connect(s);
    await fill(c, 'wc', ['1', '2', '3', '4']);
    expect(await c.call('get wc\r\n')).toBe(value('wc', '1'));
    expect(await c.call('get wc/open\r\n')).toBe(value('wc', '2'));
    // A later STORED means every earlier batch (the consumption of '1' with it) is logged.
    await fill(c, 'wc', ['5']);
    await s.kill9();
    await wipeLevelDb(s.dataDir);

    const again = await start(s.dataDir);
    expect(await drain(await connect(again), 'wc')).toEqual(['2', '3', '4', '5']);
  });

  it('replays a flush and a delete: their items do not come back from the log', async () => {
    const s = await start();
    const c = await connect(s);
    await fill(c, 'wf', ['a', 'b', 'c']);
    await fill(c, 'wd', ['x', 'y']);
    expect(await c.call('flush wf\r\n')).toBe(END);
    expect(await c.call('delete wd\r\n')).toBe('DELETED\r\n');
    await fill(c, 'wf', ['d']); // a later STORED: the flush and the delete are logged before it
    await s.kill9();
    // The range clears themselves are not in the log; the queue's head (after a flush) and the
    // removal of its meta (after a delete) are, and they hide the items the log puts back.
    await wipeLevelDb(s.dataDir);

    const again = await start(s.dataDir);
    const c2 = await connect(again);
    const stats = await statsOf(c2);
    expect(stats.get('queue_wf_items')).toBe('1');
    expect(stats.has('queue_wd_items')).toBe(false);
    expect(await drain(c2, 'wf')).toEqual(['d']);
    expect(await c2.call('get wd\r\n')).toBe(END);
  });

  it('ignores a torn record at the end of the log', async () => {
    const s = await start();
    const c = await connect(s);
    await fill(c, 'wt', ['a', 'b']);
    await s.kill9();
    await wipeLevelDb(s.dataDir);
    const files = walSegments(s.dataDir).sort();
    // A record header promising more bytes than follow: a write cut short by a crash.
    appendFileSync(join(s.dataDir, 'wal', files[files.length - 1]!), Buffer.from([0, 0, 1, 0, 9, 9, 9, 9, 1, 2]));

    const again = await start(s.dataDir);
    const c2 = await connect(again);
    expect(await drain(c2, 'wt')).toEqual(['a', 'b']);
    // The log goes on after it: a write now survives another crash.
    await fill(c2, 'wt', ['c']);
    await again.kill9();
    await wipeLevelDb(s.dataDir);
    const third = await start(s.dataDir);
    expect(await drain(await connect(third), 'wt')).toEqual(['c']);
  });

  it('replays nothing after a clean stop, which leaves no log files', async () => {
    const s = await start();
    await fill(await connect(s), 'wg', ['a']);
    expect(await s.stop()).toBe(0);
    expect(walSegments(s.dataDir)).toEqual([]);
    const again = await start(s.dataDir);
    expect(recoveredIn(again)).toBe(0);
    const c = await connect(again);
    expect(await drain(c, 'wg')).toEqual(['a']);
    expect(await c.call('get wg\r\n')).toBe(END);
  });

  it('with -fsync always writes no log: STORED waits for LevelDB itself', async () => {
    const s = await start(undefined, ['-fsync', 'always']);
    await fill(await connect(s), 'wa', ['a']);
    expect(walSegments(s.dataDir)).toEqual([]);
    await s.kill9();
    const again = await start(s.dataDir, ['-fsync', 'always']);
    expect(await drain(await connect(again), 'wa')).toEqual(['a']);
  });
});
