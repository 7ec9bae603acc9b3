// What the domain answers to a write, in its own terms: the session alone turns these into wire
// replies (docs/protocol.md#adding-items-set).

/** The result of storing an item (in every queue a fanout set names, or in none). */
export type SetOutcome =
  /** Taken in memory; `durable` settles once the store batch holding it is kept (or fails). */
  | { kind: 'stored'; durable: Promise<void> }
  /** The server's status refuses writes. */
  | { kind: 'readOnly' }
  /** A queue is at its limits and does not discard old items to make room. */
  | { kind: 'full' }
  /** The value is over a queue's max_item_size. */
  | { kind: 'tooLarge' };
