// GET /stats.json: what `stats` and `dump_stats` say, as one JSON document, streamed queue by
// queue (in slices, minding backpressure) so 100,000 queues never build one huge string or hold
// the event loop. Queues come first, in creation order; the server-wide values follow, since
// their item and byte totals are summed on the way.
import { once } from 'node:events';
import { type Writable } from 'node:stream';
import { SLICE } from './slices.js';
import { type QueueTotals, addTo, emptyTotals } from './scan.js';
import { type AdminSource, type GlobalSnapshot } from './source.js';

/** Stats values are decimal text on the wire; numbers here where they are numbers. */
function typed(pairs: Array<[string, string]>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of pairs) out[k] = /^-?\d+$/.test(v) ? Number(v) : v;
  return out;
}

/**
 * The global `stats` lines (protocol: Statistics), in their order. Totals are summed over the
 * queues that exist: unlike `stats`, they leave out the counts of deleted queues.
 */
export function serverStats(g: GlobalSnapshot, t: QueueTotals): Record<string, string | number> {
  return {
    uptime: g.uptimeSeconds,
    time: Math.floor(Date.now() / 1000),
    version: `siberite-${g.version}`,
    pid: g.pid,
    curr_items: t.items,
    total_items: t.added,
    bytes: t.bytes,
    curr_connections: g.connections,
    total_connections: g.totalConnections,
    cmd_get: g.commands['get'] ?? 0,
    cmd_set: g.commands['set'] ?? 0,
    cmd_peek: g.commands['peek'] ?? 0,
    get_hits: t.getHits,
    get_misses: t.getMisses,
    bytes_read: g.bytesRead,
    bytes_written: g.bytesWritten,
    queue_creates: g.queueCreates,
    queue_deletes: g.queueDeletes,
    queue_expires: g.queueExpires,
    damaged_items: t.damaged,
    store_writable: g.store.writable ? 1 : 0,
    store_errors: Object.values(g.store.errors).reduce((a, b) => a + b, 0),
    wal_bytes: g.store.walBytes,
    ...typed(g.extraStats),
  };
}

/** Writes the document to `out`; stops early (returns false) if `out` is closed. */
export async function streamStatsJson(source: AdminSource, out: Writable): Promise<boolean> {
  const totals = emptyTotals();
  let chunk = '{"queues":{';
  let first = true;
  let n = 0;
  for (const q of source.queues()) {
    addTo(totals, q);
    const cursors: Record<string, Record<string, string | number>> = {};
    for (const c of q.cursors) cursors[c.name] = typed(c.stats());
    chunk += `${first ? '' : ','}${JSON.stringify(q.name)}:${JSON.stringify({ ...typed(q.stats()), cursors })}`;
    first = false;
    if (++n % SLICE === 0) {
      if (!(await flush(out, chunk))) return false;
      chunk = '';
    }
  }
  const g = await source.global();
  chunk += `},"server":${JSON.stringify(serverStats(g, totals))},"status":${JSON.stringify(g.status)},"store":${JSON.stringify(g.store)}}\n`;
  if (!(await flush(out, chunk))) return false;
  out.end();
  return true;
}

/** Writes, and waits for the reader to take it when the buffer is full (or for the turn to pass). */
async function flush(out: Writable, text: string): Promise<boolean> {
  if (out.destroyed) return false;
  if (out.write(text)) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  } else {
    const done = new AbortController();
    const { signal } = done;
    // The event that loses the race must not leave its listener behind.
    await Promise.race([once(out, 'drain', { signal }), once(out, 'close', { signal })]).catch(() => undefined);
    done.abort();
  }
  return !out.destroyed;
}
