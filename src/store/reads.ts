// The store's reads: what start-up loads, one queue's items in order, single keys and sizes.
// Reads go straight to LevelDB; they see a write once it is applied (Store.applied()).
import { type ClassicLevel } from 'classic-level';
import { META_PREFIX, type QueueMeta, decodeMeta, prefixRange, queueFromMetaKey } from './layout.js';
import { ItemReader } from './itemReader.js';
import { type StoreLog } from './storeLog.js';

export class StoreReads {
  constructor(
    private readonly db: ClassicLevel<Buffer, Buffer>,
    /** Caps one nextv() read (StoreOptions.readBytes). */
    private readonly readBytes: number,
    /** The store's open count: an iterator from an earlier open is dead. */
    private readonly epoch: () => number,
    private readonly log: StoreLog,
  ) {}

  async loadQueueMetas(): Promise<Map<string, QueueMeta>> {
    const out = new Map<string, QueueMeta>();
    for await (const [key, value] of this.db.iterator(prefixRange(META_PREFIX))) {
      out.set(queueFromMetaKey(key), decodeMeta(value));
    }
    return out;
  }

  /** A sequential reader of one queue's items (see ItemReader). */
  itemReader(queue: string): ItemReader {
    return new ItemReader(this.db, queue, this.readBytes, this.epoch, this.log);
  }

  readRange(range: { gte: Buffer; lt: Buffer }): Promise<Array<[Buffer, Buffer]>> {
    return this.db.iterator(range).all();
  }

  getValue(key: Buffer): Promise<Buffer | undefined> {
    return this.db.get(key);
  }

  approximateSize(range: { gte: Buffer; lt: Buffer }): Promise<number> {
    return this.db.approximateSize(range.gte, range.lt);
  }
}
