// Reads a data directory of Siberite 0.6 (Go): one pair of LevelDBs per queue,
//   <dir>/<queue>/<queue>/      items: key = id (u64 big-endian), value = the raw bytes
//   <dir>/<queue>/_.metadata/   cursors: `_c:<cursor>` → u64 position (last id read),
//                               `_r:<cursor>:<u64>` → a failed (aborted) read, served first
// Each LevelDB is read from a temporary copy: opening one rewrites its files, and the source
// directory must stay untouched (docs/migration.md).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isValidName } from '../protocol/keys.js';
import { type RawDb, countKeys, entryChunks, lastKey, openCopy } from '../store/portable.js';
import { PortabilityError } from './errors.js';

export interface GoQueueDir {
  name: string;
  itemsDir: string;
  /** Absent when the queue has no `_.metadata` database (then it has no cursors). */
  metaDir: string | undefined;
}

export interface GoSource {
  queues: GoQueueDir[];
  /** Entries of the directory that are not queues, each with the reason. */
  skipped: string[];
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
const isLevelDb = (p: string) => isDir(p) && existsSync(join(p, 'CURRENT'));

/** Recognises a Go Siberite 0.6 data directory, or refuses with what it looks like instead. */
export function detectGoSiberite(dir: string): GoSource {
  if (!isDir(dir)) throw new PortabilityError(`${dir} is not a directory`);
  if (existsSync(join(dir, 'CURRENT'))) {
    throw new PortabilityError(
      `${dir} is a single LevelDB (this server's data directory, or one database of a Go queue), not a Go Siberite data directory (one subdirectory per queue); to move data between servers of this version use export and restore`,
    );
  }
  const queues: GoQueueDir[] = [];
  const skipped: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (!isDir(path)) continue; // files beside the queues are ignored, as the Go server does
    const itemsDir = join(path, name);
    if (!isLevelDb(itemsDir)) {
      skipped.push(`${name}/: no LevelDB ${name}/${name}/, not a Go Siberite queue`);
      continue;
    }
    if (!isValidName(name)) {
      skipped.push(`${name}/: the name is not a valid queue name here (1-200 printable ASCII characters other than / . +)`);
      continue;
    }
    const metaDir = join(path, '_.metadata');
    queues.push({ name, itemsDir, metaDir: isLevelDb(metaDir) ? metaDir : undefined });
  }
  if (queues.length === 0) {
    throw new PortabilityError(
      `no Go Siberite 0.6 queues found in ${dir} (expected <queue>/<queue>/ and <queue>/_.metadata/ LevelDBs)` +
        (skipped.length ? `: ${skipped.join('; ')}` : ''),
    );
  }
  return { queues, skipped };
}

const u64 = (b: Buffer, at: number): bigint => b.readBigUInt64BE(at);
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export interface GoCursor {
  name: string;
  /** Id of the last item it read (0: none). */
  position: number;
  /** Its failed reads in the order the Go server serves them (by their own id). */
  failed: Buffer[];
}

export interface GoMetadata {
  cursors: GoCursor[];
  skipped: string[];
}

/** The cursors of one queue. */
export async function readGoMetadata(q: GoQueueDir): Promise<GoMetadata> {
  const out: GoMetadata = { cursors: [], skipped: [] };
  if (!q.metaDir) {
    out.skipped.push(`${q.name}: no _.metadata database (imported without cursors)`);
    return out;
  }
  const positions = new Map<string, number>();
  const failed = new Map<string, Buffer[]>();
  const unknown: string[] = [];
  const { db, dispose } = await openCopy(q.metaDir);
  try {
    for await (const chunk of entryChunks(db, {})) {
      for (const [k, v] of chunk) {
        const key = k.toString('latin1');
        if (key.startsWith('_c:') && v.length === 8 && u64(v, 0) <= SAFE) {
          positions.set(key.slice(3), Number(u64(v, 0)));
        } else if (key.startsWith('_r:') && k.length > 12 && k[k.length - 9] === 0x3a) {
          const cursor = k.toString('latin1', 3, k.length - 9);
          const list = failed.get(cursor) ?? [];
          list.push(Buffer.from(v)); // key order is (cursor, id): the order Go serves them in
          failed.set(cursor, list);
        } else {
          unknown.push(k.toString('hex'));
        }
      }
    }
  } finally {
    await dispose();
  }
  if (unknown.length)
    out.skipped.push(
      `${q.name}: ${unknown.length} unknown metadata keys (hex: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''})`,
    );
  for (const [name, position] of positions) {
    if (!isValidName(name)) {
      out.skipped.push(`cursor ${q.name}.${name}: not a valid cursor name here`);
      continue;
    }
    out.cursors.push({ name, position, failed: failed.get(name) ?? [] });
  }
  for (const [name, list] of failed) {
    if (!positions.has(name))
      out.skipped.push(`cursor ${q.name}.${name}: ${list.length} failed reads but no stored position (a deleted cursor's leftovers)`);
  }
  return out;
}

/** One queue's items database, opened from a copy. */
export class GoItems {
  private constructor(
    private readonly db: RawDb,
    readonly dispose: () => Promise<void>,
    /** Keys in the database (items, and any malformed keys). */
    readonly keyCount: number,
    /** Id of the last item (Go's tail); 0 when empty. */
    readonly tail: number,
  ) {}

  /** Opens a copy; refuses (with the reason) ids beyond 2^53, which this server cannot hold. */
  static async open(q: GoQueueDir): Promise<GoItems> {
    const { db, dispose } = await openCopy(q.itemsDir);
    try {
      const last = await lastKey(db);
      let tail = 0;
      if (last && last.length === 8) {
        if (u64(last, 0) > SAFE) throw new PortabilityError(`${q.name}: item ids beyond 2^53 cannot be imported`);
        tail = Number(u64(last, 0));
      }
      return new GoItems(db, dispose, await countKeys(db), tail);
    } catch (err) {
      await dispose();
      throw err;
    }
  }

  /** The items in id order, a bounded chunk at a time; malformed keys are counted in `badKeys`. */
  async *chunks(stats: { badKeys: number }): AsyncGenerator<Array<{ id: number; value: Buffer }>> {
    for await (const chunk of entryChunks(this.db, {})) {
      const items: Array<{ id: number; value: Buffer }> = [];
      for (const [k, v] of chunk) {
        if (k.length !== 8) stats.badKeys++;
        else items.push({ id: Number(u64(k, 0)), value: v });
      }
      yield items;
    }
  }
}
