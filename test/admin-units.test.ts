// The admin surface's logic without a server: /readyz over every store state (the end-to-end
// flip while the store fails closed comes with the fault tests), metrics rendering from a given
// AdminSource, the bounded top-N selection, and the strict exposition parser's refusals.
import { describe, expect, it } from 'vitest';
import { readyz } from '../src/admin/health.js';
import { Metrics } from '../src/admin/metrics.js';
import { TopK } from '../src/admin/slices.js';
import { type AdminSource, type GlobalSnapshot, type QueueSnapshot, type StoreHealth } from '../src/admin/source.js';
import { parsePrometheusText, sampleValue } from './helpers/promParser.js';

function queue(name: string, items: number, extra: Partial<QueueSnapshot> = {}): QueueSnapshot {
  return {
    name,
    items,
    bytes: items * 10,
    oldestItemAgeSeconds: null,
    openTransactions: 0,
    waiters: 0,
    added: items,
    removed: 0,
    expired: 0,
    discarded: 0,
    damaged: 0,
    getHits: 0,
    getMisses: 0,
    cursors: [],
    stats: () => [],
    ...extra,
  };
}

function source(store: Partial<StoreHealth> = {}, queues: QueueSnapshot[] = []): AdminSource {
  const g: GlobalSnapshot = {
    version: '1.0.0',
    pid: 1,
    uptimeSeconds: 1,
    status: 'UP',
    connections: 3,
    totalConnections: 7,
    connectionsRefused: 2,
    connectionsMax: 1000,
    commands: { get: 5, set: 6 },
    bytesRead: 1,
    bytesWritten: 2,
    queueCreates: queues.length,
    queueDeletes: 0,
    queueExpires: 0,
    queueCount: queues.length,
    store: { writable: true, ready: true, fault: null, errors: {}, walBytes: 4096, ...store },
    extraStats: [],
  };
  return { global: () => g, queues: () => queues, exportDb: () => Promise.reject(new Error('no database in this unit test')) };
}

describe('/readyz', () => {
  it('is ready only with the store open, recovered and writable', async () => {
    expect(await readyz(source())).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await readyz(null)).toMatchObject({ status: 503, body: { checks: { store_open: false } } });
    expect(await readyz(source({ ready: false }))).toMatchObject({ status: 503, body: { reason: 'recovering' } });
    const failing = await readyz(source({ writable: false, fault: 'ENOSPC', errors: { log: 1 } }));
    expect(failing).toMatchObject({ status: 503, body: { checks: { writable: false } } });
    expect(failing.body.reason).toBe('the store is failing closed (ENOSPC): writes are refused');
  });
});

describe('metrics from an AdminSource', () => {
  it('renders store health, refused connections, errors by kind and oldest ages', async () => {
    const queues = [queue('a', 3, { oldestItemAgeSeconds: 12.5 }), queue('b', 0), queue('c', 1)];
    const m = parsePrometheusText(await new Metrics(10).render(source({ writable: false, errors: { leveldb: 2 } }, queues)), {
      ownPrefix: 'siberite_',
    });
    expect(sampleValue(m, 'siberite_store_writable')).toBe(0);
    expect(sampleValue(m, 'siberite_ready')).toBe(0);
    expect(sampleValue(m, 'siberite_store_errors_total', { kind: 'leveldb' })).toBe(2);
    expect(sampleValue(m, 'siberite_connections_refused_total')).toBe(2);
    expect(sampleValue(m, 'siberite_connections_max')).toBe(1000);
    expect(sampleValue(m, 'siberite_wal_bytes')).toBe(4096);
    expect(sampleValue(m, 'siberite_queue_oldest_item_age_seconds', { queue: 'a' })).toBe(12.5);
    expect(sampleValue(m, 'siberite_queue_oldest_item_age_seconds', { queue: 'b' })).toBe(0); // empty
    expect(sampleValue(m, 'siberite_queue_oldest_item_age_seconds', { queue: 'c' })).toBeUndefined(); // unknown
    expect(sampleValue(m, 'siberite_connections', { state: 'active' })).toBe(3);
  });

  it('sums the queues beyond the deepest N under queue="_other"', async () => {
    const queues = Array.from({ length: 50 }, (_, i) => queue(`q${i}`, i, { oldestItemAgeSeconds: i }));
    const m = parsePrometheusText(await new Metrics(5).render(source({}, queues)));
    const names = m
      .get('siberite_queue_items')!
      .samples.map((s) => s.labels['queue'])
      .sort();
    expect(names).toEqual(['_other', 'q45', 'q46', 'q47', 'q48', 'q49']);
    expect(sampleValue(m, 'siberite_queue_items', { queue: '_other' })).toBe((44 * 45) / 2);
    expect(sampleValue(m, 'siberite_queue_oldest_item_age_seconds', { queue: '_other' })).toBe(44);
  });

  it('serves process metrics only while the store is still opening', async () => {
    const m = parsePrometheusText(await new Metrics(5).render(null));
    expect(sampleValue(m, 'siberite_ready')).toBe(0);
    expect(sampleValue(m, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(m.get('siberite_queue_items')!.samples).toEqual([]);
  });
});

describe('TopK', () => {
  it('keeps the greatest items, greatest first, and hands back the rest', () => {
    const top = new TopK<number>(3, (a, b) => a - b);
    const out: number[] = [];
    for (const n of [5, 1, 9, 7, 3, 8]) {
      const pushed = top.offer(n);
      if (pushed !== undefined) out.push(pushed);
    }
    expect(top.sorted()).toEqual([9, 8, 7]);
    expect(out.sort((a, b) => a - b)).toEqual([1, 3, 5]);
  });
});

describe('the strict exposition parser', () => {
  const ok = '# HELP x_total Things.\n# TYPE x_total counter\nx_total{a="b\\"c"} 3\n';

  it('accepts a well-formed exposition', () => {
    expect(sampleValue(parsePrometheusText(ok), 'x_total', { a: 'b"c' })).toBe(3);
  });

  it.each([
    ['no TYPE before a sample', 'x 1\n'],
    ['a counter not named _total', '# HELP x X.\n# TYPE x counter\nx 1\n'],
    ['an unquoted label value', '# HELP x X.\n# TYPE x gauge\nx{a=b} 1\n'],
    ['a bad label name', '# HELP x X.\n# TYPE x gauge\nx{1a="b"} 1\n'],
    ['a bad escape', '# HELP x X.\n# TYPE x gauge\nx{a="\\t"} 1\n'],
    ['a bad value', '# HELP x X.\n# TYPE x gauge\nx 1,5\n'],
    ['a missing value', '# HELP x X.\n# TYPE x gauge\nx\n'],
    ['a repeated series', '# HELP x X.\n# TYPE x gauge\nx 1\nx 2\n'],
    ['an unknown type', '# HELP x X.\n# TYPE x thing\n'],
    ['a malformed TYPE line', '# HELP x X.\n# TYPE x\n'],
    ['split families', '# HELP x X.\n# TYPE x gauge\nx 1\n# HELP y Y.\n# TYPE y gauge\ny 1\nx{a="b"} 2\n'],
    ['no HELP', '# TYPE x gauge\nx 1\n'],
    ['no final newline', '# HELP x X.\n# TYPE x gauge\nx 1'],
    ['a bucket without le', '# HELP h H.\n# TYPE h histogram\nh_bucket 1\n'],
  ])('rejects %s', (_what, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });
});
