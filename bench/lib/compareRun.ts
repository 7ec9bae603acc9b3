// The machinery the comparison's scenarios share: the servers as named targets, measuring a list
// of points for all rounds (servers alternating within each round, so noise on the shared
// machine hits all alike), fills, warm-ups, and restarts with their start-up time.

import { performance } from 'node:perf_hooks';

import { runFlood, floodCommand, type FloodRun } from './compareFlood.js';
import { HOST, restartServer, siberiteCommand, startServer, type ServerUnderTest } from './compareProcs.js';
import { medianResult, type FillRecord, type Measurement, type ScenarioResult } from './compareReport.js';
import { rawCommand } from './commands.js';
import { makeTempDir } from './server.js';

export interface BenchContext {
  /** The flood binary. */
  flood: string;
  /** siberite's CLI script (dist/src/cli.js). */
  cli: string;
  /** Where the servers' data directories go (removed at exit). */
  scratch: string;
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  backlogItems: number;
  manyQueues: number;
  log: (line: string) => void;
}

/** A server as a column of the tables. The server changes when it is restarted. */
export interface Target {
  name: string;
  server: ServerUnderTest;
  /** Milliseconds from spawn to the first reply when it was first started. */
  startupMs?: number;
}

/** One measurement point: flood with these settings against this target, once per round. */
export interface Point {
  group: string;
  target: Target;
  size: number;
  conns: number;
  queues: number;
  /** The queue prefix of a round (a fresh one per round means an empty start). */
  prefix: (round: number) => string;
}

/** Connections the fills use: enough to keep each server busy. */
const FILL_CONNS = 50;

export function sizeLabel(size: number): string {
  return size % 1024 === 0 ? `${size / 1024} KiB` : `${size} B`;
}

export function newScenario(id: string, title: string, description: string, targets: Target[]): ScenarioResult {
  const servers = Object.fromEntries(targets.map((t) => [t.name, t.server.child.command]));
  return {
    id,
    title,
    description,
    targets: targets.map((t) => t.name),
    rows: [],
    ratios: [],
    fills: [],
    siberite: [],
    servers,
    notes: [],
    error: null,
  };
}

/** A fresh siberite with its own data directory (`-fsync` when given), warmed up. */
export async function startSiberite(ctx: BenchContext, name: string, fsync?: string): Promise<Target> {
  const dir = makeTempDir('siberite-', ctx.scratch);
  const { server, startupMs } = await startServer('siberite', (port) => siberiteCommand(ctx.cli, port, dir, fsync));
  const target = { name, server, startupMs: Math.round(startupMs) };
  await warmUp(ctx, target);
  return target;
}

function floodRun(p: Point, round: number): FloodRun {
  const redis = p.target.server.kind === 'redis';
  return { port: p.target.server.port, redis, conns: p.conns, seconds: 0, queues: p.queues, size: p.size, prefix: p.prefix(round) };
}

function rowFor(s: ScenarioResult, p: Point, ctx: BenchContext): Measurement {
  let row = s.rows.find((r) => r.group === p.group && r.target === p.target.name);
  if (row === undefined) {
    const flood = floodCommand(ctx.flood, { ...floodRun(p, 1), seconds: ctx.seconds });
    row = { group: p.group, target: p.target.name, size: p.size, conns: p.conns, queues: p.queues, rounds: [], median: null, flood };
    s.rows.push(row);
  }
  return row;
}

/** Measures every point once per round, in the given order within each round. */
export async function measure(ctx: BenchContext, s: ScenarioResult, points: readonly Point[]): Promise<void> {
  for (let round = 1; round <= ctx.rounds; round++) {
    for (const p of points) {
      const result = await runFlood(ctx.flood, { ...floodRun(p, round), seconds: ctx.seconds });
      const row = rowFor(s, p, ctx);
      row.rounds.push(result);
      row.median = medianResult(row.rounds);
      if (p.target.server.kind === 'siberite') row.rssMB = p.target.server.rssMB();
      const ops = result.opsPerSec.toLocaleString('en-US');
      ctx.log(
        `${s.id} round ${round}  ${p.group}  ${p.target.name}: ${ops} ops/s  p50 ${result.p50Us} µs  p99 ${result.p99Us} µs  errors ${result.errors}`,
      );
    }
  }
}

/** Queues `items` sets of `size` bytes, spread evenly over `queues` queues named `<prefix><n>`. */
export async function fill(
  ctx: BenchContext,
  s: ScenarioResult,
  target: Target,
  f: { items: number; queues: number; size: number; prefix: string },
): Promise<void> {
  // Generous: a slow machine fills at a few thousand sets a second.
  const seconds = Math.max(120, Math.ceil(f.items / 1000));
  const run: FloodRun = {
    port: target.server.port,
    redis: target.server.kind === 'redis',
    conns: FILL_CONNS,
    seconds,
    ...f,
    fill: f.items,
  };
  const t0 = performance.now();
  const result = await runFlood(ctx.flood, run);
  const record: FillRecord = {
    target: target.name,
    items: f.items,
    queues: f.queues,
    size: f.size,
    conns: FILL_CONNS,
    seconds: Math.round(performance.now() - t0) / 1000,
    setsPerSec: result.opsPerSec,
  };
  s.fills.push(record);
  ctx.log(`${s.id} fill ${target.name}: ${f.items} × ${f.size} B over ${f.queues} queues in ${record.seconds} s`);
}

/** A short unrecorded flood, so the first measured round does not pay for JIT and allocation. */
export async function warmUp(ctx: BenchContext, target: Target): Promise<void> {
  if (ctx.warmupSeconds <= 0) return;
  const redis = target.server.kind === 'redis';
  await runFlood(ctx.flood, {
    port: target.server.port,
    redis,
    conns: 10,
    seconds: ctx.warmupSeconds,
    queues: 10,
    size: 64,
    prefix: 'warm',
  });
}

/** Empties redis (FLUSHALL) or memcached (flush_all), so a scenario starts from nothing. */
export async function resetPeer(target: Target): Promise<void> {
  const kind = target.server.kind;
  if (kind === 'siberite') return;
  const reply = await rawCommand(HOST, target.server.port, kind === 'redis' ? 'FLUSHALL\r\n' : 'flush_all\r\n', /\r\n$/, 120_000);
  if (!reply.startsWith('+OK') && !reply.startsWith('OK')) throw new Error(`${kind} flush: ${reply.trim()}`);
}

/** Records siberite's RSS now as `what`. */
export function recordRss(s: ScenarioResult, target: Target, what: string): void {
  s.siberite.push({ what: `${target.name}: RSS ${what}`, value: target.server.rssMB(), unit: 'MB' });
}

/** Restarts siberite on its data directory; records the start-up time (spawn → first `version` reply). */
export async function restartAndTime(ctx: BenchContext, s: ScenarioResult, target: Target, what: string): Promise<void> {
  const first = target.startupMs ?? null;
  s.siberite.push({ what: `${target.name}: start-up on its empty data directory (for reference)`, value: first, unit: 'ms' });
  const { server, stopMs, startupMs } = await restartServer(target.server);
  target.server = server;
  s.siberite.push({ what: `${target.name}: stop (SIGTERM → exit) ${what}`, value: Math.round(stopMs), unit: 'ms' });
  s.siberite.push({ what: `${target.name}: start-up (spawn → first version reply) ${what}`, value: Math.round(startupMs), unit: 'ms' });
  ctx.log(`${s.id} restart ${target.name} ${what}: stop ${Math.round(stopMs)} ms, start-up ${Math.round(startupMs)} ms`);
}

/** Stops the given siberite targets (the shared peers stay up). */
export async function stopTargets(targets: readonly Target[]): Promise<void> {
  for (const t of targets) await t.server.child.stop();
}
