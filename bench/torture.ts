// The kill -9 torture run (docs/durability.md): ROUNDS times, a mixed load of sets, plain gets
// and reliable reads runs against the server, which is killed with SIGKILL at a random moment and
// restarted on the same data directory; the restarted server is drained and every item accounted
// for against every reply the load received. Prints a table; lost and resurrected must be 0.
//
//   node dist/bench/torture.js [--rounds 100] [--workers 6] [--fsync never|always|<ms>]
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Args, runMain } from './lib/cli.js';
import { type Account, TextClient, account, drain, holdOpen, newLedger, runLoad, setCmd } from './lib/ledger.js';
import { SIBERITE_COMMAND, siberiteEnv } from './lib/server.js';

const QUEUES = ['a', 'b', 'c', 'd'];

interface Running {
  proc: ChildProcess;
  port: number;
  exited: Promise<void>;
}

function startServer(dataDir: string, fsync: string): Promise<Running> {
  const proc = spawn(SIBERITE_COMMAND, ['-listen', '127.0.0.1:0', '-data', dataDir, '-fsync', fsync], {
    env: siberiteEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((res) => proc.once('exit', () => res()));
  let output = '';
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server did not start in 60 s:\n${output}`)), 60_000);
    proc.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const m = /"listen":"[^"]*:(\d+)"/.exec(output);
      if (m) {
        clearTimeout(timer);
        res({ proc, port: Number(m[1]), exited });
      }
    });
    proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    void exited.then(() => rej(new Error(`server exited before listening:\n${output}`)));
  });
}

async function kill9(s: Running): Promise<void> {
  s.proc.kill('SIGKILL');
  await s.exited;
}

interface Row extends Account {
  round: number;
  loadMs: number;
}

async function round(n: number, dataDir: string, fsync: string, workers: number): Promise<Row> {
  const server = await startServer(dataDir, fsync);
  // Whatever earlier rounds left is drained first, so each round's account is its own.
  await drain(server.port, QUEUES);
  const tag = `t${n}`;
  const ledger = newLedger();
  const seed = await TextClient.connect(server.port);
  for (let i = 0; i < 40; i++) {
    const value = `${tag}-seed-${i}`;
    if ((await seed.call(setCmd(QUEUES[i % QUEUES.length]!, value))) === 'STORED\r\n') ledger.stored.add(value);
  }
  seed.close();
  const holders = await holdOpen(server.port, 'a', 2, ledger);
  const load = runLoad({ port: server.port, tag, workers, queues: QUEUES, maxOps: 1_000_000 }, ledger);
  const loadMs = 100 + Math.floor(Math.random() * 900);
  await new Promise((r) => setTimeout(r, loadMs));
  await kill9(server);
  await load.done;
  for (const h of holders) h.close();
  const again = await startServer(dataDir, fsync);
  const remaining = await drain(again.port, QUEUES);
  await kill9(again);
  return { round: n, loadMs, ...account(ledger, remaining, tag) };
}

runMain('torture', 'torture [--rounds N] [--workers N] [--fsync never|always|<ms>]', async () => {
  const args = new Args(process.argv.slice(2), ['rounds', 'workers', 'fsync']);
  const rounds = args.int('rounds', 100, 1, 10_000);
  const workers = args.int('workers', 6, 1, 200);
  const fsync = args.str('fsync', 'never');
  const dataDir = mkdtempSync(join(tmpdir(), 'siberite-torture-'));
  const rows: Row[] = [];
  const started = Date.now();
  try {
    for (let n = 1; n <= rounds; n++) {
      const row = await round(n, dataDir, fsync, workers);
      rows.push(row);
      const bad = row.lost.length + row.resurrected.length + row.openLost.length + row.duplicates.length;
      process.stdout.write(
        `round ${String(n).padStart(3)}  load ${String(row.loadMs).padStart(4)} ms  stored ${String(row.stored).padStart(5)}  consumed ${String(row.consumed).padStart(5)}  ` +
          `left ${String(row.remaining).padStart(5)}  lost ${row.lost.length}  resurrected ${row.resurrected.length}  open lost ${row.openLost.length}` +
          `${bad ? '  <-- VIOLATION' : ''}\n`,
      );
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  const sum = (f: (r: Row) => number) => rows.reduce((n, r) => n + f(r), 0);
  const table = [
    ['rounds', rows.length],
    ['items stored (STORED received)', sum((r) => r.stored)],
    ['items consumed (reply received)', sum((r) => r.consumed)],
    ['items left and drained after restart', sum((r) => r.remaining)],
    ['taken by a get whose reply was lost', sum((r) => r.explainedByUnansweredGets)],
    ['lost (must be 0)', sum((r) => r.lost.length)],
    ['resurrected (must be 0)', sum((r) => r.resurrected.length)],
    ['held open and lost (must be 0)', sum((r) => r.openLost.length)],
    ['served twice (must be 0)', sum((r) => r.duplicates.length)],
  ] as const;
  process.stdout.write(
    `\ntorture: -fsync ${fsync}, ${workers} workers, ${((Date.now() - started) / 1000).toFixed(0)} s\n\n| | |\n|---|---|\n`,
  );
  for (const [k, v] of table) process.stdout.write(`| ${k} | ${v} |\n`);
  return sum((r) => r.lost.length + r.resurrected.length + r.openLost.length + r.duplicates.length) === 0 ? 0 : 1;
});
