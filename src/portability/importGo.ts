// `siberite import -from OLD_DIR -data DIR`: every queue of a Go Siberite 0.6 data directory
// into this server's store — items in order with their exact bytes, each cursor at the place
// the Go server would continue it from (its quirks included), its failed reads first.
import { PortableWriter, type QueueSink } from '../store/portable.js';
import { PortabilityError } from './errors.js';
import { type GoCursor, GoItems, type GoQueueDir, detectGoSiberite, readGoMetadata } from './goReader.js';
import { type Progress } from './progress.js';

export interface ImportOptions {
  from: string;
  data: string;
  /** Append after the items of queues that already exist in `data`. */
  merge: boolean;
  progress?: Progress;
  /** Abandons the import (nothing written stays). */
  signal?: AbortSignal;
}

export interface ImportedCursor {
  name: string;
  /** Go's stored position: the id of the last item it read. */
  goPosition: number;
  /** Items of the queue it will still serve, after its retries. */
  ahead: number;
  retries: number;
}

export interface ImportedQueue {
  name: string;
  items: number;
  bytes: number;
  merged: boolean;
  cursors: ImportedCursor[];
}

export interface ImportResult {
  queues: ImportedQueue[];
  /** What was not imported, and why. */
  skipped: string[];
  /** Things imported as they were that a user should know about (quirks, zero-length items). */
  notes: string[];
}

export async function importGo(options: ImportOptions): Promise<ImportResult> {
  const source = detectGoSiberite(options.from);
  const result: ImportResult = { queues: [], skipped: [...source.skipped], notes: [] };
  const writer = await PortableWriter.open(options.data, options.signal);
  try {
    const clash = source.queues.filter((q) => writer.exists(q.name)).map((q) => q.name);
    if (clash.length && !options.merge) {
      throw new PortabilityError(`queues already exist in ${options.data}: ${clash.join(', ')} (use -merge to append after their items)`);
    }
    const addTime = Date.now(); // Go keeps no time per item: they count as stored now
    for (const q of source.queues) {
      const imported = await importQueue(q, writer, options, addTime, result);
      if (imported) result.queues.push(imported);
    }
    await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  } finally {
    await writer.close();
  }
  return result;
}

async function importQueue(
  q: GoQueueDir,
  writer: PortableWriter,
  options: ImportOptions,
  addTime: number,
  result: ImportResult,
): Promise<ImportedQueue | undefined> {
  const meta = await readGoMetadata(q);
  result.skipped.push(...meta.skipped);
  let items: GoItems;
  try {
    items = await GoItems.open(q);
  } catch (err) {
    if (!(err instanceof PortabilityError)) throw err;
    result.skipped.push(`${err.message} (queue skipped)`);
    return undefined;
  }
  try {
    const merged = writer.exists(q.name);
    const sink = await writer.beginQueue(q.name, options.merge);
    options.progress?.setStage(q.name, items.keyCount);
    const cursors = meta.cursors.filter((c) => {
      if (!sink.existingCursors.has(c.name)) return true;
      result.skipped.push(`cursor ${q.name}.${c.name}: already exists in the target, left as it is`);
      return false;
    });
    const stats = { badKeys: 0, zeroLength: 0, gaps: 0, head: 0 };
    const positions = await copyItems(items, sink, cursors, addTime, stats, options.progress);
    const report: ImportedQueue = { name: q.name, items: sink.items, bytes: sink.bytes, merged, cursors: [] };
    for (const c of cursors) {
      // Go serves the items with ids above max(position, head): the first such item here, or
      // past the end — and a position past Go's tail skips as many of the items set next.
      const position = positions.get(c.name) ?? sink.nextId + Math.max(0, c.position - items.tail);
      sink.setCursor(c.name, position);
      for (const value of c.failed) await sink.addRetry(c.name, { flags: 0, addTime, expiry: 0, data: value });
      report.cursors.push({
        name: c.name,
        goPosition: c.position,
        ahead: Math.max(0, sink.nextId - Math.max(position, sink.firstId)),
        retries: c.failed.length,
      });
      noteStale(q.name, c, stats.head, items.tail, sink.items, result.notes);
    }
    if (stats.zeroLength) {
      result.notes.push(
        `${q.name}: ${stats.zeroLength} zero-length items (the Go server answered them with a bare END; served here as 0-byte values)`,
      );
    }
    if (stats.gaps) result.notes.push(`${q.name}: item ids were not consecutive (${stats.gaps} gaps); imported in id order`);
    if (stats.badKeys) result.skipped.push(`${q.name}: ${stats.badKeys} keys that are not 8-byte item ids`);
    return report;
  } finally {
    await items.dispose();
  }
}

/**
 * Copies the items in order; returns, for each cursor the items reach, the id of the first item
 * it has not read (ids here are consecutive from sink.firstId whatever Go's were).
 */
async function copyItems(
  items: GoItems,
  sink: QueueSink,
  cursors: GoCursor[],
  addTime: number,
  stats: { badKeys: number; zeroLength: number; gaps: number; head: number },
  progress: Progress | undefined,
): Promise<Map<string, number>> {
  const pending = [...cursors].sort((a, b) => a.position - b.position);
  const positions = new Map<string, number>();
  let next = 0;
  let prev: number | undefined;
  for await (const chunk of items.chunks(stats)) {
    let bytes = 0;
    for (const { id, value } of chunk) {
      if (prev === undefined) stats.head = id - 1;
      else if (id !== prev + 1) stats.gaps++;
      prev = id;
      while (next < pending.length && pending[next]!.position < id) positions.set(pending[next++]!.name, sink.nextId);
      await sink.addItem({ flags: 0, addTime, expiry: 0, data: value });
      if (value.length === 0) stats.zeroLength++;
      bytes += value.length;
    }
    progress?.add(chunk.length, bytes);
  }
  return positions;
}

/**
 * Go restarts ids at 1 when it opens a drained queue, and keeps cursor positions: a cursor then
 * skips as many new items as it had read before (the stale-cursor quirk). The import keeps that
 * behaviour — the cursor continues as the Go server would have — and names the cursor.
 */
function noteStale(queue: string, c: GoCursor, head: number, tail: number, items: number, notes: string[]): void {
  if (c.position > tail) {
    notes.push(
      `stale-cursor ${queue}.${c.name}: its position ${c.position} is past the last item id ${tail} (ids began again at 1 after a drain and restart); ` +
        `as on the Go server it skips the next ${c.position - tail} items set`,
    );
  } else if (head === 0 && c.position > 0 && items > 0) {
    notes.push(
      `stale-cursor? ${queue}.${c.name}: at id ${c.position} of ids beginning at 1; if that position dates from before the queue was drained and ` +
        `the server restarted, it skips items 1..${c.position} unread (the Go server does the same; imported as is)`,
    );
  }
}
