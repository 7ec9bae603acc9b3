// Reading a server process's memory from /proc (Linux only).

import { readFileSync } from 'node:fs';

/** Resident set size of `pid` in bytes (VmRSS), or null if it cannot be read. */
export function readRssBytes(pid: number): number | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null;
  }
  const m = /^VmRSS:\s+(\d+)\s*kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

export function bytesToMB(bytes: number): number {
  return bytes / (1024 * 1024);
}
