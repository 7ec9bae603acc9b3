// Limits a hostile or broken client cannot get past: connections, idle time, bytes of values
// still arriving — and the descriptor limit they are sized from.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { STORE_DESCRIPTORS } from './store/store.js';

/** Descriptors kept free beyond LevelDB's and the log's: the listener, stdio, DNS, a reload. */
const SPARE_DESCRIPTORS = 32;
const MIN_CONNECTIONS = 16;

/** Where a limit that could not be read or raised is reported (pino's Logger fits). */
export interface LimitsLog {
  warn(obj: object, msg: string): void;
}

export interface FileLimit {
  soft: number;
  hard: number;
}

/** This process's RLIMIT_NOFILE, from /proc (Infinity for unlimited); undefined off Linux. */
export function fileLimit(log?: LimitsLog): FileLimit | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'latin1')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const [soft, hard] = line!.slice('Max open files'.length).trim().split(/\s+/);
    const num = (s: string | undefined) => (s === 'unlimited' ? Infinity : Number(s));
    return { soft: num(soft), hard: num(hard) };
  } catch (err) {
    // Tolerable: the caller sizes from a default. Off Linux there is no /proc (expected); on
    // Linux it says something is odd, worth a line.
    if (process.platform === 'linux') log?.warn({ err }, 'cannot read the descriptor limit from /proc/self/limits: sizing from a default');
    return undefined;
  }
}

/**
 * Raises the soft descriptor limit to the hard one, as Redis and nginx do at start: Node has no
 * setrlimit, so util-linux's prlimit does it for this process. Returns the limit now in force.
 */
export function raiseFileLimit(log?: LimitsLog): FileLimit | undefined {
  const before = fileLimit(log);
  if (!before || before.soft >= before.hard) return before;
  const hard = Number.isFinite(before.hard) ? String(before.hard) : 'unlimited';
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${hard}:${hard}`], { stdio: 'ignore', timeout: 2000 });
  } catch (err) {
    // Tolerable: no prlimit here (or not allowed): keep the soft limit, and size the connection
    // cap from it — an operator seeing fewer connections than expected learns why.
    log?.warn(
      { err: String((err as Error).message), soft: before.soft, hard: before.hard },
      'cannot raise the descriptor limit to the hard one',
    );
  }
  return fileLimit(log);
}

/** The default cap on connections: what the descriptor limit leaves after the store's share. */
export function defaultMaxConnections(limit: FileLimit | undefined): number {
  const soft = limit?.soft ?? 1024;
  if (!Number.isFinite(soft)) return 65536;
  return Math.max(MIN_CONNECTIONS, soft - STORE_DESCRIPTORS - SPARE_DESCRIPTORS);
}

/**
 * Bytes of values that have started to arrive but are not complete yet, over all connections. A
 * connection that would take the total past the limit is refused, so many stalled large sets
 * cannot hold unbounded memory (Redis closes a client over its query buffer limit likewise).
 */
/** Default -max-input-bytes: bytes of values arriving at once, over all connections (at least two of the largest item). */
export const DEFAULT_MAX_INPUT_BYTES = 128 * 1024 * 1024;

export class InputBudget {
  used = 0;
  refused = 0;
  constructor(public limit: number) {}
}
