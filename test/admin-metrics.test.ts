// GET /metrics, /stats.json, /healthz and /readyz of a real server over real HTTP: the
// exposition parses strictly, and its values follow what clients do over the memcache port.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminHandle, httpGet, httpRequest, scrape, startAdminServer } from './helpers/admin.js';
import { Clients, queueNamer } from './helpers/fixtures.js';
import { parsePrometheusText, sampleValue } from './helpers/promParser.js';
import { startServer } from './helpers/server.js';
import { TextClient, setCmd } from './helpers/textClient.js';

let server: AdminHandle;
const clients = new Clients();
const qname = queueNamer('m');

beforeAll(async () => {
  server = await startAdminServer();
});

afterAll(async () => {
  clients.closeAll();
  expect(await server.stop()).toBe(0);
  server.cleanup();
});

/** The values of one queue's series in a fresh scrape. */
async function queueMetrics(queue: string) {
  const m = await scrape(server.adminPort);
  const v = (name: string) => sampleValue(m, name, { queue });
  return {
    items: v('siberite_queue_items'),
    bytes: v('siberite_queue_bytes'),
    open: v('siberite_queue_open_transactions'),
    oldest: v('siberite_queue_oldest_item_age_seconds'),
    added: v('siberite_queue_items_added_total'),
    removed: v('siberite_queue_items_removed_total'),
    expired: v('siberite_queue_items_expired_total'),
    hits: sampleValue(m, 'siberite_get_hits_total'),
    misses: sampleValue(m, 'siberite_get_misses_total'),
    sets: sampleValue(m, 'siberite_commands_total', { command: 'set' }),
    gets: sampleValue(m, 'siberite_commands_total', { command: 'get' }),
    families: m,
  };
}

describe('/metrics', () => {
  it('parses as Prometheus text with the server metrics and Node process metrics', async () => {
    const reply = await httpRequest(server.adminPort, '/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = await scrape(server.adminPort);
    for (const name of [
      'siberite_store_writable',
      'siberite_wal_bytes',
      'siberite_connections_refused_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(m.has(name), name).toBe(true);
    }
    expect(sampleValue(m, 'siberite_store_writable')).toBe(1);
    expect(sampleValue(m, 'siberite_ready')).toBe(1);
    expect(sampleValue(m, 'siberite_connections_max')).toBeGreaterThan(0); // the default cap
    expect(m.get('siberite_queue_items_added_total')?.type).toBe('counter');
    expect(m.get('siberite_queue_items')?.type).toBe('gauge');
  });

  it('follows sets, gets, opens, closes, aborts and deletes of a queue', async () => {
    const c = await clients.connect(server.port);
    const q = qname('flow');
    const before = await queueMetrics(q);
    expect(before.items).toBeUndefined(); // no such queue yet
    for (let i = 0; i < 3; i++) expect(await c.call(setCmd(q, `item-${i}`))).toBe('STORED\r\n');
    let now = await queueMetrics(q);
    expect(now).toMatchObject({ items: 3, bytes: 18, open: 0, added: 3, removed: 0 });
    expect(now.sets! - before.sets!).toBe(3);
    expect(await c.call(`get ${q}\r\n`)).toContain('item-0');
    expect(await c.call(`get ${q}/open\r\n`)).toContain('item-1');
    now = await queueMetrics(q);
    expect(now).toMatchObject({ items: 1, open: 1, removed: 1 });
    expect(now.gets! - before.gets!).toBe(2);
    expect(now.hits! - before.hits!).toBe(2);
    expect(await c.call(`get ${q}/abort\r\n`)).toBe('END\r\n');
    expect(await queueMetrics(q)).toMatchObject({ items: 2, open: 0, removed: 1 });
    expect(await c.call(`get ${q}/open\r\n`)).toContain('item-1');
    expect(await c.call(`get ${q}/close\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${q}\r\n`)).toContain('item-2');
    expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
    now = await queueMetrics(q);
    expect(now).toMatchObject({ items: 0, bytes: 0, open: 0, added: 3, removed: 3, oldest: 0 });
    expect(now.misses! - before.misses!).toBe(1);
    expect(await c.call(`delete ${q}\r\n`)).toBe('DELETED\r\n');
    now = await queueMetrics(q);
    expect(now.items).toBeUndefined();
    // The global hit counter does not go back down with the deleted queue's hits.
    expect(now.hits! - before.hits!).toBe(4);
  });

  it('counts expired items', async () => {
    const c = await clients.connect(server.port);
    const q = qname('exp');
    expect(await c.call(setCmd(q, 'gone', 0, -1))).toBe('STORED\r\n'); // already expired
    expect(await c.call(setCmd(q, 'kept'))).toBe('STORED\r\n');
    expect(await c.call(`get ${q}\r\n`)).toContain('kept');
    const m = await scrape(server.adminPort);
    expect(sampleValue(m, 'siberite_queue_items_expired_total', { queue: q })).toBe(1);
    expect(sampleValue(m, 'siberite_queue_items_removed_total', { queue: q })).toBe(1);
    expect(sampleValue(m, 'siberite_queue_items', { queue: q })).toBe(0);
  });

  it('reports the lag of a durable cursor', async () => {
    const c = await clients.connect(server.port);
    const q = qname('cur');
    expect(await c.call(setCmd(q, 'one'))).toBe('STORED\r\n');
    expect(await c.call(setCmd(q, 'two'))).toBe('STORED\r\n');
    expect(await c.call(`get ${q}.audit\r\n`)).toContain('one');
    const lag = async () => sampleValue(await scrape(server.adminPort), 'siberite_cursor_lag_items', { queue: q, cursor: 'audit' });
    expect(await lag()).toBe(1);
    expect(await c.call(`get ${q}.audit\r\n`)).toContain('two');
    expect(await lag()).toBe(0);
    expect(sampleValue(await scrape(server.adminPort), 'siberite_queue_items', { queue: q })).toBe(2); // a cursor does not consume
  });

  it('counts connections by state and the write-ahead log', async () => {
    const waiter = await clients.connect(server.port);
    const q = qname('wait');
    waiter.send(`get ${q}/t=5000\r\n`);
    const deadline = Date.now() + 5000;
    let m = await scrape(server.adminPort);
    while (sampleValue(m, 'siberite_connections', { state: 'waiting' }) !== 1 && Date.now() < deadline) m = await scrape(server.adminPort);
    expect(sampleValue(m, 'siberite_connections', { state: 'waiting' })).toBe(1);
    expect(sampleValue(m, 'siberite_connections', { state: 'active' })).toBeGreaterThanOrEqual(0);
    expect(sampleValue(m, 'siberite_wal_bytes')).toBeGreaterThan(0); // earlier tests wrote
    const producer = await clients.connect(server.port);
    expect(await producer.call(setCmd(q, 'wake'))).toBe('STORED\r\n');
    expect(await waiter.readReply()).toContain('wake');
  });

  it('bounds queue labels: with 10,000 queues, the deepest N and queue="_other"', async () => {
    const own = await startAdminServer({ args: ['-metrics-max-queues', '20'] });
    const c = await TextClient.connect(own.port);
    try {
      const sets: Buffer[] = [];
      // Queue i holds 1 item, except the 25 deepest: 2 + i items.
      for (let i = 0; i < 10_000; i++) sets.push(setCmd(`bulk${i}`, 'x'));
      for (let i = 0; i < 25; i++) for (let k = 0; k < 1 + i; k++) sets.push(setCmd(`bulk${i}`, 'x'));
      c.send(Buffer.concat(sets));
      for (let i = 0; i < sets.length; i++) expect(await c.readLine()).toBe('STORED');
      const started = Date.now();
      const text = await httpGet(own.adminPort, '/metrics');
      const elapsed = Date.now() - started;
      const m = parsePrometheusText(text, { ownPrefix: 'siberite_' });
      const items = m.get('siberite_queue_items')!.samples;
      expect(items.length).toBe(21);
      const labels = items.map((s) => s.labels['queue']);
      expect(labels).toContain('_other');
      for (let i = 5; i < 25; i++) expect(labels).toContain(`bulk${i}`); // the 20 deepest
      expect(sampleValue(m, 'siberite_queue_items', { queue: 'bulk24' })).toBe(26);
      const total = items.reduce((a, s) => a + s.value, 0);
      expect(total).toBe(10_000 + (25 * 26) / 2);
      expect(sampleValue(m, 'siberite_queues')).toBe(10_000);
      expect(text.length).toBeLessThan(64 * 1024);
      expect(elapsed).toBeLessThan(5000);
      // The queue port answers while scrapes run back to back.
      const scrapes = Promise.all([1, 2, 3].map(() => httpGet(own.adminPort, '/metrics')));
      expect(await c.call('version\r\n')).toMatch(/^VERSION /);
      await scrapes;
    } finally {
      c.close();
      expect(await own.stop()).toBe(0);
      own.cleanup();
    }
  });
});

describe('/stats.json', () => {
  it('says what stats and dump_stats say, as JSON', async () => {
    const c = await clients.connect(server.port);
    const q = qname('json');
    expect(await c.call(setCmd(q, 'abc'))).toBe('STORED\r\n');
    expect(await c.call(`get ${q}.reader/peek\r\n`)).toContain('abc');
    const reply = await httpRequest(server.adminPort, '/stats.json');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    const doc = JSON.parse(reply.body) as {
      server: Record<string, number | string>;
      queues: Record<string, Record<string, unknown>>;
      store: { writable: boolean };
    };
    expect(doc.server['version']).toMatch(/^siberite-/);
    expect(doc.server['curr_items']).toBeGreaterThanOrEqual(1);
    expect(doc.queues[q]).toMatchObject({
      items: 1,
      bytes: 3,
      total_items: 1,
      open_transactions: 0,
      cursors: { reader: { items: 1, open_transactions: 0, waiters: 0 } },
    });
    expect(doc.store.writable).toBe(true);
    const stats = await c.call('stats\r\n');
    for (const key of Object.keys(doc.server)) expect(stats, key).toContain(`STAT ${key} `);
  });
});

describe('probes and errors', () => {
  it('/healthz and /readyz answer 200 on a ready server', async () => {
    const health = await httpRequest(server.adminPort, '/healthz');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok' });
    const ready = await httpRequest(server.adminPort, '/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'ok', checks: { store_open: true, recovered: true, writable: true } });
    expect((await httpRequest(server.adminPort, '/readyz', 'HEAD')).status).toBe(200);
  });

  it('refuses writes, unknown paths and bad queries with clear replies, never a path', async () => {
    expect((await httpRequest(server.adminPort, '/metrics', 'POST')).status).toBe(405);
    const missing = await httpRequest(server.adminPort, '/nope');
    expect(missing.status).toBe(404);
    const bad = await httpRequest(server.adminPort, '/api/queues?sort=bogus');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toMatch(/^sort must be one of/);
    const badLimit = await httpRequest(server.adminPort, '/api/queues?limit=99999');
    expect(badLimit.status).toBe(400);
    for (const reply of [missing, bad, badLimit]) expect(reply.body).not.toContain(server.dataDir);
  });

  it('refuses a bad -admin flag or a busy admin port at start, with status 2 and a reason', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'siberite-admin-flags-'));
    try {
      await expect(startServer({ dataDir, args: ['-admin', '127.0.0.1:99999'] })).rejects.toThrow(/exited \(2\)[\s\S]*bad -admin address/);
      await expect(startServer({ dataDir, args: ['-admin', '127.0.0.1:0', '-metrics-max-queues', '-1'] })).rejects.toThrow(
        /exited \(2\)[\s\S]*bad -metrics-max-queues/,
      );
      await expect(startServer({ dataDir, args: ['-admin', `127.0.0.1:${server.adminPort}`] })).rejects.toThrow(
        /exited \(2\)[\s\S]*EADDRINUSE/,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
