// What one queue holds and reports: its counters, cursors, head window, ids and sizes, the
// state Queue's operations (queue.ts) change. Split from Queue along that line: this file is
// the state and what can be read of it, queue.ts what is done to it.
import { type QueueConfig } from './config.js';
import { ConsumedRange } from './consumedRange.js';
import { type Cursor } from './cursor.js';
import { HeadWindow, type MemoryBudget } from './headWindow.js';
import { type QueueCounters, newQueueCounters } from './queueCounters.js';
import { RECORD_HEADER, type QueueMeta, metaKey } from './store/layout.js';
import { type Store } from './store/store.js';
import { type SourceOptions, StoredSource } from './storedSource.js';

const NO_CURSORS: ReadonlyMap<string, Cursor> = new Map();
const NO_COUNTS: Readonly<QueueCounters> = newQueueCounters();

/** A queue's state and its read-only view; Queue (queue.ts) is the one subclass. */
export abstract class QueueState extends StoredSource {
  /** Items ever added (recorded in the meta). */
  protected totalItems: number;
  /** The other counters, made when the first of them counts: most of 100,000 queues never do. */
  private tally: QueueCounters | null = null;
  /** Bytes the queue's items take on disk, as LevelDB estimates them (refreshed by the sweep). */
  logSize = 0;
  private cursorMap: Map<string, Cursor> | null = null;

  protected readonly window: HeadWindow;
  /** Ids below this are in the window, open, or consumed; the rest are only in the store. */
  protected loadedUpTo: number;
  /** Ids below this are applied to LevelDB (or failed to be): loads read only below it. */
  protected committedNextId: number;
  protected nextId: number;
  /** Items and bytes in the store, open ones included, uncommitted ones included. */
  protected storedItems: number;
  protected storedBytes: number;
  protected openBytes = 0;
  /** Made when the queue first consumes (most of 100,000 queues never do between restarts). */
  protected range: ConsumedRange | null = null;
  /** The head when the queue was opened: the consumed range starts below it. */
  protected readonly openedHead: number;
  /** Opened from its record in the store (not new): consumed items may be left below its head. */
  private readonly restored: boolean;

  constructor(
    readonly name: string,
    public config: QueueConfig,
    store: Store,
    budget: MemoryBudget,
    meta?: QueueMeta,
    options: SourceOptions = {},
  ) {
    super(store, name, undefined, options);
    this.totalItems = meta?.totalItems ?? 0;
    this.window = new HeadWindow(budget);
    // A new queue's ids start at the clock (µs-scale), so a queue deleted and created again never
    // reuses ids that a background delete of its predecessor may still be removing.
    this.nextId = meta?.nextId ?? this.clock.now() * 1000;
    this.committedNextId = this.nextId;
    this.loadedUpTo = meta?.headId ?? this.nextId;
    this.openedHead = this.loadedUpTo;
    this.restored = meta !== undefined;
    this.storedItems = meta?.items ?? 0;
    this.storedBytes = meta?.bytes ?? 0;
    if (!meta) store.touch(this); // a new queue is recorded even before its first item
  }

  /** What the queue counts, as of now (docs/protocol.md#statistics). */
  get counters(): Readonly<QueueCounters> {
    return { ...(this.tally ?? NO_COUNTS), totalItems: this.totalItems };
  }

  /** The counters to add to (made on first use). */
  protected get counts(): QueueCounters {
    return (this.tally ??= newQueueCounters());
  }

  /** Durable cursors reading this queue, by name (no map until the first: few queues have one). */
  get cursors(): ReadonlyMap<string, Cursor> {
    return this.cursorMap ?? NO_CURSORS;
  }

  /** The cursor map for adding and removing cursors (made on first use). */
  editCursors(): Map<string, Cursor> {
    return (this.cursorMap ??= new Map());
  }

  protected get consumedRange(): ConsumedRange {
    return (this.range ??= new ConsumedRange(this, this.store, this.openedHead, this.restored));
  }

  protected recordKey(): Buffer {
    return metaKey(this.name);
  }

  // ---- state --------------------------------------------------------------------------------

  /** Items ready to be read (not open). */
  get items(): number {
    return this.storedItems - this.open.size;
  }

  get bytes(): number {
    return this.storedBytes - this.openBytes;
  }

  /** Ids below this are applied to LevelDB. */
  get committedNext(): number {
    return this.committedNextId;
  }

  /** Ids below this have been appended (some may still be on their way to the store). */
  get appendedNext(): number {
    return this.nextId;
  }

  /** No item with a lower id exists any more. */
  headId(): number {
    let headId = this.loadedUpTo;
    const first = this.window.peek();
    if (first && first.id < headId) headId = first.id;
    for (const id of this.open.keys()) if (id < headId) headId = id;
    return headId;
  }

  /** ms since epoch when the oldest ready item in memory was added; undefined when none is. */
  oldestAddTime(): number | undefined {
    return this.window.peek()?.addTime;
  }

  get memItems(): number {
    return this.window.length;
  }

  get memBytes(): number {
    return this.window.bytes;
  }

  /** Full: it already holds max_items items or max_size bytes (docs/protocol.md#queue-limits-expiry-and-configuration). */
  isFull(): boolean {
    return this.storedItems >= this.config.maxItems || this.storedBytes >= this.config.maxSize;
  }

  /** Bytes the stored items take as records (payload, header, key), open ones included. */
  storedSize(): number {
    return this.storedBytes + this.storedItems * (RECORD_HEADER + metaKey(this.name).length + 8);
  }

  /** True while item `id` is still in the queue (ready, open, or not yet read from disk). */
  holds(id: number): boolean {
    if (id >= this.loadedUpTo) return id < this.nextId;
    return this.open.has(id) || this.window.has(id);
  }

  protected meta(): QueueMeta {
    return {
      nextId: this.nextId,
      headId: this.headId(),
      items: this.storedItems,
      bytes: this.storedBytes,
      totalItems: this.totalItems,
    };
  }
}
