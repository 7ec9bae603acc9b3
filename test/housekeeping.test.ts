// Background housekeeping a user sees on disk and in memory: once a backlog has been drained,
// the server deletes LevelDB's table files for it within a couple of seconds (they stay
// memory-mapped, so resident, until deleted), rather than after the 5 s idle rule.
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ServerHandle, startServer } from './helpers/server.js';
import { END, TextClient, setCmd } from './helpers/textClient.js';

let server: ServerHandle | undefined;
let client: TextClient | undefined;
afterEach(async () => {
  client?.close();
  await server?.kill9();
  server?.cleanup();
  server = client = undefined;
});

/** Bytes in LevelDB's table files (the write-ahead log and LevelDB's own log not counted). */
function tableBytes(dataDir: string): number {
  let sum = 0;
  for (const f of readdirSync(dataDir)) {
    // A compaction may delete a file between the listing and the stat.
    if (f.endsWith('.ldb')) sum += statSync(join(dataDir, f), { throwIfNoEntry: false })?.size ?? 0;
  }
  return sum;
}

/** Polls `check` every 50 ms until it holds; how long that took, or null after `limitMs`. */
async function msUntil(check: () => boolean, limitMs: number): Promise<number | null> {
  const start = Date.now();
  for (let i = 0; i * 50 <= limitMs; i++) {
    if (check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 50));
  }
  return null;
}

describe('a drained backlog', () => {
  it('has its table files deleted within ~2 s of the last get', async () => {
    server = await startServer();
    client = await TextClient.connect(server.port);
    // 24 MB of incompressible items: well past the memtable, so it lands in table files.
    const COUNT = 6000;
    const noise = randomBytes(3 * 4096).toString('base64'); // snappy cannot shrink it
    const item = (i: number) => `${i}:${noise.slice(i % 4096, (i % 4096) + 4096)}`.slice(0, 4096);
    for (let i = 0; i < COUNT; i += 500) {
      client.send(Buffer.concat(Array.from({ length: 500 }, (_, k) => setCmd('hk', item(i + k)))));
      for (let k = 0; k < 500; k++) expect(await client.readReply()).toBe('STORED\r\n');
    }
    expect(await msUntil(() => tableBytes(server!.dataDir) > 8 * 2 ** 20, 10_000)).not.toBeNull();

    for (let i = 0; i < COUNT; i += 500) {
      client.send('get hk\r\n'.repeat(500));
      for (let k = 0; k < 500; k++) expect((await client.readReply()).startsWith(`VALUE hk 0 4096\r\n${i + k}:`)).toBe(true);
    }
    expect(await client.call('get hk\r\n')).toBe(END);
    // The sweep (1 s) finds it drained and quiet for 0.9 s, deletes the range and compacts it;
    // the idle rule alone would take more than 5 s.
    const ms = await msUntil(() => tableBytes(server!.dataDir) < 2 ** 20, 4500);
    expect(ms, 'table files of the drained backlog still there after 4.5 s').not.toBeNull();
  });
});
