// A queue's appended items on their way to LevelDB, grouped by the batch that writes them, so
// the items of a batch that failed can be withdrawn (their producers hear SERVER_ERROR).
import { type Item } from './store/layout.js';

/** What one sealed batch wrote for the queue, and the meta it recorded. */
export interface SealedGroup {
  items: Item[];
  headId: number;
  nextId: number;
}

/** No items (shared: never written to). */
const NO_ITEMS: Item[] = [];

// The arrays exist only while writes are on their way: an idle queue (of 100,000) holds none.
export class PendingWrites {
  /** Items appended since the last batch was sealed. */
  private appended: Item[] | null = null;
  /** One group per sealed batch not yet done, in seal order (the order batches finish in). */
  private sealed: SealedGroup[] | null = null;

  add(item: Item): void {
    (this.appended ??= []).push(item);
  }

  /** The batch holding the items appended so far is sealed with a meta of `headId`/`nextId`. */
  seal(headId: number, nextId: number): void {
    (this.sealed ??= []).push({ items: this.appended ?? NO_ITEMS, headId, nextId });
    this.appended = null;
  }

  /** The oldest sealed batch is done (applied, or failed): its group. */
  done(): SealedGroup | undefined {
    const group = this.sealed?.shift();
    if (this.sealed?.length === 0) this.sealed = null;
    return group;
  }

  /** Nothing appended or sealed is waiting: the queue may drop this object until its next write. */
  get idle(): boolean {
    return this.appended === null && this.sealed === null;
  }

  /** A flush dropped every item: none is left to withdraw if its batch fails. */
  forget(): void {
    this.appended = null;
    for (const group of this.sealed ?? NO_GROUPS) group.items = NO_ITEMS;
  }
}

const NO_GROUPS: SealedGroup[] = [];
