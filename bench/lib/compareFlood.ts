// The native flood client (bench/native/flood.c) for the side-by-side comparison: built with the
// system's C compiler when a bench starts, run once per measurement, its one output line parsed.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

import { Child, HOST, type CommandLine } from './compareProcs.js';

export const FLOOD_SOURCE_PATH = 'bench/native/flood.c';

/** What flood prints: `ops/s p50_us p99_us errors`. */
export interface FloodResult {
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
  errors: number;
}

export interface FloodRun {
  port: number;
  redis: boolean;
  conns: number;
  seconds: number;
  queues: number;
  size: number;
  /** Queue (key) names are `<prefix><n>`, n < queues. */
  prefix: string;
  /** Fill mode: sets only, until this many are acknowledged (FLOOD_FILL). */
  fill?: number;
}

/** flood.c in this checkout, whether run from dist/bench/lib or (under vitest) bench/lib. */
export function floodSource(): string {
  let dir = import.meta.dirname;
  for (let up = 0; up < 5; up++) {
    const candidate = join(dir, FLOOD_SOURCE_PATH);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`cannot find ${FLOOD_SOURCE_PATH} above ${import.meta.dirname}`);
}

/** Compiles flood.c into `outDir`; returns the binary's path and the compiler command used. */
export function buildFlood(outDir: string): { binary: string; command: string[] } {
  const binary = join(outDir, 'flood');
  // Relative to the working directory when inside it, so the recorded command names no local path.
  const source = relative(process.cwd(), floodSource());
  const command = ['cc', '-O2', '-o', binary, source.startsWith('..') ? floodSource() : source];
  try {
    execFileSync(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`building flood failed (${command.join(' ')}): ${e.stderr?.toString().trim() || e.message}`);
  }
  return { binary, command };
}

/** The exact command of one flood run (for the JSON). */
export function floodCommand(binary: string, run: FloodRun): CommandLine {
  const env: Record<string, string> = {};
  if (run.redis) env.FLOOD_PROTO = 'redis';
  if (run.fill !== undefined) env.FLOOD_FILL = String(run.fill);
  const argv = [binary, HOST, String(run.port), String(run.conns), String(run.seconds), String(run.queues), String(run.size), run.prefix];
  return { argv, env };
}

/** Exit status flood uses when a fill ran out of time before all its sets were acknowledged. */
const FILL_SHORT = 3;
/** Time allowed beyond flood's own bound before it is killed. */
const GRACE_MS = 60_000;

/** Runs flood once and parses its line; throws if it fails, or if a fill ran out of time. */
export async function runFlood(binary: string, run: FloodRun): Promise<FloodResult> {
  const child = Child.start(floodCommand(binary, run));
  const timer = setTimeout(() => child.kill(), run.seconds * 1000 + GRACE_MS);
  const code = await child.exited;
  clearTimeout(timer);
  const out = child.output();
  const m = /^(\d+) (\d+) (\d+) (\d+)$/m.exec(out);
  if (code === FILL_SHORT) throw new Error(`fill incomplete: ${out.trim()}`);
  if (code !== 0 || !m) throw new Error(`flood exited with ${code}: ${out.trim()}`);
  return { opsPerSec: Number(m[1]), p50Us: Number(m[2]), p99Us: Number(m[3]), errors: Number(m[4]) };
}
