// A consistent snapshot of a data directory for export (portable.ts holds the rest of the
// portability commands' LevelDB access).
import { decodeCursor } from '../cursor.js';
import { PortabilityError } from '../portability/errors.js';
import {
  CURSOR_PREFIX,
  META_PREFIX,
  RETRY_PREFIX,
  type Item,
  type QueueMeta,
  decodeMeta,
  decodeRecord,
  idFromKey,
  itemKey,
  namesFromCursorKey,
  namesFromRetryKey,
  prefixRange,
  queueFromMetaKey,
  retryPrefix,
} from './layout.js';
import { type RawDb, countKeys, entryChunks } from './portable.js';

type Range = { gte: Buffer; lt: Buffer };
const MAX_ID = Number.MAX_SAFE_INTEGER;

export interface SnapshotQueue {
  name: string;
  meta: QueueMeta;
  /** Items from the head on, as export will write them. */
  items: number;
  /** Cursor name → position (the next item id it reads), in name order. */
  cursors: Map<string, number>;
  /** Cursor name → number of retry entries. */
  retries: Map<string, number>;
}

/**
 * One LevelDB snapshot of a data directory, open or in use by a running server: every read here
 * sees the same moment, whatever is written meanwhile.
 */
export class SnapshotReader {
  private readonly snapshot: ReturnType<RawDb['snapshot']>;

  constructor(private readonly db: RawDb) {
    this.snapshot = db.snapshot();
  }

  /** The queues (all, or those named) with their counts; refuses unknown names. */
  async queues(only?: readonly string[]): Promise<SnapshotQueue[]> {
    const byName = new Map<string, SnapshotQueue>();
    for await (const chunk of entryChunks(this.db, prefixRange(META_PREFIX), this.snapshot)) {
      for (const [k, v] of chunk) {
        const name = queueFromMetaKey(k);
        byName.set(name, { name, meta: decodeMeta(v), items: 0, cursors: new Map(), retries: new Map() });
      }
    }
    const missing = (only ?? []).filter((q) => !byName.has(q));
    if (missing.length) throw new PortabilityError(`no such queue: ${missing.join(', ')}`);
    for await (const chunk of entryChunks(this.db, prefixRange(CURSOR_PREFIX), this.snapshot)) {
      for (const [k, v] of chunk) {
        const [q, c] = namesFromCursorKey(k);
        byName.get(q)?.cursors.set(c, decodeCursor(v));
      }
    }
    for await (const chunk of entryChunks(this.db, prefixRange(RETRY_PREFIX), this.snapshot)) {
      for (const [k] of chunk) {
        const [q, c] = namesFromRetryKey(k);
        const queue = byName.get(q);
        // A retry entry makes its cursor exist at start-up, position or not (as the server loads it).
        if (queue && !queue.cursors.has(c)) queue.cursors.set(c, 0);
        queue?.retries.set(c, (queue.retries.get(c) ?? 0) + 1);
      }
    }
    const selected = only ? [...new Set(only)].map((q) => byName.get(q)!) : [...byName.values()];
    for (const q of selected) {
      q.items = await countKeys(this.db, this.itemRange(q), this.snapshot);
      q.cursors = new Map([...q.cursors].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return selected;
  }

  private itemRange(q: SnapshotQueue): Range {
    // Ids below the recorded head are consumed (their physical delete may lag behind).
    return { gte: itemKey(q.name, q.meta.headId), lt: itemKey(q.name, MAX_ID) };
  }

  /** The queue's items from its head, in order, a bounded chunk at a time. */
  async *items(q: SnapshotQueue): AsyncGenerator<Item[]> {
    for await (const chunk of entryChunks(this.db, this.itemRange(q), this.snapshot)) {
      yield chunk.map(([k, v]) => decodeRecord(idFromKey(k), v));
    }
  }

  /** A cursor's retry entries in the order it serves them. */
  async *retries(queue: string, cursor: string): AsyncGenerator<Item[]> {
    for await (const chunk of entryChunks(this.db, prefixRange(retryPrefix(queue, cursor)), this.snapshot)) {
      yield chunk.map(([k, v]) => decodeRecord(idFromKey(k), v));
    }
  }

  async close(): Promise<void> {
    await this.snapshot.close();
  }
}
