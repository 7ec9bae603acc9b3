// A small tmpfs to fill up: a real full disk for the fault tests. Mounting needs root (CI runs
// as root); elsewhere mountTmpfs says why, and the test skips with that reason.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';

/** Mounts a tmpfs of `size` (e.g. '16m') on `dir`; null on success, else why it cannot. */
export function mountTmpfs(dir: string, size: string): string | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return `cannot mount a tmpfs here (${String((err as Error).message).split('\n')[0]}): needs root`;
  }
}

export function unmount(dir: string): void {
  execFileSync('umount', ['-l', dir]);
}

/** Writes a file until the filesystem refuses another byte (bounded: 250 MB). */
export function fillDisk(path: string): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(256 * 1024, 1);
  try {
    for (let i = 0; i < 1000; i++) writeSync(fd, chunk);
  } catch {
    // ENOSPC: full
  }
  try {
    for (let i = 0; i < 10_000; i++) writeSync(fd, chunk, 0, 512);
  } catch {
    // the last pages too
  }
  closeSync(fd);
}
