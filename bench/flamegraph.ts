// flamegraph: a V8 CPU profile (.cpuprofile, from `node --cpu-prof`) as a static SVG flame graph
// (no dependencies): the root at the bottom, one rectangle per stack frame, as wide as the
// samples taken in it and everything it called; the same function under the same parent is one
// frame. Colours tell siberite's own code (dist/src) from other JS, Node internals and V8/native
// frames; every rectangle has a tooltip. Also prints the functions with the most self samples.
// bench/profile.sh profiles a server under a bench workload and runs this on the profile.
//
// The folding and the layout live in lib/flame.ts.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve as resolvePath } from 'node:path';

import { Args, runWithOptions, UsageError } from './lib/cli.js';
import { flameSvg, foldProfile, parseProfile, ProfileError, topSelf, type CpuProfile, type Frame } from './lib/flame.js';
import { round, TablePrinter } from './lib/stats.js';

const TOOL = 'flamegraph';
const USAGE = `usage: node dist/bench/flamegraph.js <in.cpuprofile> [options]

  --out <file.svg>      where to write the flame graph            [<in> with .svg for .cpuprofile]
  --title <text>        the graph's title                         [CPU profile: <in file name>]
  --min-percent <p>     leave out frames narrower than p % of all samples    [0.2]
  --top <n>             print the n functions with the most self samples      [10]
  --help                this text

Exit status: 0 written, 2 bad arguments or a file that is not a readable V8 CPU profile,
1 the SVG could not be written.`;

interface Options {
  input: string;
  out: string;
  title: string;
  minPercent: number;
  top: number;
}

function parseArgs(argv: string[]): Options | null {
  const a = new Args(argv, ['out', 'title', 'min-percent', 'top'], [], 1);
  if (a.help) return null;
  const input = a.positionals[0];
  if (input === undefined) throw new UsageError('no .cpuprofile file given');
  return {
    input,
    out: a.str('out', input.replace(/\.cpuprofile$/, '') + '.svg'),
    title: a.str('title', `CPU profile: ${basename(input)}`),
    minPercent: a.num('min-percent', 0.2, 0, 100),
    top: a.int('top', 10, 0, 1000),
  };
}

async function main(o: Options): Promise<number> {
  let profile: CpuProfile;
  let root: Frame;
  try {
    profile = parseProfile(readFileSync(o.input, 'utf8'));
    root = foldProfile(profile);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      err instanceof ProfileError ? err.message : e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    process.stderr.write(`${TOOL}: ${o.input}: ${why}\n`);
    return 2;
  }
  if (root.total === 0) {
    process.stderr.write(`${TOOL}: ${o.input}: the profile has no samples\n`);
    return 2;
  }
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  const subtitle =
    `${root.total} samples over ${round(seconds, 1)} s (~${Math.round((seconds * 1e6) / root.total)} µs apart); ` +
    `frames under ${o.minPercent} % of the samples left out; hover a frame for its file, line and samples`;
  const svg = flameSvg(root, { title: o.title, subtitle, minPercent: o.minPercent });
  try {
    mkdirSync(dirname(resolvePath(o.out)), { recursive: true });
    writeFileSync(o.out, svg);
  } catch (err) {
    process.stderr.write(`${TOOL}: cannot write ${o.out}: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`wrote ${o.out} (${Math.round(svg.length / 1024)} KiB, ${root.total} samples)\n`);

  if (o.top > 0) {
    const table = new TablePrinter([
      { title: 'self %', width: 7 },
      { title: 'samples', width: 8 },
      { title: 'kind', width: 7, align: 'left' },
      { title: 'function (file:line)', width: 60, align: 'left' },
    ]);
    table.header();
    for (const e of topSelf(root, o.top)) table.row([e.percent.toFixed(1), String(e.self), e.kind, e.label]);
  }
  return 0;
}

runWithOptions(TOOL, USAGE, parseArgs, main);
