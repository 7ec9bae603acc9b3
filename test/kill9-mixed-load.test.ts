// kill -9 at random moments under a mixed load of sets, plain gets and reliable reads, with
// every reply written down (docs/durability.md "What a reply means"): after each restart every
// STORED item is there or was consumed, no item whose get or /close reply arrived comes back,
// and every item held open is back.
import { afterEach, describe, expect, it } from 'vitest';
import { type ServerHandle, startServer } from './helpers/server.js';
import { TextClient, setCmd } from './helpers/textClient.js';
import { account, drain, holdOpen, newLedger, runLoad } from '../bench/lib/ledger.js';

const started: ServerHandle[] = [];
afterEach(async () => {
  for (const s of started) await s.kill9();
  for (const dir of new Set(started.map((s) => s.dataDir))) started.find((s) => s.dataDir === dir)!.cleanup();
  started.length = 0;
});

const QUEUES = ['a', 'b', 'c'];

async function round(args: string[], seed: number): Promise<void> {
  const tag = `r${seed}`;
  const first = await startServer({ args });
  started.push(first);
  // Something to consume from the start, and items held open through the crash.
  const prefill = await TextClient.connect(first.port);
  const ledger = newLedger();
  for (let i = 0; i < 60; i++) {
    const value = `${tag}-pre-${i}`;
    if ((await prefill.call(setCmd(QUEUES[i % 3]!, value))) === 'STORED\r\n') ledger.stored.add(value);
  }
  prefill.close();
  const holders = await holdOpen(first.port, 'a', 3, ledger);
  const load = runLoad({ port: first.port, tag, workers: 6, queues: QUEUES, maxOps: 100_000 }, ledger);
  // The kill lands at a random moment once the load is well under way.
  const deadline = Date.now() + 5000;
  const target = 200 + Math.floor(Math.random() * 800);
  while (ledger.stored.size + ledger.consumed.size < target && Date.now() < deadline) {
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, Math.random() * 30));
  await first.kill9();
  await load.done;
  for (const h of holders) h.close();

  const second = await startServer({ dataDir: first.dataDir, args });
  started.push(second);
  const remaining = await drain(second.port, QUEUES);
  const result = account(ledger, remaining, tag);
  expect(result.stored, 'the load ran before the kill').toBeGreaterThan(100);
  expect(result.consumed, 'the load consumed before the kill').toBeGreaterThan(20);
  expect(result.resurrected, 'consumed items came back').toEqual([]);
  expect(result.lost, 'STORED items lost').toEqual([]);
  expect(result.openLost, 'items held open lost').toEqual([]);
  expect(result.duplicates).toEqual([]);
  await second.kill9();
}

describe('kill -9 under mixed load', () => {
  it('loses nothing STORED and brings back nothing consumed, in 4 random rounds', async () => {
    for (let seed = 1; seed <= 4; seed++) await round([], seed);
  }, 120_000);

  it('the same with -fsync always (no write-ahead log: LevelDB fsynced before each reply)', async () => {
    for (let seed = 5; seed <= 6; seed++) await round(['-fsync', 'always'], seed);
  }, 120_000);
});
