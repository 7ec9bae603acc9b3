// Throughput and peak memory of `siberite import`, `export` and `restore` with a large queue.
//
//   node dist/bench/portability.js [--items 1000000] [--size 100] [--dir /tmp]
//
// Builds a Go Siberite 0.6 data directory (one queue `bench` of --items items of --size bytes,
// a cursor half way and a few failed reads), then times, each as its own `siberite` process:
// import into a new data directory, export of that to a file, restore of the file into another.
// CPU time and peak RSS are the process's own (process.resourceUsage() as it exits). Prints a table; the
// directories are deleted at the end.
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openDataDir } from '../src/store/portable.js';
import { SIBERITE_COMMAND, siberiteEnv } from './lib/server.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '1000000' },
    size: { type: 'string', default: '100' },
    dir: { type: 'string', default: tmpdir() },
  },
});
const ITEMS = Number(args.items);
const SIZE = Number(args.size);

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** A Go Siberite data directory: data/bench/bench (items) and data/bench/_.metadata (cursors). */
async function buildGoSource(root: string): Promise<string> {
  const data = join(root, 'go-data');
  mkdirSync(join(data, 'bench'), { recursive: true });
  const items = await openDataDir(join(data, 'bench', 'bench'), true);
  const value = Buffer.alloc(SIZE, 'x');
  for (let from = 1; from <= ITEMS; from += 10_000) {
    const ops = [];
    for (let id = from; id < Math.min(from + 10_000, ITEMS + 1); id++) {
      const v = Buffer.from(value);
      v.write(String(id));
      ops.push({ type: 'put' as const, key: u64(id), value: v });
    }
    await items.batch(ops);
  }
  await items.close();
  const meta = await openDataDir(join(data, 'bench', '_.metadata'), true);
  const failed = (i: number) => Buffer.concat([Buffer.from('_r:half:', 'latin1'), u64(i)]);
  await meta.batch([
    { type: 'put', key: Buffer.from('_c:half'), value: u64(Math.floor(ITEMS / 2)) },
    ...[1, 2, 3].map((i) => ({ type: 'put' as const, key: failed(i), value: Buffer.from(`failed-${i}`) })),
  ]);
  await meta.close();
  return data;
}

interface Run {
  seconds: number;
  cpuSeconds: number;
  peakRssMB: number;
  stdout: string;
  stderr: string;
}

/**
 * Prints the process's own resource usage to stderr as it exits (loaded with --import); base64,
 * since bin/siberite splits its extra node options on spaces.
 */
const RUSAGE_HOOK =
  'data:text/javascript;base64,' +
  Buffer.from('process.on("exit",()=>process.stderr.write("\\nRUSAGE "+JSON.stringify(process.resourceUsage())+"\\n"))').toString('base64');

/**
 * Runs `siberite <args>` as the installed command (bin/siberite, with its runtime tuning), stdin/stdout
 * from/to files when given; wall time, CPU time and peak RSS.
 */
async function run(cliArgs: string[], io: { stdin?: string; stdout?: string } = {}): Promise<Run> {
  const started = process.hrtime.bigint();
  const env = siberiteEnv(['--import', RUSAGE_HOOK]);
  const proc = spawn(SIBERITE_COMMAND, [...cliArgs, '-quiet'], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  if (io.stdout) proc.stdout.pipe(createWriteStream(io.stdout));
  else proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  if (io.stdin) createReadStream(io.stdin).pipe(proc.stdin);
  else proc.stdin.end();
  const code = await new Promise<number | null>((res) => proc.once('close', (c) => res(c)));
  const usage = /RUSAGE (\{.*\})/.exec(stderr);
  if (code !== 0 || !usage) throw new Error(`siberite ${cliArgs[0]} exited ${code}:\n${stderr}`);
  const r = JSON.parse(usage[1]!) as { userCPUTime: number; systemCPUTime: number; maxRSS: number };
  return {
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    cpuSeconds: (r.userCPUTime + r.systemCPUTime) / 1e6,
    peakRssMB: r.maxRSS / 1024,
    stdout,
    stderr,
  };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(resolve(args.dir!), 'siberite-bench-portability-'));
  try {
    process.stderr.write(`building a Go Siberite directory: ${ITEMS} items of ${SIZE} bytes…\n`);
    const from = await buildGoSource(root);
    const imported = join(root, 'imported');
    const restored = join(root, 'restored');
    const backup = join(root, 'backup.jsonl');
    const valueMB = (ITEMS * SIZE) / 1e6;

    const rows: Array<[string, Run, number]> = [];
    const imp = await run(['import', '-from', from, '-data', imported]);
    if (!imp.stdout.includes(`items ${ITEMS.toLocaleString('en-US')}`)) throw new Error(`import summary:\n${imp.stdout}`);
    rows.push(['import (Go → LevelDB)', imp, valueMB]);
    const exp = await run(['export', '-data', imported], { stdout: backup });
    rows.push(['export (LevelDB → JSONL)', exp, valueMB]);
    const res = await run(['restore', '-data', restored, '-in', backup]);
    if (!res.stdout.includes(`items ${ITEMS.toLocaleString('en-US')}`)) throw new Error(`restore summary:\n${res.stdout}`);
    rows.push(['restore (JSONL → LevelDB)', res, valueMB]);

    const backupMB = statSync(backup).size / 1e6;
    console.log(
      `\n${ITEMS.toLocaleString('en-US')} items × ${SIZE} B (${valueMB.toFixed(0)} MB of values); backup file ${backupMB.toFixed(0)} MB\n`,
    );
    console.log('| step | wall s | CPU s | items/s (wall) | MB/s (wall) | items/s per CPU s | peak RSS MB |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    const n = (x: number) => Math.round(x).toLocaleString('en-US');
    for (const [name, r, mb] of rows) {
      console.log(
        `| ${name} | ${r.seconds.toFixed(1)} | ${r.cpuSeconds.toFixed(1)} | ${n(ITEMS / r.seconds)} | ${(mb / r.seconds).toFixed(1)} | ` +
          `${n(ITEMS / r.cpuSeconds)} | ${r.peakRssMB.toFixed(0)} |`,
      );
    }
    console.log(
      `\n(each step is its own process, node start-up included; MB/s counts value bytes; load average ${loadavg()[0]!.toFixed(1)})`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

void main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
