// The items one connection holds open (reliable reads, docs/protocol.md#reliable-reads): each
// with its open_transaction_timeout, confirmed or returned to its source's head.
import { type Clock, type TimerHandle } from './clock.js';
import { type ReadSource } from './source.js';
import { type Item } from './store/layout.js';

/** An item this connection holds open, with its open_transaction_timeout timer. */
interface OpenItem {
  item: Item;
  timer: TimerHandle | undefined;
  /** Taken by a plain get of several keys: confirmed as soon as the reply is ready. */
  provisional: boolean;
}

export class OpenItems {
  private readonly bySource = new Map<ReadSource, OpenItem[]>();

  constructor(private readonly clock: Clock) {}

  /** Sources this connection holds anything open on. */
  get size(): number {
    return this.bySource.size;
  }

  /** Items held open on `source` (forgetting those a flush dropped). */
  count(source: ReadSource): number {
    const list = this.bySource.get(source);
    if (!list) return 0;
    for (let i = list.length - 1; i >= 0; i--) {
      if (source.isOpen(list[i]!.item)) continue;
      this.clearTimer(list[i]!);
      list.splice(i, 1);
    }
    if (list.length === 0) this.bySource.delete(source);
    return list.length;
  }

  hold(source: ReadSource, item: Item, provisional = false): void {
    let list = this.bySource.get(source);
    if (!list) this.bySource.set(source, (list = []));
    const entry: OpenItem = { item, timer: undefined, provisional };
    const timeout = source.config.openTransactionTimeout;
    if (timeout !== null) entry.timer = this.clock.setTimer(() => this.drop(source, entry, false), timeout);
    list.push(entry);
  }

  /** Confirms the items a multi-key plain get held while it was being served. */
  confirmProvisional(): void {
    for (const [source, list] of [...this.bySource]) {
      for (const entry of list.filter((e) => e.provisional)) this.drop(source, entry, true);
    }
  }

  /** Confirms (close) or returns (abort) the oldest item held open on `source`. */
  closeOldest(source: ReadSource, confirm: boolean): boolean {
    if (this.count(source) === 0) return false;
    const first = this.bySource.get(source)?.[0];
    if (!first) return false;
    this.drop(source, first, confirm);
    return true;
  }

  /** The connection is gone: every item goes back to its source's head. */
  releaseAll(): void {
    for (const [source, list] of this.bySource) {
      for (const entry of list) {
        this.clearTimer(entry);
        source.release(entry.item);
      }
    }
    this.bySource.clear();
  }

  private drop(source: ReadSource, entry: OpenItem, confirm: boolean): void {
    const list = this.bySource.get(source);
    const at = list ? list.indexOf(entry) : -1;
    if (at < 0) return;
    list!.splice(at, 1);
    if (list!.length === 0) this.bySource.delete(source);
    this.clearTimer(entry);
    if (confirm) source.confirm(entry.item);
    else source.release(entry.item);
  }

  private clearTimer(entry: OpenItem): void {
    if (entry.timer !== undefined) this.clock.clearTimer(entry.timer);
    entry.timer = undefined;
  }
}
