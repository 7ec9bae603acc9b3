// What a queue and a cursor share as readers of one queue's stored items: their blocked readers
// (with deadlines), their open items, a store reader whose loads a flush or delete can void, how
// they are dropped, and how they report a failure they tolerate.
import { type Logger } from 'pino';
import { type Clock, systemClock } from './clock.js';
import { type Item } from './store/layout.js';
import { type BatchOp, type BatchParticipant, type ItemReader, type Store } from './store/store.js';
import { type Waiter, WaiterList } from './waiters.js';

/** Trailing options of Queue and Cursor: time (tests drive it by hand) and where to report. */
export interface SourceOptions {
  clock?: Clock;
  log?: Logger;
}

const NO_OPEN_ITEMS: ReadonlyMap<number, Item> = new Map();

export abstract class StoredSource implements BatchParticipant {
  /** Set when the source is deleted: it then writes nothing more. */
  deleted = false;
  readonly clock: Clock;
  readonly log: Logger | undefined;
  // Per-source state below is made on first use: with 100,000 queues most never block a reader,
  // hold an item open or read from the store, and an empty Map alone costs ~150 bytes.
  private waitList: WaiterList | null = null;
  private openItems: Map<number, Item> | null = null;
  private storeReader: ItemReader | null = null;
  private loading: Promise<void> | null = null;
  /** Bumped by flush/delete: reads started before are discarded. */
  private generation = 0;

  protected constructor(
    protected readonly store: Store,
    /** The queue whose items this source reads. */
    private readonly queueName: string,
    /** The cursor's name, in log lines; none for a queue. */
    private readonly cursorName: string | undefined,
    options: SourceOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log;
  }

  /** Blocked readers (check waiterCount first: asking for the list makes one). */
  protected get waiters(): WaiterList {
    return (this.waitList ??= new WaiterList(this.clock));
  }

  /** Items held open by readers, by id. */
  protected get open(): ReadonlyMap<number, Item> {
    return this.openItems ?? NO_OPEN_ITEMS;
  }

  protected holdOpen(item: Item): void {
    (this.openItems ??= new Map()).set(item.id, item);
  }

  /** Forgets an open item; false if it was not open. */
  protected forgetOpen(id: number): boolean {
    return this.openItems?.delete(id) ?? false;
  }

  protected forgetAllOpen(): void {
    this.openItems = null;
  }

  protected get reader(): ItemReader {
    return (this.storeReader ??= this.store.itemReader(this.queueName));
  }

  /** Closes the store iterator if unused for `ms`; true when none is left open. */
  protected closeReaderIfIdle(ms: number): boolean {
    return this.storeReader?.closeIfIdle(ms) ?? true;
  }

  /** The source's own record (meta or cursor position), deleted with it; made when needed. */
  protected abstract recordKey(): Buffer;
  abstract sealBatch(ops: BatchOp[]): void;
  abstract batchDone(err: Error | undefined): void;
  /** Drops every item of the source; resolves when the store has dropped them. */
  abstract flush(clear?: boolean): Promise<void>;

  get waiterCount(): number {
    return this.waitList?.length ?? 0;
  }

  get openCount(): number {
    return this.open.size;
  }

  /** False once the item was confirmed, released, or dropped by a flush or delete. */
  isOpen(item: Item): boolean {
    return this.open.get(item.id) === item;
  }

  /** Parks a blocked reader; unless served or removed first, it gets null after `timeoutMs`. */
  addWaiter(waiter: Waiter, timeoutMs: number): void {
    this.waiters.add(waiter, timeoutMs);
  }

  removeWaiter(waiter: Waiter): void {
    this.waitList?.remove(waiter);
  }

  /** Wakes every waiter with nothing (the source is going away or the server stops). */
  cancelWaiters(): void {
    this.waitList?.cancelAll();
  }

  /** Drops the source: its waiters, its record and its items. */
  destroy(): Promise<void> {
    this.deleted = true;
    void this.storeReader?.close();
    this.cancelWaiters();
    this.store.del(this.recordKey());
    return this.flush();
  }

  // ---- loading ------------------------------------------------------------------------------

  /** The read from the store in flight, if any (one at a time: the reader allows no more). */
  protected get pendingLoad(): Promise<void> | null {
    return this.loading;
  }

  /**
   * Reads up to `count` items with from ≤ id < to and hands them to `install`, unless a flush or
   * delete came in between: a read started before them must not bring back what they dropped.
   */
  protected loadItems(from: number, to: number, count: number, install: (items: Item[]) => void): Promise<void> {
    if (this.loading) return this.loading;
    const generation = this.generation;
    const loading = this.reader
      .read(from, to, count)
      .then((items) => {
        if (generation === this.generation) install(items);
      })
      .finally(() => {
        this.loading = null;
      });
    this.loading = loading;
    return loading;
  }

  /** Voids the reads in flight (a flush or delete dropped what they would install). */
  protected dropLoads(): void {
    this.generation++;
  }

  // ---- failures -----------------------------------------------------------------------------

  /**
   * A handler for a failure the caller tolerates (the call site says why): logged at warn so an
   * operator sees it, except while the store is closing, where failures are expected.
   */
  tolerate(what: string): (err: unknown) => void {
    return (err) => {
      const fields = this.cursorName === undefined ? { queue: this.queueName } : { queue: this.queueName, cursor: this.cursorName };
      if (this.storeClosing()) this.log?.debug({ ...fields, err }, `${what} (store closing)`);
      else this.log?.warn({ ...fields, err }, what);
    };
  }

  /** Not writable and no fault: the store is closing (a stop), not failing. */
  private storeClosing(): boolean {
    return !this.store.writable && this.store.health().fault === undefined;
  }
}
