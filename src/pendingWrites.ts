// A queue's appended items on their way to LevelDB, grouped by the batch that writes them, so
// the items of a batch that failed can be withdrawn (their producers hear SERVER_ERROR).
import { type Item } from './store/layout.js';

/** What one sealed batch wrote for the queue, and the meta it recorded. */
export interface SealedGroup {
  items: Item[];
  headId: number;
  nextId: number;
}

export class PendingWrites {
  /** Items appended since the last batch was sealed. */
  private appended: Item[] = [];
  /** One group per sealed batch not yet done, in seal order (the order batches finish in). */
  private readonly sealed: SealedGroup[] = [];

  add(item: Item): void {
    this.appended.push(item);
  }

  /** The batch holding the items appended so far is sealed with a meta of `headId`/`nextId`. */
  seal(headId: number, nextId: number): void {
    this.sealed.push({ items: this.appended, headId, nextId });
    this.appended = [];
  }

  /** The oldest sealed batch is done (applied, or failed): its group. */
  done(): SealedGroup | undefined {
    return this.sealed.shift();
  }

  /** A flush dropped every item: none is left to withdraw if its batch fails. */
  forget(): void {
    this.appended = [];
    for (const group of this.sealed) group.items = [];
  }
}
