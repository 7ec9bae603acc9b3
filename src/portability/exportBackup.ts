// Export: streams a backup (docs/migration.md) of a data directory from one LevelDB snapshot.
// Works on a LevelDB handle, so the same function serves `siberite export -data DIR` (a stopped
// directory) and a running server (its own handle, behind the admin port's GET /export):
// reads go through bounded iterator chunks and the event loop is yielded between chunks, so
// clients of a running server are not held up; what they write meanwhile is not in the backup.
import { type Writable } from 'node:stream';
import { type Item } from '../store/layout.js';
import { type RawDb } from '../store/portable.js';
import { type SnapshotQueue, SnapshotReader } from '../store/portableSnapshot.js';
import {
  type BackupCounts,
  cursorLine,
  headerLine,
  itemLine,
  newHash,
  queueLine,
  retryLine,
  trailerLine,
  zeroCounts,
} from './backupFormat.js';
import { PortabilityError } from './errors.js';

export interface ExportOptions {
  /** Only these queues (all when absent or empty). Unknown names are refused before any output. */
  queues?: readonly string[];
  /** Where the backup comes from, recorded in its header (never a path on a server). */
  source: Record<string, string | number>;
  /** Called after each chunk with the running totals (items and value bytes written). */
  onProgress?: (items: number, bytes: number) => void;
  /** Called once the snapshot is taken, with the number of items the backup will hold. */
  onStart?: (items: number) => void;
}

/** Writes `text` to `out`, waiting while its buffer is full; fails if `out` is closed. */
async function emit(out: Writable, hash: { update(b: Buffer): void } | undefined, text: string): Promise<void> {
  if (out.destroyed) throw new Error('export output closed');
  const buf = Buffer.from(text);
  hash?.update(buf);
  if (out.write(buf)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      out.off('drain', done).off('close', done).off('error', done);
      if (err || out.destroyed) reject(err ?? new Error('export output closed'));
      else resolve();
    };
    out.on('drain', done).on('close', done).on('error', done);
  });
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Streams the backup of `db` to `out` (it does not end `out`); returns the counts written. */
export async function exportBackup(db: RawDb, out: Writable, options: ExportOptions): Promise<BackupCounts> {
  const reader = new SnapshotReader(db);
  try {
    const queues = await reader.queues(options.queues?.length ? options.queues : undefined);
    const sum = (f: (q: SnapshotQueue) => number) => queues.reduce((n, q) => n + f(q), 0);
    const retriesOf = (q: SnapshotQueue) => [...q.retries.values()].reduce((a, b) => a + b, 0);
    const planned = { queues: queues.length, items: sum((q) => q.items), cursors: sum((q) => q.cursors.size), retries: sum(retriesOf) };
    options.onStart?.(planned.items);
    const hash = newHash();
    const counts = zeroCounts();
    await emit(out, hash, headerLine(new Date(), options.source, planned));
    for (const q of queues) {
      counts.queues++;
      const queueJson = JSON.stringify(q.name);
      await emit(out, hash, queueLine({ name: q.name, items: q.items, cursors: q.cursors.size, retries: retriesOf(q) }));
      const positions = [...q.cursors];
      const skips = positions.map(() => 0);
      let written = 0;
      for await (const items of reader.items(q)) {
        let text = '';
        for (const item of items) text += itemLine(queueJson, checkSize(q.name, item));
        await emit(out, hash, text);
        // A cursor has read the items with ids below its position.
        positions.forEach(([, position], i) => (skips[i]! += countBelow(items, position)));
        written += items.length;
        counts.items += items.length;
        for (const item of items) counts.bytes += item.data.length;
        options.onProgress?.(counts.items, counts.bytes);
        await yieldToEventLoop();
      }
      if (written !== q.items) throw new Error(`queue ${q.name}: counted ${q.items} items but read ${written}`);
      for (const [i, [name, position]] of positions.entries()) {
        counts.cursors++;
        await emit(out, hash, cursorLine(queueJson, name, skips[i]!, Math.max(0, position - q.meta.nextId)));
      }
      for (const [name] of positions) {
        for await (const items of reader.retries(q.name, name)) {
          let text = '';
          for (const item of items) text += retryLine(queueJson, name, checkSize(q.name, item));
          await emit(out, hash, text);
          counts.retries += items.length;
          await yieldToEventLoop();
        }
      }
    }
    await emit(out, undefined, trailerLine(counts, hash.digest('hex')));
    return counts;
  } finally {
    await reader.close();
  }
}

/** Items in `items` (sorted by id) with an id below `position`. */
function countBelow(items: Item[], position: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid]!.id < position) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A damaged record is refused rather than skipped (the counts in the header are already out);
 * a value's base64 must fit in one JavaScript string (V8 caps strings at 2^29 − 24 chars).
 */
const MAX_VALUE_BYTES = 256 * 1024 * 1024;

function checkSize(queue: string, item: Item): Item {
  if (item.damaged) {
    throw new PortabilityError(
      `queue ${queue}: the record of item ${item.id} is damaged (its checksum fails): stop the server and run siberite repair first`,
    );
  }
  if (item.data.length > MAX_VALUE_BYTES) {
    throw new PortabilityError(
      `queue ${queue}: an item of ${item.data.length} bytes is too large for the backup format (max ${MAX_VALUE_BYTES})`,
    );
  }
  return item;
}
