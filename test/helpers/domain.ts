// In-process harness for the domain core: a real Store over a real LevelDB in a temp dir, a
// manual clock, a pino logger whose lines the test reads — no server, no sockets.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { DEFAULT_QUEUE_CONFIG, type QueueConfig } from '../../src/config.js';
import { Cursor } from '../../src/cursor.js';
import { MemoryBudget } from '../../src/headWindow.js';
import { Queue } from '../../src/queue.js';
import { type ReadSource } from '../../src/source.js';
import { RECORD_HEADER, type Item, type QueueMeta, writeRecordHeader } from '../../src/store/layout.js';
import { Store } from '../../src/store/store.js';
import { type TakeMode, type Waiter } from '../../src/waiters.js';
import { ManualClock } from './clock.js';

/** A log line as pino wrote it. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export const WARN = 40;

export class DomainHarness {
  readonly clock = new ManualClock();
  readonly lines: LogLine[] = [];
  readonly log = pino({ level: 'debug' }, { write: (line: string) => void this.lines.push(JSON.parse(line) as LogLine) });
  readonly budget = new MemoryBudget(64 * 1024 * 1024);
  /** Items sent to the expire sink, by the queue they expired from. */
  readonly expired: Array<[string, Item]> = [];
  readonly damaged: Array<[string, number]> = [];
  store!: Store;

  private constructor(readonly dir: string) {}

  /** Opens a store in `dir` (a new temp dir when not given). */
  static async open(dir = mkdtempSync(join(tmpdir(), 'siberite-core-'))): Promise<DomainHarness> {
    const harness = new DomainHarness(dir);
    await harness.reopen();
    return harness;
  }

  /** Opens the store (again) on the same directory. */
  async reopen(): Promise<void> {
    this.store = await Store.open(this.dir, { syncAlways: false, readBytes: 1024 * 1024, retryMs: 10 });
  }

  /** A queue as the manager makes it: from its recorded meta after a reopen, else new. */
  async queue(name: string, config: Partial<QueueConfig> = {}): Promise<Queue> {
    const meta: QueueMeta | undefined = (await this.store.loadQueueMetas()).get(name);
    if (meta && meta.items === 0) meta.headId = meta.nextId;
    return this.newQueue(name, config, meta);
  }

  /** A queue made with `meta` (none: a new queue), without reading the store (for thousands). */
  newQueue(name: string, config: Partial<QueueConfig> = {}, meta?: QueueMeta): Queue {
    return new Queue(
      name,
      { ...DEFAULT_QUEUE_CONFIG, ...config },
      this.store,
      this.budget,
      (from, item) => this.expired.push([from.name, item]),
      (queue, id) => this.damaged.push([queue.name, id]),
      meta,
      { clock: this.clock, log: this.log },
    );
  }

  /**
   * A queue holding `values` only on disk, as after a restart: written, the store reopened, the
   * queue made again from its meta (the window of the one before no longer counts).
   */
  async queueOnDisk(name: string, values: string[]): Promise<Queue> {
    const before = await this.queue(name);
    for (const value of values) this.set(before, value);
    await this.store.close();
    await this.reopen();
    this.budget.used = 0;
    return this.queue(name);
  }

  /** A new cursor of `queue`, registered with it as the manager does (clock and log: the queue's). */
  cursor(queue: Queue, name: string): Cursor {
    const cursor = new Cursor(queue, name, this.store);
    queue.editCursors().set(name, cursor);
    return cursor;
  }

  /** Appends `value` to `queue` as a set would, stamped with the clock (expiry: ms from now). */
  set(queue: Queue, value: string, ttlMs = 0): void {
    const data = Buffer.from(value);
    const record = Buffer.alloc(RECORD_HEADER + data.length);
    data.copy(record, RECORD_HEADER);
    const now = this.clock.now();
    const expiry = ttlMs > 0 ? now + ttlMs : 0;
    writeRecordHeader(record, 0, now, expiry);
    queue.append(record, 0, now, expiry);
  }

  warnings(): LogLine[] {
    return this.lines.filter((line) => line.level >= WARN);
  }

  async close(): Promise<void> {
    await this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Takes from `source` as a reader would: reads from the store when it must (bounded). */
export async function take(source: ReadSource, mode: TakeMode = 'remove'): Promise<Item | null> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const result = source.take(mode);
    if (!(result instanceof Promise)) return result;
    await result;
  }
  throw new Error('take: the source kept asking to read from the store');
}

/** Takes every item left, as text, in the order served. */
export async function drain(source: ReadSource, mode: TakeMode = 'remove'): Promise<string[]> {
  const out: string[] = [];
  for (let item = await take(source, mode); item; item = await take(source, mode)) {
    out.push(item.data.toString());
    if (out.length > 1_000_000) throw new Error('drain: unbounded');
  }
  return out;
}

/** A blocked reader that records what it was handed (null: timed out or cancelled). */
export function recordingWaiter(mode: TakeMode, got: Array<string | null>): Waiter {
  return { mode, deliver: (item) => got.push(item ? item.data.toString() : null) };
}

/** `count` values: `${prefix}0`, `${prefix}1`, … */
export const numbered = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

export const text = (item: Item | null): string | null => (item ? item.data.toString() : null);
