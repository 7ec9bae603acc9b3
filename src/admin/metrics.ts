// GET /metrics: a prom-client registry with Node's default process metrics and the server's own,
// filled from one sliced scan per scrape. Per-queue series are bounded: the deepest
// `maxQueues` queues by name, the rest summed under queue="_other".
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { type QueueScan, type QueueTotals, scanQueues } from './scan.js';
import { type AdminSource, type GlobalSnapshot, type QueueSnapshot } from './source.js';

/** The label value of the queues outside the deepest N. */
export const OTHER = '_other';

/**
 * A total summed over queues drops when a queue is deleted; a Prometheus counter must not (a
 * drop reads as a restart). This keeps it monotonic by carrying what disappeared.
 */
class MonotonicSum {
  private last = 0;
  private carried = 0;
  value(sum: number): number {
    if (sum < this.last) this.carried += this.last - sum;
    this.last = sum;
    return sum + this.carried;
  }
}

export class Metrics {
  readonly registry = new Registry();
  private readonly hits = new MonotonicSum();
  private readonly misses = new MonotonicSum();
  private inflight: Promise<string> | null = null;

  private readonly g = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [this.registry] });
  private readonly c = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name, help, labelNames, registers: [this.registry] });

  private readonly info = this.g('siberite_info', 'Server version and status (always 1).', ['version', 'status']);
  private readonly queues = this.g('siberite_queues', 'Queues that exist.');
  private readonly items = this.g('siberite_queue_items', 'Items ready to be read.', ['queue']);
  private readonly bytes = this.g('siberite_queue_bytes', 'Bytes of the items ready to be read.', ['queue']);
  private readonly oldest = this.g('siberite_queue_oldest_item_age_seconds', 'Age of the oldest ready item.', ['queue']);
  private readonly open = this.g('siberite_queue_open_transactions', 'Items held open by reliable reads.', ['queue']);
  private readonly waiters = this.g('siberite_queue_waiters', 'Readers blocked waiting for an item.', ['queue']);
  private readonly added = this.c('siberite_queue_items_added_total', 'Items added.', ['queue']);
  private readonly removed = this.c('siberite_queue_items_removed_total', 'Items consumed (read, closed, or flushed).', ['queue']);
  private readonly expired = this.c('siberite_queue_items_expired_total', 'Items removed by expiry.', ['queue']);
  private readonly discarded = this.c('siberite_queue_items_discarded_total', 'Items dropped by discard_old_when_full.', ['queue']);
  private readonly lag = this.g('siberite_cursor_lag_items', 'Items a durable cursor has still to read.', ['queue', 'cursor']);
  private readonly getHits = this.c('siberite_get_hits_total', 'Reads that returned an item.');
  private readonly getMisses = this.c('siberite_get_misses_total', 'Reads that found the queue empty.');
  private readonly commands = this.c('siberite_commands_total', 'Commands by name.', ['command']);
  private readonly connections = this.g('siberite_connections', 'Open client connections by state.', ['state']);
  private readonly accepted = this.c('siberite_connections_accepted_total', 'Client connections accepted.');
  private readonly maxConnections = this.g('siberite_connections_max', 'The cap on open client connections; 0 when there is none.');
  private readonly refused = this.c('siberite_connections_refused_total', 'Client connections refused (connection limit).');
  private readonly received = this.c('siberite_network_received_bytes_total', 'Bytes read from clients.');
  private readonly sent = this.c('siberite_network_sent_bytes_total', 'Bytes written to clients.');
  private readonly wal = this.g('siberite_wal_bytes', 'Bytes in the write-ahead log.');
  private readonly storeErrors = this.c('siberite_store_errors_total', 'Storage I/O errors by kind.', ['kind']);
  private readonly writable = this.g('siberite_store_writable', '1 while the store takes writes, 0 while it fails closed.');
  private readonly ready = this.g('siberite_ready', '1 when /readyz answers 200.');

  constructor(private readonly maxQueues: number) {
    collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition; concurrent scrapes share one scan. */
  render(source: AdminSource | null): Promise<string> {
    this.inflight ??= this.scrape(source).finally(() => (this.inflight = null));
    return this.inflight;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private async scrape(source: AdminSource | null): Promise<string> {
    if (source) {
      const scan = await scanQueues(source, this.maxQueues);
      this.update(await source.global(), scan);
    } else {
      this.ready.set(0); // still starting: process metrics only
    }
    return this.registry.metrics();
  }

  private update(g: GlobalSnapshot, scan: QueueScan): void {
    for (const m of [
      this.info,
      this.items,
      this.bytes,
      this.oldest,
      this.open,
      this.waiters,
      this.added,
      this.removed,
      this.expired,
      this.discarded,
      this.lag,
      this.commands,
      this.connections,
      this.storeErrors,
    ]) {
      m.reset();
    }
    this.info.set({ version: g.version, status: g.status }, 1);
    this.queues.set(g.queueCount);
    for (const q of scan.top) this.setQueue(q.name, q, q.oldestItemAgeSeconds);
    if (scan.rest.queues > 0) this.setQueue(OTHER, scan.rest, scan.rest.oldestItemAgeSeconds);
    for (const q of scan.top) for (const c of q.cursors) this.lag.set({ queue: q.name, cursor: c.name }, c.lag);
    if (scan.rest.queues > 0) this.lag.set({ queue: OTHER, cursor: OTHER }, scan.rest.cursorLag);
    setCounter(this.getHits, this.hits.value(scan.all.getHits));
    setCounter(this.getMisses, this.misses.value(scan.all.getMisses));
    for (const [command, n] of Object.entries(g.commands)) this.commands.inc({ command }, n);
    const states = g.connectionStates ?? {
      waiting: Math.min(g.connections, scan.all.waiters),
      active: Math.max(0, g.connections - scan.all.waiters),
    };
    for (const [state, n] of Object.entries(states)) this.connections.set({ state }, n);
    setCounter(this.accepted, g.totalConnections);
    setCounter(this.refused, g.connectionsRefused);
    this.maxConnections.set(g.connectionsMax ?? 0);
    setCounter(this.received, g.bytesRead);
    setCounter(this.sent, g.bytesWritten);
    this.wal.set(g.store.walBytes);
    for (const [kind, n] of Object.entries(g.store.errors)) this.storeErrors.inc({ kind }, n);
    this.writable.set(g.store.writable ? 1 : 0);
    this.ready.set(g.store.ready && g.store.writable ? 1 : 0);
  }

  private setQueue(queue: string, q: QueueSnapshot | QueueTotals, oldest: number | null): void {
    this.items.set({ queue }, q.items);
    this.bytes.set({ queue }, q.bytes);
    // An empty queue's oldest item is 0 s old (alerts stay quiet, the series steady); a queue
    // whose oldest age is not known gets no sample rather than a made-up one.
    if (oldest !== null || q.items === 0) this.oldest.set({ queue }, oldest ?? 0);
    this.open.set({ queue }, q.openTransactions);
    this.waiters.set({ queue }, q.waiters);
    this.added.inc({ queue }, q.added);
    this.removed.inc({ queue }, q.removed);
    this.expired.inc({ queue }, q.expired);
    this.discarded.inc({ queue }, q.discarded);
  }
}

/** Mirrors a total counted elsewhere into an unlabelled counter. */
function setCounter(counter: Counter, value: number): void {
  counter.reset();
  counter.inc(value);
}
