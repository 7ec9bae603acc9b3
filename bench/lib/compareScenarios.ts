// The scenarios of the side-by-side comparison (bench/compare.ts). Each starts its own fresh
// siberite (so its RSS and start-up belong to that scenario alone) beside the shared Redis and
// memcached, measures its points for all rounds, derives its ratios and stops its siberite.
//
// - connections: 64 B and 1 KiB × 1, 10, 100 connections, 10 queues, empty start (all three, and
//   a fresh node floor: the minimal Node.js server of bench/lib/nodeFloor.ts);
// - queues: 64 B, 10 connections, over many queues (one item each to begin with) vs 10 queues;
// - backlog: 1 KiB, 10 connections, with a backlog queued over the 10 queues vs empty queues;
// - fsync: siberite with -fsync never, 1000 and always (a fresh server each), 64 B, 100 conns.

import type { ScenarioResult } from './compareReport.js';
import { floorCommand, startServer } from './compareProcs.js';
import { opsRatio } from './compareReport.js';
import {
  fill,
  measure,
  newScenario,
  recordRss,
  resetPeer,
  restartAndTime,
  sizeLabel,
  startSiberite,
  stopTargets,
  warmUp,
  type BenchContext,
  type Point,
  type Target,
} from './compareRun.js';

export interface Peers {
  redis: Target;
  memcached: Target;
}

const OURS = 'siberite';
const FLOOR = 'node floor';

/** A fresh node floor (bench/lib/nodeFloor.ts), warmed up like siberite so its JIT is warm too. */
async function startFloor(ctx: BenchContext): Promise<Target> {
  const { server, startupMs } = await startServer('floor', floorCommand);
  const target = { name: FLOOR, server, startupMs: Math.round(startupMs) };
  await warmUp(ctx, target);
  return target;
}

/** Runs `body`; an error is recorded in the scenario (the comparison goes on), and its own servers stop. */
async function guarded(s: ScenarioResult, own: Target[], body: () => Promise<void>): Promise<ScenarioResult> {
  try {
    await body();
  } catch (err) {
    s.error = (err as Error).message;
  } finally {
    await stopTargets(own);
  }
  return s;
}

/** Adds the ratio "<name>" = ops/s of `a` over ops/s of `b` for every group. */
function groupRatios(s: ScenarioResult, name: string, a: string, b: string): void {
  for (const g of new Set(s.rows.map((r) => r.group))) s.ratios.push({ group: g, name, value: opsRatio(s, [g, a], [g, b]) });
}

/** Adds "<ours>/<peer>" ratios for every group, against each peer present. */
function peerRatios(s: ScenarioResult, ours: string, peers: string[]): void {
  for (const p of peers) groupRatios(s, `ours/${p}`, ours, p);
}

export async function connectionsScenario(ctx: BenchContext, peers: Peers): Promise<ScenarioResult> {
  const ours = await startSiberite(ctx, OURS);
  const floor = await startFloor(ctx).catch(async (err: Error) => {
    await stopTargets([ours]);
    throw err;
  });
  const targets = [ours, peers.redis, peers.memcached, floor];
  const s = newScenario(
    'connections',
    'Empty queues: value size × connections',
    'flood set/get alternating over 10 queues, one request in flight per connection, a fresh set of queues each round',
    targets,
  );
  s.notes.push(
    `${FLOOR}: a minimal Node.js server (bench/lib/nodeFloor.ts, plain node, default flags) answering the same set/get from in-memory arrays, no storage, no durability; the per-request floor of Node's net stack on this machine`,
  );
  return guarded(s, [ours, floor], async () => {
    const points: Point[] = [];
    for (const size of [64, 1024]) {
      for (const conns of [1, 10, 100]) {
        const group = `${sizeLabel(size)}, ${conns} conns`;
        for (const target of targets) points.push({ group, target, size, conns, queues: 10, prefix: (r) => `e${size}c${conns}r${r}q` });
      }
    }
    await measure(ctx, s, points);
    peerRatios(s, OURS, ['redis', 'memcached', FLOOR]);
    groupRatios(s, `${FLOOR}/redis`, FLOOR, 'redis');
    recordRss(s, ours, 'after the scenario');
  });
}

export async function queuesScenario(ctx: BenchContext, peers: Peers): Promise<ScenarioResult> {
  const many = ctx.manyQueues;
  const ours = await startSiberite(ctx, OURS);
  const targets = [ours, peers.redis, peers.memcached];
  const s = newScenario(
    'queues',
    `Queue count: ${many.toLocaleString('en-US')} queues vs 10`,
    `64 B, 10 conns; before the rounds a fill puts one item in each of ${many} queues (memcached: ${many} keys), then flood picks among them at random; the 10-queue rows start empty each round`,
    targets,
  );
  s.notes.push('memcached is the in-memory reference: a set overwrites its key, so it holds one value per queue at most');
  return guarded(s, [ours], async () => {
    await resetPeer(peers.redis);
    await resetPeer(peers.memcached);
    for (const t of targets) await fill(ctx, s, t, { items: many, queues: many, size: 64, prefix: 'mq' });
    recordRss(s, ours, `with ${many} queues of one item`);
    const ten = '64 B, 10 conns, 10 queues';
    const lots = `64 B, 10 conns, ${many} queues`;
    const points: Point[] = [];
    for (const target of targets) points.push({ group: ten, target, size: 64, conns: 10, queues: 10, prefix: (r) => `tq${r}q` });
    for (const target of targets) points.push({ group: lots, target, size: 64, conns: 10, queues: many, prefix: () => 'mq' });
    await measure(ctx, s, points);
    peerRatios(s, OURS, ['redis', 'memcached']);
    for (const t of targets)
      s.ratios.push({ group: '', name: `${t.name} ${many} queues / 10 queues`, value: opsRatio(s, [lots, t.name], [ten, t.name]) });
    recordRss(s, ours, 'after the rounds');
    await restartAndTime(ctx, s, ours, `with ${many} queues`);
    recordRss(s, ours, 'after the restart');
  });
}

export async function backlogScenario(ctx: BenchContext, peers: Peers): Promise<ScenarioResult> {
  const items = ctx.backlogItems;
  const ours = await startSiberite(ctx, OURS);
  const targets = [ours, peers.redis];
  const s = newScenario(
    'backlog',
    `Backlog: 1 KiB values with ${items.toLocaleString('en-US')} items queued vs empty queues`,
    `1 KiB, 10 conns, 10 queues; before the rounds a fill queues ${items} items spread evenly over the 10 backlog queues (flood set/get keeps the backlog level); the empty rows use fresh queues each round`,
    targets,
  );
  s.notes.push('memcached is not measured here: it has no backlog (a set overwrites the key, so a key holds one value)');
  return guarded(s, [ours], async () => {
    await resetPeer(peers.redis);
    for (const t of targets) await fill(ctx, s, t, { items, queues: 10, size: 1024, prefix: 'bl' });
    recordRss(s, ours, `with ${items} × 1 KiB queued`);
    const empty = '1 KiB, 10 conns, empty';
    const backlog = `1 KiB, 10 conns, ${items} queued`;
    const points: Point[] = [];
    for (const target of targets) points.push({ group: empty, target, size: 1024, conns: 10, queues: 10, prefix: (r) => `be${r}q` });
    for (const target of targets) points.push({ group: backlog, target, size: 1024, conns: 10, queues: 10, prefix: () => 'bl' });
    await measure(ctx, s, points);
    peerRatios(s, OURS, ['redis']);
    for (const t of targets)
      s.ratios.push({ group: '', name: `${t.name} backlog / empty`, value: opsRatio(s, [backlog, t.name], [empty, t.name]) });
    recordRss(s, ours, 'after the rounds');
    await restartAndTime(ctx, s, ours, `with ${items} × 1 KiB queued`);
    recordRss(s, ours, 'after the restart');
    // Redis keeps the backlog in memory: give it back before the next scenario.
    await resetPeer(peers.redis);
  });
}

export async function fsyncScenario(ctx: BenchContext, peers: Peers): Promise<ScenarioResult> {
  const modes = ['never', '1000', 'always'];
  const own: Target[] = [];
  for (const m of modes) own.push(await startSiberite(ctx, `siberite -fsync ${m}`, m));
  const s = newScenario(
    'fsync',
    'Durability settings: siberite -fsync never / 1000 / always vs Redis AOF everysec',
    '64 B, 100 conns, 10 queues, empty start; a fresh siberite for each -fsync mode, all measured in the same rounds',
    [...own, peers.redis],
  );
  return guarded(s, own, async () => {
    await resetPeer(peers.redis);
    const group = '64 B, 100 conns';
    const points: Point[] = [...own, peers.redis].map((target) => ({
      group,
      target,
      size: 64,
      conns: 100,
      queues: 10,
      prefix: (r) => `fs${r}q`,
    }));
    await measure(ctx, s, points);
    const [never, ms1000, always] = own.map((t) => t.name) as [string, string, string];
    const pairs: Array<[string, string, string]> = [
      ['always / never', always, never],
      ['1000 / never', ms1000, never],
      ['1000 / redis', ms1000, 'redis'],
      ['never / redis', never, 'redis'],
    ];
    for (const [name, a, b] of pairs) s.ratios.push({ group, name, value: opsRatio(s, [group, a], [group, b]) });
    for (const t of own) recordRss(s, t, 'after the scenario');
  });
}
