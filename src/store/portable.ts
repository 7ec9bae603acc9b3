// LevelDB access for the data portability commands (import, export, restore), beside the
// server's own Store: opening a data directory offline (refusing one a running server holds),
// writing whole queues in bounded batches with the key layout and records of layout.ts, and
// opening a throw-away copy of a foreign LevelDB. (The export's snapshot: portableSnapshot.ts.)
import { LEVEL_OPTIONS } from './level.js';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { encodeCursor } from '../cursor.js';
import { PortabilityError } from '../portability/errors.js';
import {
  META_PREFIX,
  RECORD_HEADER,
  type QueueMeta,
  cursorKey,
  cursorPrefix,
  decodeMeta,
  encodeMeta,
  itemKey,
  itemPrefix,
  metaKey,
  namesFromCursorKey,
  prefixRange,
  queueFromMetaKey,
  retryKey,
  retryPrefix,
  writeRecordHeader,
} from './layout.js';

export type RawDb = ClassicLevel<Buffer, Buffer>;
type Range = { gte: Buffer; lt: Buffer };

/** Items and retries written before the final commit go out in LevelDB writes of about this size. */
const BATCH_BYTES = 1024 * 1024;
/** One read of an iterator returns about this many bytes (or READ_ENTRIES entries) at most. */
const READ_BYTES = 1024 * 1024;
const READ_ENTRIES = 1024;
/**
 * The first item id of a queue written here. Retry entries of its cursors take the ids below it
 * (1, 2, …), which no item of the queue can ever have, so a cursor's later reads never collide
 * with them. (The server's own new queues start at the clock in µs, far above.)
 */
export const FIRST_ID = 2 ** 32;
const MAX_ID = Number.MAX_SAFE_INTEGER;
/** A message as the portability commands carry it: the fields of an item record. */
export interface PortableItem {
  flags: number;
  /** ms since epoch when it was stored. */
  addTime: number;
  /** ms since epoch when it expires; 0 = never. */
  expiry: number;
  data: Buffer;
}

/**
 * Opens this server's data directory for offline work, taking LevelDB's lock: a directory a
 * running server holds is refused. So is one whose write-ahead log (`wal/`) still holds records
 * LevelDB lacks: only the server's start-up replays them.
 */
export async function openDataDir(dir: string, create: boolean, lockedHint = 'stop the server first'): Promise<RawDb> {
  if (!existsSync(join(dir, 'CURRENT'))) {
    // A new data directory may be created, or an empty one filled (dot files aside, as the
    // repository's data/.gitkeep) — never one holding something else, such as the Go server's.
    const other = existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')) : [];
    if (!create || other.length > 0) throw new PortabilityError(`${dir} is not a Siberite data directory (no LevelDB there)`);
  }
  // As the server opens it (level.ts): few open tables of modest size keep a bulk load's memory
  // flat (with LevelDB's defaults a 1 M item restore peaked at 248 MB, growing with the data).
  const db = new ClassicLevel<Buffer, Buffer>(dir, { ...LEVEL_OPTIONS, createIfMissing: create, writeBufferSize: 4 * 1024 * 1024 });
  try {
    await db.open();
  } catch (err) {
    const e = err as Error & { cause?: Error };
    const reason = e.cause?.message ?? e.message;
    if (/\block\b/i.test(reason)) {
      throw new PortabilityError(`data directory ${dir} is in use by a running server (its LevelDB lock is held): ${lockedHint}`);
    }
    throw new PortabilityError(`cannot open data directory ${dir}: ${reason}`);
  }
  const wal = join(dir, 'wal');
  if (existsSync(wal) && readdirSync(wal).length > 0) {
    await db.close();
    throw new PortabilityError(
      `data directory ${dir} has write-ahead log records not yet in LevelDB (${join(dir, 'wal')}): ` +
        'start the server on it once and stop it (it applies them), then run this again',
    );
  }
  return db;
}

/**
 * Opens a copy of the LevelDB at `dir` (opening one rewrites its files, and the source must stay
 * untouched). `dispose` closes it and deletes the copy.
 */
export async function openCopy(dir: string): Promise<{ db: RawDb; dispose: () => Promise<void> }> {
  const copy = mkdtempSync(join(tmpdir(), 'siberite-import-'));
  const dispose = async () => {
    // Expected after a failed open (nothing to close); either way the copy is deleted next, so
    // a failed close loses nothing. (Offline commands: no logger here; the caller reports errors.)
    await db.close().catch(() => undefined);
    rmSync(copy, { recursive: true, force: true });
  };
  // The source's LOCK is left behind: the copy gets its own.
  cpSync(dir, copy, { recursive: true, filter: (src) => basename(src) !== 'LOCK' });
  const db = new ClassicLevel<Buffer, Buffer>(copy, { ...LEVEL_OPTIONS, createIfMissing: false });
  try {
    await db.open();
  } catch (err) {
    await dispose();
    const e = err as Error & { cause?: Error };
    throw new PortabilityError(`cannot read the LevelDB in ${dir}: ${e.cause?.message ?? e.message}`);
  }
  return { db, dispose };
}

interface RawIterator {
  nextv(size: number): Promise<Array<[Buffer, Buffer]>>;
  close(): Promise<void>;
}

/** The entries of `range` in key order, a bounded chunk at a time. */
export async function* entryChunks(
  db: RawDb,
  range: Range | Record<string, never>,
  snapshot?: ReturnType<RawDb['snapshot']>,
): AsyncGenerator<Array<[Buffer, Buffer]>> {
  const it = db.iterator({ ...range, snapshot, highWaterMarkBytes: READ_BYTES }) as unknown as RawIterator;
  try {
    for (;;) {
      const entries = await it.nextv(READ_ENTRIES);
      if (entries.length === 0) return;
      yield entries;
    }
  } finally {
    await it.close();
  }
}

/** The number of keys in `range` (reads keys only). */
export async function countKeys(
  db: RawDb,
  range: Range | Record<string, never> = {},
  snapshot?: ReturnType<RawDb['snapshot']>,
): Promise<number> {
  const it = db.keys({ ...range, snapshot }) as unknown as { nextv(n: number): Promise<Buffer[]>; close(): Promise<void> };
  let n = 0;
  try {
    for (let keys = await it.nextv(4096); keys.length > 0; keys = await it.nextv(4096)) n += keys.length;
  } finally {
    await it.close();
  }
  return n;
}

/** The last key of the database, if any. */
export async function lastKey(db: RawDb): Promise<Buffer | undefined> {
  const keys = await db.keys({ reverse: true, limit: 1 }).all();
  return keys[0];
}

// ---- writing ------------------------------------------------------------------------------

/** What a queue written here becomes once committed. */
interface Staged {
  name: string;
  meta: QueueMeta;
  cursors: Map<string, number>;
  /** What to delete if the run is abandoned. */
  undo: Range[];
}

/**
 * Writes whole queues into a stopped data directory. Items and retry entries go out in bounded
 * batches as they come; the queue metas and cursor records — what makes a queue exist for the
 * server — go out together in one final fsynced write (commit). Until then the server would not
 * see the new items, and abort() deletes them, so a refused or failed run changes nothing.
 */
export class PortableWriter {
  /**
   * The writes of the batch being gathered. They go into a chained batch (cheaper per op than
   * db.batch(array): see Store.writeOps) only when it is written: classic-level frees a chained
   * batch's native buffer when V8 collects its small wrapper, and one filled over many awaits
   * outlived the young generation, staying resident until a rare full collection (RSS grew
   * ~150 MB over a 1 M item restore); one made and written at once dies young.
   */
  private ops: Array<{ type: 'put'; key: Buffer; value: Buffer }> = [];
  private opsBytes = 0;
  private readonly staged: Staged[] = [];
  private readonly names = new Set<string>();

  private constructor(
    private readonly db: RawDb,
    private readonly metas: Map<string, QueueMeta>,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** `signal` (SIGINT, SIGTERM) stops the run at the next write: it is then abandoned (abort). */
  static async open(dir: string, signal?: AbortSignal): Promise<PortableWriter> {
    const db = await openDataDir(dir, true);
    const metas = new Map<string, QueueMeta>();
    for await (const chunk of entryChunks(db, prefixRange(META_PREFIX))) {
      for (const [k, v] of chunk) metas.set(queueFromMetaKey(k), decodeMeta(v));
    }
    return new PortableWriter(db, metas, signal);
  }

  exists(queue: string): boolean {
    return this.metas.has(queue);
  }

  /**
   * Starts writing `name`: a new queue, or (merge) items appended after those of an existing
   * one. An existing queue without merge is refused.
   */
  async beginQueue(name: string, merge: boolean): Promise<QueueSink> {
    if (this.names.has(name)) throw new PortabilityError(`queue ${name} appears twice in the input`);
    this.names.add(name);
    const old = this.metas.get(name);
    if (old && !merge) {
      throw new PortabilityError(`queue ${name} already exists in the target data directory (use -merge to append after its items)`);
    }
    const cursorNames = new Set<string>();
    if (old) {
      for await (const chunk of entryChunks(this.db, prefixRange(cursorPrefix(name)))) {
        for (const [k] of chunk) cursorNames.add(namesFromCursorKey(k)[1]);
      }
    } else {
      // Keys of a queue with no meta are leftovers (a deleted queue, an abandoned run): gone.
      for (const prefix of [itemPrefix(name), cursorPrefix(name), `r/${name}/`]) await this.db.clear(prefixRange(prefix));
    }
    const firstId = old ? old.nextId : FIRST_ID;
    const staged: Staged = {
      name,
      meta: old ? { ...old } : { nextId: FIRST_ID, headId: FIRST_ID, items: 0, bytes: 0, totalItems: 0 },
      cursors: new Map(),
      undo: old ? [{ gte: itemKey(name, firstId), lt: itemKey(name, MAX_ID) }] : [prefixRange(itemPrefix(name)), prefixRange(`r/${name}/`)],
    };
    this.staged.push(staged);
    // Retry ids must stay below every item a cursor can still read.
    const retryLimit = old ? Math.min(old.headId, firstId) : FIRST_ID;
    return new QueueSink(this, staged, firstId, retryLimit, cursorNames);
  }

  /** Queues one write; waits for LevelDB when the batch is full (bounded memory). */
  async put(key: Buffer, value: Buffer): Promise<void> {
    if (this.signal?.aborted) throw new PortabilityError('interrupted: nothing was written');
    this.ops.push({ type: 'put', key, value });
    this.opsBytes += key.length + value.length;
    if (this.opsBytes >= BATCH_BYTES) await this.flush(false);
  }

  private async flush(sync: boolean): Promise<void> {
    const ops = this.ops;
    this.ops = [];
    this.opsBytes = 0;
    const chain = this.db.batch();
    for (const op of ops) chain.put(op.key, op.value);
    await chain.write({ sync });
  }

  /** Writes the metas and cursors of every queue begun, with what is pending, fsynced. */
  async commit(): Promise<void> {
    if (this.signal?.aborted) throw new PortabilityError('interrupted: nothing was written');
    for (const s of this.staged) {
      this.ops.push({ type: 'put', key: metaKey(s.name), value: encodeMeta(s.meta) });
      for (const [cursor, position] of s.cursors)
        this.ops.push({ type: 'put', key: cursorKey(s.name, cursor), value: encodeCursor(position) });
    }
    await this.flush(true);
  }

  /** Deletes everything written so far (nothing of it was committed). */
  async abort(): Promise<void> {
    this.ops = [];
    this.opsBytes = 0;
    for (const s of this.staged) for (const range of s.undo) await this.db.clear(range);
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /** Registers a retry prefix to delete on abort. */
  undo(range: Range, queue: string): void {
    this.staged.find((s) => s.name === queue)?.undo.push(range);
  }
}

/** Writes one queue: items in order, then cursors and their retry entries. */
export class QueueSink {
  /** Id the next item gets: items written here are consecutive from firstId. */
  nextId: number;
  items = 0;
  bytes = 0;
  private readonly retryIds = new Map<string, number>();

  constructor(
    private readonly writer: PortableWriter,
    private readonly staged: Staged,
    /** Id of the first item written here. */
    readonly firstId: number,
    private readonly retryLimit: number,
    /** Cursors the queue already has in the target (merge): left as they are. */
    readonly existingCursors: ReadonlySet<string>,
  ) {
    this.nextId = firstId;
  }

  get name(): string {
    return this.staged.name;
  }

  async addItem(item: PortableItem): Promise<void> {
    const id = this.nextId++;
    if (id >= MAX_ID) throw new PortabilityError(`queue ${this.name}: item ids exhausted`);
    await this.writer.put(itemKey(this.name, id), recordFor(item));
    this.items++;
    this.bytes += item.data.length;
    const m = this.staged.meta;
    m.nextId = this.nextId;
    m.items++;
    m.bytes += item.data.length;
    m.totalItems++;
  }

  /** Sets a cursor's position (an item id: the next it reads). Existing cursors are not touched. */
  setCursor(cursor: string, position: number): void {
    if (this.existingCursors.has(cursor)) throw new PortabilityError(`cursor ${this.name}.${cursor} already exists in the target`);
    this.staged.cursors.set(cursor, position);
  }

  /** Adds an entry to a cursor's retry list (served before its position, in the order added). */
  async addRetry(cursor: string, item: PortableItem): Promise<void> {
    if (this.existingCursors.has(cursor)) throw new PortabilityError(`cursor ${this.name}.${cursor} already exists in the target`);
    const id = (this.retryIds.get(cursor) ?? 0) + 1;
    if (id >= this.retryLimit)
      throw new PortabilityError(`cursor ${this.name}.${cursor}: too many retry entries for the ids below the queue's head`);
    if (id === 1) this.writer.undo(prefixRange(retryPrefix(this.name, cursor)), this.name);
    this.retryIds.set(cursor, id);
    if (!this.staged.cursors.has(cursor)) this.staged.cursors.set(cursor, this.firstId);
    await this.writer.put(retryKey(this.name, cursor, id), recordFor(item));
  }
}

function recordFor(item: PortableItem): Buffer {
  const record = Buffer.allocUnsafe(RECORD_HEADER + item.data.length);
  item.data.copy(record, RECORD_HEADER); // first: the header's checksum covers the payload
  writeRecordHeader(record, item.flags, item.addTime, item.expiry);
  return record;
}
