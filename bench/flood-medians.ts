// flood-medians: the median of several flood rounds per server and connection count, and each
// server's ratio to the reference (memcached). On a shared VM one run can be ±30 % off; rounds
// run alternately (siberite, memcached, siberite, …, see run-all.sh --flood-rounds) and their
// medians compare the servers under the same conditions.
//
// Writes bench/results/flood-<label>.json for each label: the envelope of its first round, and
// per connection count the round whose ops/s is the median (a real measured result, latency
// included), so bench/charts.ts draws medians.

import { readFileSync } from 'node:fs';

import { runMain, UsageError } from './lib/cli.js';
import { defaultResultsPath, writeResults } from './lib/results.js';
import { formatInt, TablePrinter } from './lib/stats.js';

const TOOL = 'flood-medians';
const USAGE = `usage: node dist/bench/flood-medians.js [--reference <label>] <flood result .json>...

  --reference <label>   the label the others are compared to       [memcached]
  <files>               flood results, several rounds per label (e.g. bench/results/flood-*-r*.json)`;

interface FloodResult {
  connections: number;
  opsPerSec: number;
}

interface FloodFile {
  tool: string;
  label: string;
  startedAt: string;
  options: Record<string, unknown>;
  results: FloodResult[];
}

/** The median element by ops/s (the lower middle one of an even count). */
export function medianResult<T extends { opsPerSec: number }>(rounds: T[]): T {
  const sorted = [...rounds].sort((a, b) => a.opsPerSec - b.opsPerSec);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  let reference = 'memcached';
  const at = argv.indexOf('--reference');
  if (at >= 0) {
    reference = argv[at + 1] ?? '';
    if (!reference) throw new UsageError('--reference needs a label');
    argv.splice(at, 2);
  }
  const files = argv;
  if (files.length === 0) throw new UsageError('no result files given');
  const unknown = files.find((f) => f.startsWith('--'));
  if (unknown) throw new UsageError(`unknown option ${unknown}`);

  // label → connections → every round's result
  const byLabel = new Map<string, { first: FloodFile; levels: Map<number, FloodResult[]> }>();
  for (const file of files) {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as FloodFile;
    if (doc.tool !== 'flood') throw new UsageError(`${file} is not a flood result`);
    const entry = byLabel.get(doc.label) ?? { first: doc, levels: new Map<number, FloodResult[]>() };
    byLabel.set(doc.label, entry);
    for (const r of doc.results) entry.levels.set(r.connections, [...(entry.levels.get(r.connections) ?? []), r]);
  }

  const ref = byLabel.get(reference);
  const table = new TablePrinter([
    { title: 'label', width: 10, align: 'left' },
    { title: 'conns', width: 5 },
    { title: 'rounds (ops/s)', width: 44, align: 'left' },
    { title: 'median', width: 9 },
    { title: `of ${reference}`, width: 13 },
  ]);
  table.header();
  for (const [label, { first, levels }] of byLabel) {
    const medians: FloodResult[] = [];
    for (const [connections, rounds] of [...levels].sort((a, b) => a[0] - b[0])) {
      const median = medianResult(rounds);
      medians.push(median);
      const refRounds = ref?.levels.get(connections);
      const ratio = refRounds && label !== reference ? `${Math.round((100 * median.opsPerSec) / medianResult(refRounds).opsPerSec)} %` : '';
      table.row([label, String(connections), rounds.map((r) => formatInt(r.opsPerSec)).join(' / '), formatInt(median.opsPerSec), ratio]);
    }
    writeResults(
      defaultResultsPath('flood', label),
      {
        tool: 'flood',
        label,
        startedAt: new Date(first.startedAt),
        options: { ...first.options, rounds: levels.values().next().value?.length },
        failure: null,
      },
      { results: medians },
    );
  }
  return 0;
}

runMain(TOOL, USAGE, main);
