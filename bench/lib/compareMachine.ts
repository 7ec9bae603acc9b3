// The facts about the machine and the software a comparison ran on, recorded beside its figures
// (absolute numbers only mean something next to these).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';

import { fsTypeOf } from './server.js';

export interface MachineFacts {
  cpuModel: string;
  cores: number;
  memoryMB: number;
  kernel: string;
  /** Load averages (1, 5, 15 min) when the comparison started: other work on the machine. */
  loadAverage: number[];
  node: string;
  redis: string;
  memcached: string;
  cc: string;
  /** File-system type of the temporary directory the servers keep their data in. */
  dataFs: string | null;
}

/** First line of `cmd args` (stdout, else stderr), or "unavailable: <why>". */
function firstLine(cmd: string, args: string[]): string {
  try {
    const out = execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).toString();
    return out.split('\n')[0]!.trim();
  } catch (err) {
    return `unavailable: ${(err as Error).message.split('\n')[0]}`;
  }
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'latin1'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux: fall back to what os.cpus() says
  }
  return cpus()[0]?.model ?? 'unknown';
}

export function machineFacts(dataDir: string): MachineFacts {
  return {
    cpuModel: cpuModel(),
    cores: cpus().length,
    memoryMB: Math.round(totalmem() / (1024 * 1024)),
    kernel: release(),
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
    node: process.version,
    redis: firstLine('redis-server', ['--version']),
    memcached: firstLine('memcached', ['-V']),
    cc: firstLine('cc', ['--version']),
    dataFs: fsTypeOf(dataDir),
  };
}

/** Which of the programs the comparison needs are missing from PATH. */
export function missingPrograms(names: readonly string[] = ['cc', 'memcached', 'redis-server']): string[] {
  return names.filter((n) => {
    try {
      execFileSync('sh', ['-c', `command -v ${n}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}
