// What a queue counts for `stats` and the admin pages (docs/protocol.md#statistics).

export interface QueueCounters {
  totalItems: number;
  expiredItems: number;
  discarded: number;
  transactions: number;
  canceledTransactions: number;
  totalFlushes: number;
  /** ms the last fetched item waited in the queue. */
  age: number;
  getHits: number;
  getMisses: number;
  /** Records found damaged (checksum) and dropped. */
  damaged: number;
}

export function newQueueCounters(totalItems = 0): QueueCounters {
  return {
    totalItems,
    expiredItems: 0,
    discarded: 0,
    transactions: 0,
    canceledTransactions: 0,
    totalFlushes: 0,
    age: 0,
    getHits: 0,
    getMisses: 0,
    damaged: 0,
  };
}
