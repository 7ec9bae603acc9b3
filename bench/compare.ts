// compare: the side-by-side comparison of issue 12, run by the bench itself. Starts siberite from
// this checkout, Redis with its append-only file fsynced every second, and memcached with one
// worker thread, each on a free loopback port (and, in the connections scenario, the node floor:
// bench/lib/nodeFloor.ts, the least a Node.js server does per request); drives them with the native flood client
// (bench/native/flood.c, built here with cc); records every round, medians, ratios, the machine
// and the exact commands as JSON; prints the tables. All servers stop at the end (and on Ctrl-C).
// bench/compareCharts.ts turns the JSON into markdown tables and SVG charts.

import { existsSync } from 'node:fs';

import { Args, runWithOptions, UsageError } from './lib/cli.js';
import { buildFlood } from './lib/compareFlood.js';
import { machineFacts, missingPrograms } from './lib/compareMachine.js';
import { floorCommand, HOST, memcachedCommand, redisCommand, siberiteCommand, startServer } from './lib/compareProcs.js';
import { renderText, scenarioFacts, scenarioTable, type CompareDoc, type ScenarioResult } from './lib/compareReport.js';
import type { BenchContext, Target } from './lib/compareRun.js';
import { backlogScenario, connectionsScenario, fsyncScenario, queuesScenario, type Peers } from './lib/compareScenarios.js';
import { RESULTS_DIR, writeResults } from './lib/results.js';
import { makeScratchDir, makeTempDir } from './lib/server.js';

const TOOL = 'compare';
/** Relative to the checkout (the bench runs from its top directory), so the JSON names no local path. */
const SIBERITE_CLI = 'bin/siberite';
const USAGE = `usage: node dist/bench/compare.js [options]

Runs siberite (dist/ of this checkout), Redis (AOF, fsync everysec) and memcached (-t 1) side by
side with bench/native/flood.c, rounds alternating between the servers; medians of the rounds.
The connections scenario also runs the node floor (dist/bench/lib/nodeFloor.js on plain node).
Needs cc, redis-server and memcached on PATH, and a built dist/ (npx tsc -p tsconfig.json).

  --rounds <n>        rounds per measurement                          [3]
  --seconds <s>       seconds per flood run                           [4]
  --warmup <s>        unrecorded flood on each new server             [2]
  --backlog <n>       items queued for the backlog scenario           [1000000]
  --queues <n>        queues of the queue-count scenario              [100000]
  --only <list>       scenarios to run: connections,queues,backlog,fsync   [all]
  --quick             1 round, 1 s, 0.5 s warm-up, a 100,000-item backlog (about 2 minutes)
  --out <file>        where to write the JSON     [${RESULTS_DIR}/compare-<date>.json]
  --help              this text`;

const SCENARIOS = {
  connections: connectionsScenario,
  queues: queuesScenario,
  backlog: backlogScenario,
  fsync: fsyncScenario,
} as const;
type ScenarioId = keyof typeof SCENARIOS;

interface Options {
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  backlogItems: number;
  manyQueues: number;
  quick: boolean;
  only: ScenarioId[];
  out: string;
}

function parse(argv: string[]): Options | null {
  const a = new Args(argv, ['rounds', 'seconds', 'warmup', 'backlog', 'queues', 'only', 'out'], ['quick']);
  if (a.help) return null;
  const quick = a.flag('quick');
  const stamp = new Date().toISOString().slice(0, 16).replace(/:/g, '');
  const only = a.str('only', Object.keys(SCENARIOS).join(',')).split(',');
  for (const id of only) if (!(id in SCENARIOS)) throw new UsageError(`--only: unknown scenario ${JSON.stringify(id)}`);
  return {
    rounds: a.int('rounds', quick ? 1 : 3, 1, 99),
    seconds: a.num('seconds', quick ? 1 : 4, 0.2, 600),
    warmupSeconds: a.num('warmup', quick ? 0.5 : 2, 0, 600),
    backlogItems: a.int('backlog', quick ? 100_000 : 1_000_000, 10, 100_000_000),
    manyQueues: a.int('queues', 100_000, 10, 10_000_000),
    quick,
    only: only as ScenarioId[],
    out: a.str('out', `${RESULTS_DIR}/compare-${stamp}.json`),
  };
}

async function startPeers(scratch: string): Promise<Peers> {
  const redisDir = makeTempDir('redis-', scratch);
  const redis: Target = { name: 'redis', server: (await startServer('redis', (p) => redisCommand(p, redisDir))).server };
  const memcached: Target = { name: 'memcached', server: (await startServer('memcached', memcachedCommand)).server };
  return { redis, memcached };
}

function printScenario(s: ScenarioResult): void {
  process.stdout.write(`\n## ${s.title}\n${s.description}\n\n${renderText(scenarioTable(s))}\n`);
  for (const line of scenarioFacts(s)) process.stdout.write(`  ${line}\n`);
}

/** The programs and the build the comparison needs; a reason when one is missing. */
function prerequisiteProblem(): string | null {
  if (!existsSync(SIBERITE_CLI)) return `${SIBERITE_CLI} is missing: run from a checkout (build first: npx tsc -p tsconfig.json)`;
  const missing = missingPrograms();
  if (missing.length > 0) return `missing ${missing.join(', ')} (apt-get install -y build-essential memcached redis-server)`;
  return null;
}

/** Runs the chosen scenarios in order against the shared peers; one failing does not stop the rest. */
async function runScenarios(ctx: BenchContext, only: readonly ScenarioId[], failures: string[]): Promise<ScenarioResult[]> {
  const done: ScenarioResult[] = [];
  const peers = await startPeers(ctx.scratch);
  try {
    for (const id of only) {
      process.stderr.write(`\n${TOOL}: scenario ${id}\n`);
      const s = await SCENARIOS[id](ctx, peers).catch(
        (err: Error): ScenarioResult | null => (failures.push(`${id}: ${err.message}`), null),
      );
      if (s === null) continue;
      if (s.error !== null) failures.push(`${id}: ${s.error}`);
      done.push(s);
      printScenario(s);
    }
  } finally {
    await peers.redis.server.child.stop();
    await peers.memcached.server.child.stop();
  }
  return done;
}

async function main(opts: Options): Promise<number> {
  const problem = prerequisiteProblem();
  if (problem !== null) {
    process.stderr.write(`${TOOL}: ${problem}\n`);
    return 2;
  }
  const startedAt = new Date();
  const scratch = makeScratchDir('siberite-compare-');
  const flood = buildFlood(scratch.path);
  const ctx: BenchContext = {
    flood: flood.binary,
    cli: SIBERITE_CLI,
    scratch: scratch.path,
    ...opts,
    log: (line) => process.stderr.write(line + '\n'),
  };
  const machine = machineFacts(scratch.path);
  const commands: CompareDoc['commands'] = {
    floodBuild: flood.command,
    floodUsage: '[FLOOD_PROTO=redis] [FLOOD_FILL=N] flood HOST PORT CONNS SECONDS QUEUES SIZE PREFIX',
    siberite: siberiteCommand(ctx.cli, 'PORT', 'DATA_DIR'),
    memcached: memcachedCommand('PORT'),
    redis: redisCommand('PORT', 'DIR'),
    floor: floorCommand('PORT'),
  };
  const failures: string[] = [];
  const scenarios = await runScenarios(ctx, opts.only, failures);
  const { quick, rounds, seconds, warmupSeconds, backlogItems, manyQueues } = opts;
  const options = { quick, rounds, seconds, warmupSeconds, backlogItems, manyQueues, host: HOST };
  const failure = failures.length > 0 ? failures.join('; ') : null;
  writeResults(
    opts.out,
    { tool: TOOL, label: startedAt.toISOString().slice(0, 16), startedAt, options, failure },
    { machine, commands, scenarios },
  );
  scratch.remove();
  process.stdout.write(
    `\nmachine: ${machine.cpuModel}, ${machine.cores} cores, kernel ${machine.kernel}, load ${machine.loadAverage.join(' ')}\n`,
  );
  process.stdout.write(`results: ${opts.out}\n`);
  return failure === null ? 0 : 1;
}

runWithOptions(TOOL, USAGE, parse, main);
