// Latency recording, percentiles and fixed-width table printing for the benches.

/** Growable array of latency samples (microseconds); exact percentiles after sorting. */
export class LatencyRecorder {
  private samples: Float64Array;
  private n = 0;
  private sorted = true;

  constructor(initialCapacity = 1 << 16) {
    this.samples = new Float64Array(Math.max(16, initialCapacity));
  }

  get count(): number {
    return this.n;
  }

  record(us: number): void {
    if (this.n === this.samples.length) {
      const bigger = new Float64Array(this.samples.length * 2);
      bigger.set(this.samples);
      this.samples = bigger;
    }
    this.samples[this.n++] = us;
    this.sorted = false;
  }

  /** The recorded samples (a view, valid until the next record()). */
  view(): Float64Array {
    return this.samples.subarray(0, this.n);
  }

  /** Sorted samples, sorting in place once. */
  sortedView(): Float64Array {
    const v = this.samples.subarray(0, this.n);
    if (!this.sorted) {
      v.sort();
      this.sorted = true;
    }
    return v;
  }

  /** A new recorder holding the samples of all the given ones. */
  static merge(...parts: LatencyRecorder[]): LatencyRecorder {
    const total = parts.reduce((s, p) => s + p.n, 0);
    const out = new LatencyRecorder(total);
    let off = 0;
    for (const p of parts) {
      out.samples.set(p.view(), off);
      off += p.n;
    }
    out.n = total;
    out.sorted = total <= 1;
    return out;
  }

  summary(): LatencySummary {
    return summarize(this.sortedView());
  }
}

export interface LatencySummary {
  count: number;
  meanUs: number;
  minUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

/** Nearest-rank percentile (p in [0, 1]) of ascending-sorted samples; NaN when empty. */
export function percentile(sorted: Float64Array, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.min(n, Math.max(1, Math.ceil(p * n)));
  return sorted[rank - 1]!;
}

export function summarize(sorted: Float64Array): LatencySummary {
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]!;
  const n = sorted.length;
  return {
    count: n,
    meanUs: n === 0 ? Number.NaN : sum / n,
    minUs: n === 0 ? Number.NaN : sorted[0]!,
    p50Us: percentile(sorted, 0.5),
    p90Us: percentile(sorted, 0.9),
    p99Us: percentile(sorted, 0.99),
    p999Us: percentile(sorted, 0.999),
    maxUs: n === 0 ? Number.NaN : sorted[n - 1]!,
  };
}

/** Rounds for JSON output (NaN becomes null through JSON.stringify anyway). */
export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** A summary with every latency rounded for JSON output. */
export function roundSummary(s: LatencySummary): LatencySummary {
  return {
    count: s.count,
    meanUs: round(s.meanUs),
    minUs: round(s.minUs),
    p50Us: round(s.p50Us),
    p90Us: round(s.p90Us),
    p99Us: round(s.p99Us),
    p999Us: round(s.p999Us),
    maxUs: round(s.maxUs),
  };
}

/** Microseconds as a short human string: "87us", "1.24ms", "12.5ms", "1.20s". */
export function formatMicros(us: number): string {
  if (!Number.isFinite(us)) return '-';
  if (us < 1000) return `${Math.round(us)}us`;
  if (us < 10_000) return `${(us / 1000).toFixed(2)}ms`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(1)}ms`;
  return `${(us / 1_000_000).toFixed(2)}s`;
}

/** Integer with thousands separators ("123,456"). */
export function formatInt(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return Math.round(x).toLocaleString('en-US');
}

export interface Column {
  title: string;
  width: number;
  align?: 'left' | 'right';
}

/** Fixed-width table: print the header once, then rows as they become available. */
export class TablePrinter {
  constructor(
    private readonly columns: Column[],
    private readonly out: (line: string) => void = (l) => process.stdout.write(l + '\n'),
  ) {}

  private line(cells: string[]): string {
    return cells
      .map((c, i) => {
        const col = this.columns[i]!;
        return col.align === 'left' ? c.padEnd(col.width) : c.padStart(col.width);
      })
      .join('  ')
      .trimEnd();
  }

  header(): void {
    this.out(this.line(this.columns.map((c) => c.title)));
    this.out(this.line(this.columns.map((c) => '-'.repeat(c.width))));
  }

  row(cells: string[]): void {
    this.out(this.line(cells));
  }
}

/** What a row of the load benches' table shows of one run. */
export interface LoadRow {
  label: string;
  opsPerSec: number;
  latencyUs: { all: LatencySummary };
  errors: number;
  warmupErrors: number;
  rssMB: number | null;
}

/**
 * The table of the load benches (flood, pipelined): the label, the bench's own columns, then
 * ops/s, latency percentiles over all requests, errors and (with a server pid) its RSS.
 */
export class LoadTable {
  private readonly table: TablePrinter;

  constructor(
    label: string,
    own: Column[],
    private readonly withRss: boolean,
  ) {
    this.table = new TablePrinter([
      { title: 'label', width: Math.max(5, label.length), align: 'left' },
      ...own,
      { title: 'ops/s', width: 9 },
      { title: 'p50 us', width: 8 },
      { title: 'p99 us', width: 8 },
      { title: 'p999 us', width: 8 },
      { title: 'max us', width: 9 },
      { title: 'errors', width: 6 },
      ...(withRss ? [{ title: 'RSS MB', width: 7 }] : []),
    ]);
  }

  header(): void {
    this.table.header();
  }

  /** One run: `own` holds the cells of the bench's own columns. */
  row(r: LoadRow, own: string[]): void {
    const lat = r.latencyUs.all;
    this.table.row([
      r.label,
      ...own,
      formatInt(r.opsPerSec),
      formatInt(lat.p50Us),
      formatInt(lat.p99Us),
      formatInt(lat.p999Us),
      formatInt(lat.maxUs),
      String(r.errors + r.warmupErrors),
      ...(this.withRss ? [r.rssMB === null ? '-' : r.rssMB.toFixed(1)] : []),
    ]);
  }
}
