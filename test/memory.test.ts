// Returning freed native heap to the system (src/memory.ts, src/native/malloc_trim.c): the
// addon is built by `npm install` on glibc Linux, really gives pages back, and the sweep's
// policy trims after a burst, not on every sweep of a busy or idle server.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import { HeapTrimmer, canTrimHeap, trimHeap } from '../src/memory.js';
import { type ServerHandle, startServer } from './helpers/server.js';

const onGlibc =
  process.platform === 'linux' &&
  Boolean((process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime);

function rssMB(): number {
  return process.memoryUsage.rss() / 2 ** 20;
}

describe('the malloc_trim addon', () => {
  it('is built and loaded on glibc Linux', () => {
    expect(onGlibc).toBe(true); // this project's machines; elsewhere the server runs without it
    expect(canTrimHeap).toBe(true);
  });

  it('gives free pages in the middle of the heap back to the system', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // 64 MB of 1 KiB native allocations; keep every 16th, so free() cannot shrink the heap's top.
    let chunks: Buffer[] | undefined = Array.from({ length: 65_536 }, () => Buffer.alloc(1024, 1));
    const kept = chunks.filter((_, i) => i % 16 === 15);
    chunks = undefined;
    gc();
    gc();
    const before = rssMB();
    expect(trimHeap()).toBe(true);
    const after = rssMB();
    expect(before - after, `rss ${before.toFixed(1)} → ${after.toFixed(1)} MB`).toBeGreaterThan(20);
    expect(kept.every((b) => b[1023] === 1)).toBe(true); // what is still in use is untouched
  });
});

describe('HeapTrimmer (when the sweep trims)', () => {
  function trimmer() {
    const calls: number[] = [];
    let now = 1_000_000;
    const t = new HeapTrimmer(() => {
      calls.push(now);
      return true;
    }, now);
    return { calls, sweep: (requests: number, advanceMs = 1000) => t.onSweep(requests, (now += advanceMs)) };
  }

  it('trims once when the server goes quiet after a burst, and not again while idle', () => {
    const { calls, sweep } = trimmer();
    expect(sweep(0)).toBe(false); // nothing ever happened
    expect(sweep(50_000)).toBe(false); // busy: 50k requests in this interval
    expect(sweep(100_000)).toBe(false);
    expect(sweep(100_010)).toBe(true); // quiet now
    expect(sweep(100_010)).toBe(false); // idle: nothing freed since
    expect(sweep(100_010, 60_000)).toBe(false);
    expect(sweep(100_500)).toBe(true); // a little traffic, then quiet again
    expect(calls).toHaveLength(2);
  });

  it('under steady load trims at most every 30 s', () => {
    const { calls, sweep } = trimmer();
    let requests = 0;
    for (let s = 0; s < 95; s++) sweep((requests += 20_000));
    expect(calls.length).toBe(3); // at 30, 60 and 90 s
  });
});

describe('the server', () => {
  let server: ServerHandle | undefined;
  afterEach(async () => {
    await server?.kill9();
    server?.cleanup();
  });

  it('says in its start-up line whether it trims the heap', async () => {
    server = await startServer({});
    expect(server.output()).toMatch(/"heapTrim":true/);
  });
});
