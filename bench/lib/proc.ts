// Reading a server process's memory and CPU time from /proc (Linux only).

import { readFileSync } from 'node:fs';

/** /proc/<pid>/<file>, or null if it cannot be read (no such process). */
function readProcFile(pid: number, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1');
  } catch {
    return null;
  }
}

/** Resident set size of `pid` in bytes (VmRSS), or null if it cannot be read. */
export function readRssBytes(pid: number): number | null {
  const text = readProcFile(pid, 'status');
  if (text === null) return null;
  const m = /^VmRSS:\s+(\d+)\s*kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

/** CPU time `pid` has used so far (all threads, user + system) in seconds, or null. */
export function readCpuSeconds(pid: number): number | null {
  const text = readProcFile(pid, 'stat');
  if (text === null) return null;
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks / CLOCK_TICKS_PER_SECOND : null;
}

/** USER_HZ: 100 on every Linux architecture Node.js runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

export function bytesToMB(bytes: number): number {
  return bytes / (1024 * 1024);
}
