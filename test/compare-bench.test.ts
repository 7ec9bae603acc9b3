// Smoke of the side-by-side comparison's pieces (bench/compare.ts): flood.c builds with cc; its
// fill mode stores exactly the number of items asked for, spread evenly over the queues, on
// siberite (counted by `stats`) and on Redis (LLEN); a short flood runs without errors against
// siberite and memcached; a fill that runs out of time says so. Skipped, with the reason in its
// name, when cc, memcached or redis-server is missing. Spawns dist/ (build it first).
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { rawCommand, serverStats } from '../bench/lib/commands.js';
import { buildFlood, runFlood, type FloodRun } from '../bench/lib/compareFlood.js';
import { missingPrograms } from '../bench/lib/compareMachine.js';
import { HOST, memcachedCommand, redisCommand, siberiteCommand, startServer, type ServerUnderTest } from '../bench/lib/compareProcs.js';
import { makeTempDir, SIBERITE_COMMAND } from '../bench/lib/server.js';

const missing = missingPrograms(['cc', 'memcached', 'redis-server']);
const skipReason = missing.length > 0 ? ` (skipped: ${missing.join(', ')} not installed)` : '';

const FILL = 500;
const QUEUES = 3;

describe.skipIf(missing.length > 0)(`compare bench: flood.c fill and flood${skipReason}`, () => {
  let scratch = '';
  let flood = '';
  const servers: ServerUnderTest[] = [];
  let siberite: ServerUnderTest;
  let redis: ServerUnderTest;
  let memcached: ServerUnderTest;

  beforeAll(async () => {
    scratch = makeTempDir('siberite-compare-test-');
    flood = buildFlood(scratch).binary;
    const dataDir = makeTempDir('data-', scratch);
    const redisDir = makeTempDir('redis-', scratch);
    const starts = await Promise.all([
      startServer('siberite', (p) => siberiteCommand(SIBERITE_COMMAND, p, dataDir), 20_000),
      startServer('redis', (p) => redisCommand(p, redisDir), 20_000),
      startServer('memcached', memcachedCommand, 20_000),
    ]);
    [siberite, redis, memcached] = starts.map((s) => s.server) as [ServerUnderTest, ServerUnderTest, ServerUnderTest];
    servers.push(siberite, redis, memcached);
  });

  afterAll(async () => {
    for (const s of servers) await s.child.stop(5000);
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  });

  const run = (server: ServerUnderTest, r: Partial<FloodRun>): FloodRun => ({
    port: server.port,
    redis: server.kind === 'redis',
    conns: 4,
    seconds: 0.5,
    queues: QUEUES,
    size: 64,
    prefix: 'smoke',
    ...r,
  });

  it(`FLOOD_FILL=${FILL} leaves exactly ${FILL} items, spread evenly, in siberite's queues`, async () => {
    // More connections than a round of queues, so sets are in flight together when the target is hit.
    const fill = await runFlood(flood, run(siberite, { conns: 7, seconds: 15, prefix: 'cf', fill: FILL }));
    expect(fill.errors).toBe(0);
    const st = await serverStats(HOST, siberite.port);
    const items = [0, 1, 2].map((q) => Number(st.get(`queue_cf${q}_items`)));
    expect(items).toEqual([167, 167, 166]);
  });

  it(`FLOOD_FILL=${FILL} with FLOOD_PROTO=redis leaves exactly ${FILL} items in the Redis lists`, async () => {
    await runFlood(flood, run(redis, { conns: 7, seconds: 15, prefix: 'rf', fill: FILL }));
    const lens: number[] = [];
    for (let q = 0; q < QUEUES; q++) {
      const reply = await rawCommand(HOST, redis.port, `LLEN rf${q}\r\n`, /\r\n$/);
      lens.push(Number(/^:(\d+)\r\n$/.exec(reply)?.[1]));
    }
    expect(lens).toEqual([167, 167, 166]);
  });

  it('a short flood runs without errors against siberite and memcached', async () => {
    for (const server of [siberite, memcached]) {
      const r = await runFlood(flood, run(server, { prefix: 'fl' }));
      expect(r.opsPerSec, server.kind).toBeGreaterThan(0);
      expect(r.errors, server.kind).toBe(0);
      expect(r.p99Us, server.kind).toBeGreaterThanOrEqual(r.p50Us);
    }
  });

  it('a fill that runs out of time stops at its SECONDS bound and says so', async () => {
    await expect(runFlood(flood, run(memcached, { seconds: 0.3, prefix: 'big', fill: 100_000_000 }))).rejects.toThrow(
      /fill incomplete.*of 100000000 sets acknowledged/s,
    );
  });
});
