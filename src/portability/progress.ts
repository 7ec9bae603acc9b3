// Progress of a long import, export or restore, on stderr (stdout may carry the backup): a bar
// redrawn in place on a terminal, a log line every few seconds otherwise.
import { type Writable } from 'node:stream';

const BAR_WIDTH = 30;
const TTY_REDRAW_MS = 100;
const LOG_EVERY_MS = 2000;

export interface ProgressOptions {
  /** Draw a bar (a terminal) or write log lines. Default: whether `out` is a TTY. */
  tty?: boolean;
  /** Silent (tests, or -quiet). */
  quiet?: boolean;
}

export class Progress {
  private items = 0;
  private bytes = 0;
  private total: number | undefined;
  private stage = '';
  private readonly started = Date.now();
  private lastDraw = 0;
  private drawn = false;
  private readonly tty: boolean;

  constructor(
    private readonly verb: string,
    private readonly out: Writable & { isTTY?: boolean } = process.stderr,
    private readonly options: ProgressOptions = {},
  ) {
    this.tty = options.tty ?? out.isTTY === true;
  }

  /** A new phase (a queue being imported) with its item count when known. */
  setStage(stage: string, total?: number): void {
    this.stage = stage;
    this.total = total === undefined ? undefined : this.items + total;
    this.draw(true);
  }

  /** Overall item count, when known from the start (export, restore). */
  setTotal(total: number): void {
    this.total = total;
  }

  add(items: number, bytes: number): void {
    this.items += items;
    this.bytes += bytes;
    this.draw(false);
  }

  /** Absolute counts (when the worker keeps its own totals). */
  set(items: number, bytes: number): void {
    this.items = items;
    this.bytes = bytes;
    this.draw(false);
  }

  /** Ends the bar (the summary follows on its own lines). */
  finish(): void {
    if (this.options.quiet) return;
    if (this.tty) {
      this.render();
      this.out.write('\n');
    } else if (this.drawn) {
      this.out.write(`${this.line()}\n`);
    }
  }

  get elapsedMs(): number {
    return Date.now() - this.started;
  }

  private draw(force: boolean): void {
    if (this.options.quiet) return;
    const now = Date.now();
    const every = this.tty ? TTY_REDRAW_MS : LOG_EVERY_MS;
    if (now - this.lastDraw < every && !(force && this.tty)) return;
    // The first log line waits a moment, so a quick run prints only its summary.
    if (!this.tty && this.lastDraw === 0 && now - this.started < LOG_EVERY_MS) return;
    this.lastDraw = now;
    this.drawn = true;
    if (this.tty) this.render();
    else this.out.write(`${this.line()}\n`);
  }

  private render(): void {
    const fraction = this.total ? Math.min(1, this.items / this.total) : undefined;
    const filled = fraction === undefined ? 0 : Math.round(fraction * BAR_WIDTH);
    const bar = fraction === undefined ? '' : `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] `;
    this.out.write(`\r\x1b[K${bar}${this.line()}`);
  }

  private line(): string {
    const secs = Math.max(this.elapsedMs / 1000, 0.001);
    const pct = this.total ? ` (${Math.floor((100 * this.items) / this.total)}%)` : '';
    const of = this.total ? `/${fmt(this.total)}` : '';
    const stage = this.stage ? ` ${this.stage}:` : '';
    return (
      `siberite ${this.verb}:${stage} ${fmt(this.items)}${of} items${pct}, ` +
      `${fmt(Math.round(this.items / secs))} items/s, ${(this.bytes / 1e6 / secs).toFixed(1)} MB/s`
    );
  }
}

/** 1234567 → "1,234,567". */
export function fmt(n: number): string {
  return n.toLocaleString('en-US');
}
