// compareCharts: turns a bench/compare.ts results file into what docs/benchmarks.md shows:
//
//   <dir>/compare.md                  the machine, the commands, one table per scenario (medians,
//                                     p99, ratios), the scenario's facts and its chart
//   <dir>/compare-<scenario>.svg      median ops/s per row group, one bar per server
//   <dir>/compare-connections-p99.svg p99 latency of the connections scenario
//
// No dependencies: the charts come from bench/lib/svg.ts.

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

import { Args, runWithOptions, UsageError } from './lib/cli.js';
import {
  commandText,
  findRow,
  groupsOf,
  renderMarkdown,
  scenarioFacts,
  scenarioTable,
  type CompareDoc,
  type ScenarioResult,
} from './lib/compareReport.js';
import { RESULTS_DIR } from './lib/results.js';
import { barChart, color } from './lib/svg.js';

const TOOL = 'compareCharts';
const USAGE = `usage: node dist/bench/compareCharts.js [<compare.json>] <out dir>

Writes compare.md (tables) and compare-*.svg (charts) into <out dir>, e.g. docs/benchmarks/compare.
Without <compare.json>, the newest ${RESULTS_DIR}/compare-*.json.`;

interface Options {
  input: string;
  outDir: string;
}

function newestResults(): string {
  let names: string[];
  try {
    names = readdirSync(RESULTS_DIR).filter((n) => /^compare-.*\.json$/.test(n));
  } catch {
    names = [];
  }
  // The names carry an ISO date-time, so the last in order is the newest.
  const newest = names.sort().at(-1);
  if (newest === undefined) throw new UsageError(`no compare-*.json in ${RESULTS_DIR}; give the file`);
  return join(RESULTS_DIR, newest);
}

function parse(argv: string[]): Options | null {
  const a = new Args(argv, [], [], 2);
  if (a.help) return null;
  const [first, second] = a.positionals;
  if (first === undefined) throw new UsageError('the output directory is missing');
  return second === undefined ? { input: newestResults(), outDir: first } : { input: first, outDir: second };
}

function readDoc(path: string): CompareDoc {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as CompareDoc;
  if (doc.tool !== 'compare' || !Array.isArray(doc.scenarios)) throw new Error(`${path} is not a bench/compare.ts results file`);
  return doc;
}

/** Fixed colours, so each server looks the same in every chart (siberite's fsync modes: blues). */
function targetColor(target: string, i: number): string {
  if (target === 'redis') return '#d62728';
  if (target === 'memcached') return '#2ca02c';
  if (target === 'node floor') return '#7f7f7f';
  if (target === 'siberite' || target.endsWith('never')) return '#1f77b4';
  if (target.endsWith('1000')) return '#6baed6';
  if (target.endsWith('always')) return '#08306b';
  return color(i + 3);
}

function subtitle(doc: CompareDoc): string {
  const m = doc.machine;
  const o = doc.options;
  return `${doc.startedAt.slice(0, 16).replace('T', ' ')} UTC · ${m.cpuModel}, ${m.cores} cores · medians of ${o.rounds} round(s) of ${o.seconds} s`;
}

function chart(doc: CompareDoc, s: ScenarioResult, figure: 'opsPerSec' | 'p99Us'): string {
  const groups = groupsOf(s);
  return barChart({
    title: figure === 'opsPerSec' ? s.title : `${s.title}: p99 latency`,
    subtitle: subtitle(doc),
    xLabel: 'row group',
    yLabel: figure === 'opsPerSec' ? 'ops/s (median)' : 'p99 latency, µs (median)',
    categories: groups,
    series: s.targets.map((t, i) => ({
      name: t,
      color: targetColor(t, i),
      values: groups.map((g) => findRow(s, g, t)?.median?.[figure] ?? null),
    })),
    valueLabels: true,
    width: Math.max(880, 330 + groups.length * s.targets.length * 34),
  });
}

function machineSection(doc: CompareDoc): string[] {
  const m = doc.machine;
  const o = doc.options;
  return [
    `Measured ${doc.startedAt.slice(0, 16).replace('T', ' ')} UTC by \`node dist/bench/compare.js\`${o.quick ? ' --quick' : ''}:`,
    `${o.rounds} round(s) of ${o.seconds} s per row, servers alternating within each round, medians of the rounds;`,
    `${o.warmupSeconds} s unrecorded warm-up on each new server; backlog ${o.backlogItems.toLocaleString('en-US')} items;`,
    `${o.manyQueues.toLocaleString('en-US')} queues in the queue-count scenario.`,
    '',
    `- machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryMB.toLocaleString('en-US')} MB, kernel ${m.kernel}, data on ${m.dataFs ?? 'unknown fs'}; load average at the start ${m.loadAverage.join(' ')}`,
    `- software: node ${m.node}; ${m.redis}; ${m.memcached}; ${m.cc}`,
    `- siberite: \`${commandText(doc.commands.siberite)}\``,
    `- redis: \`${commandText(doc.commands.redis)}\``,
    `- memcached: \`${commandText(doc.commands.memcached)}\``,
    ...(doc.commands.floor === undefined
      ? []
      : [`- node floor (a minimal in-memory Node.js server, bench/lib/nodeFloor.ts): \`${commandText(doc.commands.floor)}\``]),
    `- client: \`${doc.commands.floodUsage}\` (bench/native/flood.c, built with \`cc -O2\`)`,
    ...(doc.failure === null ? [] : [`- **incomplete run**: ${doc.failure}`]),
  ];
}

function scenarioSection(s: ScenarioResult, charts: string[]): string[] {
  const out = [`## ${s.title}`, '', s.description + '.', '', renderMarkdown(scenarioTable(s)), ''];
  const facts = scenarioFacts(s);
  if (facts.length > 0) out.push(...facts.map((f) => `- ${f}`), '');
  for (const c of charts) out.push(`![${s.title}](${c})`, '');
  return out;
}

async function main(opts: Options): Promise<number> {
  const doc = readDoc(opts.input);
  mkdirSync(opts.outDir, { recursive: true });
  const md = [
    `# Side by side: siberite, Redis (AOF everysec), memcached (-t 1)${doc.commands.floor === undefined ? '' : ', node floor'}`,
    '',
    `Generated from \`${basename(opts.input)}\` by bench/compareCharts.ts.`,
    '',
  ];
  md.push(...machineSection(doc), '');
  for (const s of doc.scenarios) {
    const charts: string[] = [];
    const write = (name: string, svg: string): void => {
      writeFileSync(join(opts.outDir, name), svg);
      charts.push(name);
    };
    if (s.rows.length > 0) write(`compare-${s.id}.svg`, chart(doc, s, 'opsPerSec'));
    if (s.id === 'connections' && s.rows.length > 0) write('compare-connections-p99.svg', chart(doc, s, 'p99Us'));
    md.push(...scenarioSection(s, charts));
  }
  writeFileSync(join(opts.outDir, 'compare.md'), md.join('\n'));
  process.stdout.write(`${TOOL}: wrote ${join(opts.outDir, 'compare.md')} and ${doc.scenarios.length} scenario chart(s)\n`);
  return 0;
}

runWithOptions(TOOL, USAGE, parse, main);
