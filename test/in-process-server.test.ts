// The in-process server helper (test/helpers/inProcess.ts): the real server from src/ on a real
// store, serving loopback TCP inside the test worker, and gone without a trace once stopped.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startInProcess } from './helpers/inProcess.js';
import { setCmd, TextClient, value } from './helpers/textClient.js';

/** This worker's active handles and requests, by kind (e.g. { TCPServerWrap: 1, Timeout: 2 }). */
function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/** The kinds of which more are active now than in `before`, with how many more. */
function addedSince(before: Record<string, number>): Record<string, number> {
  const added: Record<string, number> = {};
  for (const [kind, n] of Object.entries(activeResources())) if (n > (before[kind] ?? 0)) added[kind] = n - (before[kind] ?? 0);
  return added;
}

describe('startInProcess', () => {
  it('serves on loopback from a real store, and its data survives a restart on the same directory', async () => {
    const first = await startInProcess();
    try {
      expect(first.host).toBe('127.0.0.1');
      expect(first.pid).toBe(process.pid);
      const c = await TextClient.connect(first.port);
      expect(await c.call(setCmd('kept', 'v'))).toBe('STORED\r\n');
      c.close();
      expect(await first.stop()).toBe(0);
      const second = await startInProcess({ dataDir: first.dataDir });
      const d = await TextClient.connect(second.port);
      expect(await d.call('get kept\r\n')).toBe(value('kept', 'v'));
      d.close();
      expect(await second.stop()).toBe(0);
    } finally {
      first.cleanup();
    }
    expect(existsSync(first.dataDir)).toBe(false);
  });

  it('leaves no handle open once stopped (socket, listener, timer)', async () => {
    const before = activeResources();
    const s = await startInProcess({ settings: { idleTimeoutMs: 60_000 } });
    const c = await TextClient.connect(s.port);
    expect(await c.call(setCmd('q', 'x'))).toBe('STORED\r\n');
    expect(await c.call('get q/open\r\n')).toBe(value('q', 'x'));
    expect(await s.stop()).toBe(0);
    await c.waitClosed();
    s.cleanup();
    expect(addedSince(before)).toEqual({});
  });

  it('a shutdown command with allowShutdown stops it with exit code 0', async () => {
    const s = await startInProcess({ settings: { allowShutdown: true } });
    try {
      const c = await TextClient.connect(s.port);
      expect(s.exitCode).toBeNull();
      c.send('shutdown\r\n');
      await c.readToClose();
      expect(await s.stop()).toBe(0);
      expect(s.exitCode).toBe(0);
    } finally {
      s.cleanup();
    }
  });
});
