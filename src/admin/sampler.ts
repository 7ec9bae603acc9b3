// The dashboard's recent history: a sample of rates, depths, connections and process health
// taken every few seconds and kept for ten minutes. The interval stretches when a scan is slow
// (100,000 queues), so sampling never takes more than a few percent of the CPU.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { scanQueues } from './scan.js';
import { type AdminSource } from './source.js';

export interface Sample {
  /** Unix ms. */
  t: number;
  /** Per second over the last interval. */
  setRate: number;
  getRate: number;
  addedRate: number;
  removedRate: number;
  items: number;
  bytes: number;
  connections: number;
  rssBytes: number;
  /** The event loop's 99th percentile delay over the interval, ms. */
  loopLagMs: number;
  /** Items of the deepest queues, by name. */
  top: Record<string, number>;
}

const INTERVAL_MS = 2000;
const KEEP_MS = 10 * 60 * 1000;
/** A scan may take this share of the interval at most; beyond, the interval grows. */
const MAX_SHARE = 0.05;
const TOP_QUEUES = 5;

interface Totals {
  t: number;
  set: number;
  get: number;
  added: number;
  removed: number;
}

export class Sampler {
  readonly samples: Sample[] = [];
  private readonly loop = monitorEventLoopDelay({ resolution: 10 });
  private timer: NodeJS.Timeout | undefined;
  private last: Totals | undefined;
  private stopped = false;

  constructor(
    private readonly source: AdminSource,
    private readonly intervalMs = INTERVAL_MS,
  ) {
    this.loop.enable();
    this.schedule(0);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), delay);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const started = performance.now();
    try {
      await this.sample();
    } catch {
      // a closing server; the next tick tries again
    }
    const took = performance.now() - started;
    this.schedule(Math.max(this.intervalMs, took / MAX_SHARE));
  }

  private async sample(): Promise<void> {
    const scan = await scanQueues(this.source, TOP_QUEUES);
    const g = await this.source.global();
    const now: Totals = {
      t: Date.now(),
      set: g.commands['set'] ?? 0,
      get: g.commands['get'] ?? 0,
      added: scan.all.added,
      removed: scan.all.removed,
    };
    const prev = this.last;
    this.last = now;
    const seconds = prev ? Math.max(0.001, (now.t - prev.t) / 1000) : 1;
    // Totals summed over queues drop when a queue is deleted: a rate is never negative.
    const rate = (key: keyof Omit<Totals, 't'>) => (prev ? Math.max(0, now[key] - prev[key]) / seconds : 0);
    const top: Record<string, number> = {};
    for (const q of scan.top) top[q.name] = q.items;
    this.samples.push({
      t: now.t,
      setRate: rate('set'),
      getRate: rate('get'),
      addedRate: rate('added'),
      removedRate: rate('removed'),
      items: scan.all.items,
      bytes: scan.all.bytes,
      connections: g.connections,
      rssBytes: process.memoryUsage.rss(),
      loopLagMs: this.loop.count > 0 ? this.loop.percentile(99) / 1e6 : 0,
      top,
    });
    this.loop.reset();
    while (this.samples.length > 0 && this.samples[0]!.t < now.t - KEEP_MS) this.samples.shift();
  }

  /** Samples taken after `since` (Unix ms). */
  since(since: number): Sample[] {
    let i = this.samples.length;
    while (i > 0 && this.samples[i - 1]!.t > since) i--;
    return this.samples.slice(i);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.loop.disable();
  }
}
