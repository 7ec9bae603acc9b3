// The client over three real servers on loopback: writes spread round-robin, reads find items on
// any server, and — the Kestrel promise — producers and consumers keep going while one server is
// killed with `kill -9` and restarted, with nothing acknowledged lost, nothing confirmed
// delivered again, and no consumer spinning or hanging.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, type Message } from 'siberite/client';
import { TextClient, setCmd } from '../helpers/textClient.js';
import { Node, until } from './servers.js';

let nodes: Node[] = [];
const clients: Client[] = [];
function newClient(options: Partial<ConstructorParameters<typeof Client>[0]> = {}): Client {
  const c = new Client({ servers: nodes.map((n) => n.address), ...options });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  nodes = await Promise.all([Node.start(), Node.start(), Node.start()]);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.end()));
  await Promise.all(nodes.map((n) => n.destroy()));
});

/** `queue_<q>_<key>` of each server, in server order (0 for a server that does not answer). */
async function perServer(client: Client, queue: string, key: string): Promise<number[]> {
  const stats = await client.stats();
  return nodes.map((n) => Number(stats.find((s) => s.server === n.address)?.stats?.[`queue_${queue}_${key}`] ?? 0));
}

describe('three servers', () => {
  it('spreads puts round-robin and reads them back from every server', async () => {
    const c = newClient();
    for (let i = 0; i < 30; i++) await c.put('spread', `v${i}`);
    expect(await perServer(c, 'spread', 'items')).toEqual([10, 10, 10]);
    const got = new Set<string>();
    for (let i = 0; i < 30; i++) got.add((await c.get('spread'))!.toString());
    expect(got.size).toBe(30);
    expect(await c.get('spread')).toBeUndefined();
  });

  it('fails a put over to the next server when one refuses it (read-only)', async () => {
    const c = newClient();
    const raw = await TextClient.connect(nodes[0]!.port);
    expect(await raw.call('status READONLY\r\n')).toBe('END\r\n');
    try {
      for (let i = 0; i < 12; i++) await c.put('refused', `r${i}`);
      const [ro, a, b] = await perServer(c, 'refused', 'items');
      expect([ro, a! + b!]).toEqual([0, 12]);
      // The refused server's turns go to the next one: 8 and 4, in some order.
      expect(Math.min(a!, b!)).toBeGreaterThanOrEqual(4);
    } finally {
      expect(await raw.call('status UP\r\n')).toBe('END\r\n');
      raw.close();
    }
  });

  it('finds an item on any server at once, and blocks on one server per call', async () => {
    const c = newClient();
    const raw = await TextClient.connect(nodes[2]!.port);
    for (let i = 0; i < 3; i++) {
      expect(await raw.call(setCmd('onlyc', `c${i}`))).toBe('STORED\r\n');
      const t0 = Date.now();
      // Whichever server this call would wait on, the item on the third is found without waiting.
      expect((await c.get('onlyc', { waitMs: 5000 }))!.toString()).toBe(`c${i}`);
      expect(Date.now() - t0).toBeLessThan(2000);
    }
    raw.close();
  });
});

describe('kill -9 of one server of three, with producers and consumers running', () => {
  it('loses no acknowledged put, redelivers no confirmed item, resumes on the restarted server, and idles without spinning', async () => {
    const fast = { backoffMinMs: 50, backoffMaxMs: 400, requestTimeoutMs: 1000, timeoutMs: 4000 };
    const producer = newClient(fast);
    const consumers = [newClient(fast), newClient(fast)];
    const victim = nodes[1]!;

    // ---- bookkeeping: what was acknowledged, delivered, confirmed ----
    const acked = new Set<string>();
    let putFailures = 0;
    const delivered = new Map<string, number>();
    const confirmed = new Set<string>();
    const violations: string[] = [];
    let lostCloses = 0;
    const fromVictimAfterRestart: string[] = [];
    let restartedAt = Infinity;
    let progress: () => void = () => undefined;

    // A gate the consumers pass before each close: closed, they stall holding their items
    // (back-pressure stops their reads), so the victim can be seeded with a backlog.
    let gate: Promise<void> = Promise.resolve();
    let openGate: () => void = () => undefined;

    let producing = true;
    const producers = Array.from({ length: 4 }, async (_, p) => {
      for (let k = 0; producing && k < 100_000; k++) {
        const v = `p${p}-${k}`;
        try {
          await producer.put('work', v);
          acked.add(v);
        } catch {
          putFailures++;
        }
      }
    });

    const consuming = consumers.map(async (c) => {
      for await (const m of c.consume('work', { concurrency: 4, waitMs: 300 })) {
        handle(m);
        await gate;
        try {
          await m.close();
          confirmed.add(m.value.toString());
        } catch (err) {
          expect((err as { code?: string }).code).toBe('ELOST');
          lostCloses++;
        }
        progress();
      }
    });
    function handle(m: Message): void {
      const v = m.value.toString();
      if (confirmed.has(v)) violations.push(`${v} delivered again after its close resolved`);
      delivered.set(v, (delivered.get(v) ?? 0) + 1);
      if (m.server === victim.address && Date.now() > restartedAt) fromVictimAfterRestart.push(v);
    }
    const allConsumed = () => [...acked].every((v) => delivered.has(v));
    const waitProgress = (cond: () => boolean, ms: number, what: string) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
        progress = () => {
          if (cond()) {
            clearTimeout(timer);
            progress = () => undefined;
            resolve();
          }
        };
        progress();
      });

    // ---- 1. everything running ----
    await waitProgress(() => confirmed.size >= 300, 10_000, '300 items through');

    // ---- 2. stall the consumers, give the victim a backlog, kill it ----
    gate = new Promise((r) => (openGate = r));
    const raw = await TextClient.connect(victim.port);
    const seeds = Array.from({ length: 100 }, (_, i) => `seed-${i}`);
    raw.send(Buffer.concat(seeds.map((s) => setCmd('work', s))));
    for (const s of seeds) {
      expect(await raw.readLine()).toBe('STORED');
      acked.add(s);
    }
    raw.close();
    await victim.kill9();
    openGate();
    const ackedAtKill = acked.size;

    // ---- 3. the other two carry on ----
    await waitProgress(() => acked.size > ackedAtKill + 200 && confirmed.size > 600, 10_000, 'progress without the victim');

    // ---- 4. restart on the same address and data; its items come back and are consumed ----
    await victim.spawn();
    restartedAt = Date.now();
    await waitProgress(() => fromVictimAfterRestart.length >= 100, 10_000, 'consumption from the restarted server');

    // ---- 5. stop producing; everything acknowledged is consumed ----
    producing = false;
    await Promise.all(producers);
    await until(allConsumed, 10_000, 'every acknowledged put to be consumed');

    // ---- 6. idle: no busy polling (the consumers' process CPU and the servers' get counts) ----
    await until(async () => (await perServer(producer, 'work', 'open_transactions')).every((n) => n === 0), 5000, 'no open items');
    const gets0 = (await producer.stats()).map((s) => Number(s.stats?.cmd_get ?? 0));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 1500));
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - t0;
    const gets1 = (await producer.stats()).map((s) => Number(s.stats?.cmd_get ?? 0));
    const idleGets = gets1.reduce((a, g, i) => a + g - gets0[i]!, 0);
    const cpuShare = (cpu.user + cpu.system) / 1000 / wallMs;

    // ---- 7. the consumers end promptly ----
    const tEnd = Date.now();
    await Promise.all(consumers.map((c) => c.end()));
    await Promise.all(consuming);
    const endMs = Date.now() - tEnd;

    const summary = {
      acked: acked.size,
      putFailures,
      delivered: delivered.size,
      redelivered: [...delivered.values()].filter((n) => n > 1).length,
      lostCloses,
      fromVictimAfterRestart: fromVictimAfterRestart.length,
      idleGets,
      idleCpuPercent: Math.round(cpuShare * 1000) / 10,
      endMs,
    };
    console.log('kill -9 run:', JSON.stringify(summary));
    expect(violations).toEqual([]);
    expect([...acked].filter((v) => !delivered.has(v))).toEqual([]);
    expect(fromVictimAfterRestart.filter((v) => v.startsWith('seed-')).length).toBeGreaterThan(0);
    // Two consumers × one blocking read of 300 ms per server: about 30 gets in 1.5 s; a spin is thousands.
    expect(idleGets).toBeLessThan(120);
    expect(cpuShare).toBeLessThan(0.15);
    expect(endMs).toBeLessThan(3000);
  }, 60_000);
});
