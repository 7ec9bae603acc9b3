// What the admin surface (metrics, health, stats.json, dashboard) reads from the server: one
// read-only interface, so the HTTP layer never reaches into the queue or storage code and the
// storage core can change underneath it. adapter.ts builds it from the live server.
import { type RawDb } from '../store/portable.js';

/** One durable cursor of a queue. */
export interface CursorSnapshot {
  name: string;
  /** Items the cursor has still to read. */
  lag: number;
  openTransactions: number;
  /** The `dump_stats` key/value pairs of this cursor, as the protocol prints them (built on call). */
  stats(): Array<[string, string]>;
}

/** One queue, as of the moment it is read. */
export interface QueueSnapshot {
  name: string;
  /** Items ready to be read (open ones not included). */
  items: number;
  bytes: number;
  /** Seconds the oldest ready item has waited; null when the queue is empty or it is not known. */
  oldestItemAgeSeconds: number | null;
  openTransactions: number;
  /** Readers blocked on this queue and its cursors (each is one connection in a `/t=` read). */
  waiters: number;
  /** Monotonic while the server runs (Prometheus counters); they restart with the process. */
  added: number;
  removed: number;
  expired: number;
  discarded: number;
  /** Damaged records found (checksum) and dropped. */
  damaged: number;
  getHits: number;
  getMisses: number;
  cursors: CursorSnapshot[];
  /** The `stats`/`dump_stats` key/value pairs of this queue, as the protocol prints them (built on call). */
  stats(): Array<[string, string]>;
}

/** Whether the store takes writes: the basis of /readyz and siberite_store_writable. */
export interface StoreHealth {
  /** False while the store fails closed (writes refused after an I/O error). */
  writable: boolean;
  /** True once the store is open and start-up recovery has finished. */
  ready: boolean;
  /** The error code of the fault while failing closed (ENOSPC, EIO, …; never a path), else null. */
  fault: string | null;
  /** I/O errors seen since start, by kind (where they happened: `log`, `leveldb`). */
  errors: Record<string, number>;
  /** Bytes in the write-ahead log (written, not yet applied to LevelDB and deleted). */
  walBytes: number;
}

/** Server-wide values that cost no pass over the queues. */
export interface GlobalSnapshot {
  version: string;
  pid: number;
  uptimeSeconds: number;
  /** `UP`, `READONLY` or `QUIESCENT` (protocol: `status`). */
  status: string;
  /** Connections open now. */
  connections: number;
  /**
   * Open connections by state, when the server tracks them. Without it, the admin surface
   * derives `waiting` (blocked in a read: the queues' waiters) and `active` (the rest).
   */
  connectionStates?: Record<string, number>;
  totalConnections: number;
  connectionsRefused: number;
  /** The cap on open connections; null when there is none. */
  connectionsMax: number | null;
  /** Command counts by command name (`get`, `set`, `peek`, …), monotonic. */
  commands: Record<string, number>;
  bytesRead: number;
  bytesWritten: number;
  queueCreates: number;
  queueDeletes: number;
  queueExpires: number;
  queueCount: number;
  store: StoreHealth;
  /** Further `stats` lines of the server (limits, damage, …), as the protocol prints them. */
  extraStats: Array<[string, string]>;
}

export interface AdminSource {
  global(): GlobalSnapshot | Promise<GlobalSnapshot>;
  /** The database to export from (every acknowledged write applied): GET /export. */
  exportDb(): Promise<RawDb>;
  /**
   * Every queue, built lazily one at a time. Callers iterate it in slices across turns of the
   * event loop: it must tolerate queues created or deleted meanwhile (a deleted queue may be
   * skipped, a new one may or may not be seen).
   */
  queues(): Iterable<QueueSnapshot>;
}
