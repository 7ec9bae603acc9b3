// The side-by-side comparison's results (bench/compare.ts writes them as JSON, compareCharts.ts
// reads them back): measurements with their rounds and medians, the ratios between servers, and
// the tables both print (fixed-width on the terminal, markdown for the docs).

import type { FloodResult } from './compareFlood.js';
import type { CommandLine } from './compareProcs.js';
import type { MachineFacts } from './compareMachine.js';

/** One server (in one configuration) measured at one point of a scenario, over all rounds. */
export interface Measurement {
  /** The row group: what was measured, e.g. "64 B, 10 conns" or "1 KiB, 10 conns, backlog". */
  group: string;
  /** Who: "siberite", "siberite -fsync 1000", "redis", "memcached", "node floor". */
  target: string;
  size: number;
  conns: number;
  queues: number;
  /** Every round's flood line, in order. */
  rounds: FloodResult[];
  /** Median of each figure over the rounds (null before the first round). */
  median: FloodResult | null;
  /** siberite's VmRSS in MB right after this row's last round (siberite rows only). */
  rssMB?: number | null;
  /** The flood command of the first round (later rounds differ only in the queue prefix). */
  flood: CommandLine;
}

/** ops/s of `a` over ops/s of `b` within one scenario. */
export interface Ratio {
  /** The row group it belongs to, or "" for a ratio across groups. */
  group: string;
  name: string;
  value: number | null;
}

/** A fill before measuring (FLOOD_FILL): how many sets, how fast. */
export interface FillRecord {
  target: string;
  items: number;
  queues: number;
  size: number;
  conns: number;
  seconds: number;
  setsPerSec: number;
}

/** A siberite fact measured once in a scenario: RSS at some moment, a restart's start-up time. */
export interface SiberiteFact {
  /** "<target>: <what>", e.g. "siberite: RSS after the rounds". */
  what: string;
  value: number | null;
  unit: 'MB' | 'ms';
}

export interface ScenarioResult {
  id: string;
  title: string;
  description: string;
  /** Targets in column order. */
  targets: string[];
  rows: Measurement[];
  ratios: Ratio[];
  fills: FillRecord[];
  siberite: SiberiteFact[];
  /** The exact server commands, per target. */
  servers: Record<string, CommandLine>;
  notes: string[];
  /** Why the scenario stopped early, or null. */
  error: string | null;
}

export interface CompareDoc {
  tool: 'compare';
  label: string;
  startedAt: string;
  finishedAt: string;
  options: { rounds: number; seconds: number; warmupSeconds: number; quick: boolean; backlogItems: number; manyQueues: number };
  failure: string | null;
  machine: MachineFacts;
  commands: {
    floodBuild: string[];
    floodUsage: string;
    siberite: CommandLine;
    memcached: CommandLine;
    redis: CommandLine;
    /** The node floor (bench/lib/nodeFloor.ts); absent in results written before it existed. */
    floor?: CommandLine;
  };
  scenarios: ScenarioResult[];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median of each flood figure separately (as shared/bench/compare.sh did). */
export function medianResult(rounds: readonly FloodResult[]): FloodResult | null {
  if (rounds.length === 0) return null;
  const of = (k: keyof FloodResult): number => Math.round(median(rounds.map((r) => r[k])));
  return { opsPerSec: of('opsPerSec'), p50Us: of('p50Us'), p99Us: of('p99Us'), errors: rounds.reduce((n, r) => n + r.errors, 0) };
}

export function findRow(s: ScenarioResult, group: string, target: string): Measurement | undefined {
  return s.rows.find((r) => r.group === group && r.target === target);
}

/** ops/s of (groupA, targetA) over (groupB, targetB), to 3 decimals; null if either is missing. */
export function opsRatio(s: ScenarioResult, a: [string, string], b: [string, string]): number | null {
  const x = findRow(s, ...a)?.median?.opsPerSec;
  const y = findRow(s, ...b)?.median?.opsPerSec;
  if (x === undefined || y === undefined || y === 0) return null;
  return Math.round((x / y) * 1000) / 1000;
}

/** Groups in the order their first row was measured. */
export function groupsOf(s: ScenarioResult): string[] {
  return [...new Set(s.rows.map((r) => r.group))];
}

/** A table as header cells and row cells, rendered as text or markdown. */
export interface Table {
  headers: string[];
  rows: string[][];
}

function fmtInt(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : Math.round(x).toLocaleString('en-US');
}

export function fmtRatio(x: number | null): string {
  return x === null ? '-' : x.toFixed(2);
}

/**
 * One row per group: each target's median ops/s, then each target's p99 in µs, then the ratios of
 * that group (as columns, by name).
 */
export function scenarioTable(s: ScenarioResult): Table {
  const groups = groupsOf(s);
  const ratioNames = [...new Set(s.ratios.filter((r) => r.group !== '').map((r) => r.name))];
  const headers = ['', ...s.targets.map((t) => `${t} ops/s`), ...s.targets.map((t) => `${t} p99 µs`), ...ratioNames];
  const rows = groups.map((g) => [
    g,
    ...s.targets.map((t) => fmtInt(findRow(s, g, t)?.median?.opsPerSec)),
    ...s.targets.map((t) => fmtInt(findRow(s, g, t)?.median?.p99Us)),
    ...ratioNames.map((n) => fmtRatio(s.ratios.find((r) => r.group === g && r.name === n)?.value ?? null)),
  ]);
  return { headers, rows };
}

/** The ratios across groups and the siberite facts, as "name: value" lines. */
export function scenarioFacts(s: ScenarioResult): string[] {
  const lines = s.ratios.filter((r) => r.group === '').map((r) => `${r.name}: ${fmtRatio(r.value)}`);
  for (const f of s.fills) {
    lines.push(
      `fill ${f.target}: ${fmtInt(f.items)} × ${f.size} B over ${fmtInt(f.queues)} queues in ${f.seconds.toFixed(1)} s (${fmtInt(f.setsPerSec)} sets/s)`,
    );
  }
  for (const f of s.siberite) lines.push(`${f.what}: ${f.value === null ? '-' : `${fmtInt(f.value)} ${f.unit}`}`);
  return lines.concat(s.notes, s.error === null ? [] : [`stopped early: ${s.error}`]);
}

export function renderText(t: Table): string {
  const widths = t.headers.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(t.headers), line(widths.map((w) => '-'.repeat(w))), ...t.rows.map(line)].join('\n');
}

export function renderMarkdown(t: Table): string {
  const esc = (c: string): string => c.replace(/\|/g, '\\|');
  const line = (cells: string[]): string => `| ${cells.map(esc).join(' | ')} |`;
  const align = t.headers.map((_, i) => (i === 0 ? '---' : '---:'));
  return [line(t.headers), `|${align.join('|')}|`, ...t.rows.map(line)].join('\n');
}

/** A command line as one shell-like string: `A=1 B=2 prog arg ''`. */
export function commandText(c: CommandLine): string {
  const quote = (a: string): string => (a === '' ? "''" : /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  const env = Object.entries(c.env).map(([k, v]) => `${k}=${quote(v)}`);
  return [...env, ...c.argv.map(quote)].join(' ');
}
