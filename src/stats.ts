// The `stats` and `dump_stats` replies (docs/protocol.md "Statistics"), produced in slices: with
// 100,000 queues a reply is tens of megabytes, and building it in one go would stall every other
// client for seconds. Each slice covers SLICE_QUEUES queues; the event loop runs between slices.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type Cursor } from './cursor.js';
import { type QueueManager, type RetiredCounters, addCounts } from './manager.js';
import { type Queue } from './queue.js';
import { VERSION } from './version.js';

const SLICE_QUEUES = 100;

export function queueStats(q: Queue): Array<[string, string]> {
  const c = q.counters;
  return [
    ['items', String(q.items)],
    ['bytes', String(q.bytes)],
    ['total_items', String(c.totalItems)],
    ['logsize', String(q.logSize)],
    ['expired_items', String(c.expiredItems)],
    ['mem_items', String(q.memItems)],
    ['mem_bytes', String(q.memBytes)],
    ['age', String(c.age)],
    ['discarded', String(c.discarded)],
    ['waiters', String(q.waiterCount)],
    ['open_transactions', String(q.openCount)],
    ['transactions', String(c.transactions)],
    ['canceled_transactions', String(c.canceledTransactions)],
    ['total_flushes', String(c.totalFlushes)],
  ];
}

export function cursorStats(c: Cursor): Array<[string, string]> {
  return [
    ['items', String(c.items)],
    ['open_transactions', String(c.openCount)],
    ['waiters', String(c.waiterCount)],
  ];
}

/** Totals over the live queues and those deleted (so they never go down). */
export function queueTotals(m: QueueManager): RetiredCounters & { items: number; bytes: number } {
  let items = 0;
  let bytes = 0;
  const totals: RetiredCounters = { ...m.retired };
  for (const q of m.queues.values()) {
    items += q.items;
    bytes += q.bytes;
    addCounts(totals, q.counters);
  }
  return { items, bytes, ...totals };
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The server-wide lines of `stats`. */
export function serverStats(m: QueueManager): Array<[string, string]> {
  const c = m.counters;
  const t = queueTotals(m);
  const health = m.store.health();
  const now = m.clock.now();
  return [
    ['uptime', String(Math.floor((now - m.startTime) / 1000))],
    ['time', String(Math.floor(now / 1000))],
    ['version', `siberite-${VERSION}`],
    ['pid', String(process.pid)],
    ['curr_items', String(t.items)],
    ['total_items', String(t.totalItems)],
    ['bytes', String(t.bytes)],
    ['curr_connections', String(c.currConnections)],
    ['total_connections', String(c.totalConnections)],
    ['cmd_get', String(c.cmdGet)],
    ['cmd_set', String(c.cmdSet)],
    ['cmd_peek', String(c.cmdPeek)],
    ['get_hits', String(t.getHits)],
    ['get_misses', String(t.getMisses)],
    ['bytes_read', String(c.bytesRead)],
    ['bytes_written', String(c.bytesWritten)],
    ['queue_creates', String(c.queueCreates)],
    ['queue_deletes', String(c.queueDeletes)],
    ['queue_expires', String(c.queueExpires)],
    ['damaged_items', String(t.damaged)],
    ['store_writable', health.writable ? '1' : '0'],
    ['store_errors', String(health.errors.log + health.errors.leveldb)],
    ['wal_bytes', String(health.walBytes)],
    ...m.extraStats(),
  ];
}

/** The queues by name, as they are now (a snapshot: later slices skip deleted ones). */
function sortedQueues(m: QueueManager): Queue[] {
  return [...m.queues.values()].sort(byName);
}

/** `stats`: the server-wide lines, then each queue's and cursor's, slice by slice. */
export async function* statsSlices(m: QueueManager): AsyncGenerator<Array<[string, string]>> {
  yield serverStats(m);
  const queues = sortedQueues(m);
  for (let i = 0; i < queues.length; i += SLICE_QUEUES) {
    await nextTurn();
    const out: Array<[string, string]> = [];
    for (const q of queues.slice(i, i + SLICE_QUEUES)) {
      if (q.deleted) continue;
      for (const [k, v] of queueStats(q)) out.push([`queue_${q.name}_${k}`, v]);
      for (const c of [...q.cursors.values()].sort(byName)) {
        for (const [k, v] of cursorStats(c)) out.push([`queue_${q.name}.${c.name}_${k}`, v]);
      }
    }
    yield out;
  }
}

/** `dump_stats`: a block per queue (and its cursors), slice by slice. */
export async function* dumpStatsSlices(m: QueueManager): AsyncGenerator<string[]> {
  const queues = sortedQueues(m);
  for (let i = 0; i < queues.length; i += SLICE_QUEUES) {
    if (i > 0) await nextTurn();
    const lines: string[] = [];
    for (const q of queues.slice(i, i + SLICE_QUEUES)) {
      if (q.deleted) continue;
      lines.push(`queue '${q.name}' {`);
      for (const [k, v] of queueStats(q)) lines.push(`  ${k}=${v}`);
      for (const c of [...q.cursors.values()].sort(byName)) {
        lines.push(`  cursor '${c.name}' {`);
        for (const [k, v] of cursorStats(c)) lines.push(`    ${k}=${v}`);
        lines.push('  }');
      }
      lines.push('}');
    }
    yield lines;
  }
}
