// client.consume(): an async iterator of reliable reads spread over every server, with
// back-pressure. It keeps reads outstanding on the servers and never has more than
// `concurrency` items in hand: reads in flight + items opened and not yet closed or aborted
// (buffered or yielded) ≤ concurrency. Every read is a blocking `get q/open/t=<waitMs>`, so an
// item is picked up as soon as it arrives, and an idle consumer sends about one request per server
// per waitMs — no polling loop:
//
// - reads rotate over the available servers, so no server's queue starves;
// - a server whose last read came back empty gets at most one outstanding read (the others go
//   where items are), and no new read before `waitMs` after the empty one started, even if the
//   server answered at once (a QUIESCENT server does);
// - a server that fails is skipped for a while (the cluster backs it off; the consumer also
//   cools it down locally) and read again when that time has passed.

import type { Cluster } from './cluster.js';
import { ReplyError } from './errors.js';
import type { Message } from './message.js';
import type { ServerNode } from './node.js';

/** One reliable read on one server; undefined when the wait ran out with nothing. */
export type OpenOn = (node: ServerNode, waitMs: number) => Promise<Message | undefined>;

/** Shortest time between two reads of an empty server by one consumer. */
const MIN_EMPTY_INTERVAL_MS = 100;
/** How long a server is left alone after a read on it failed. */
const FAILURE_COOLDOWN_MS = 250;

export class Consumer implements AsyncIterableIterator<Message> {
  private inflight = 0;
  private readonly reads = new Map<ServerNode, number>();
  /** Servers whose last read came back empty. */
  private readonly empty = new Set<ServerNode>();
  /** Servers not to be read before the given time (Date.now()). */
  private readonly cooldown = new Map<ServerNode, number>();
  /** Opened and not settled: the buffered ones and the ones handed out. */
  private readonly held = new Set<Message>();
  private readonly buffer: Message[] = [];
  private readonly waiters: Array<{ resolve(r: IteratorResult<Message>): void; reject(err: unknown): void }> = [];
  private turn = 0;
  private done = false;
  private fatal: unknown = null;
  private timer: NodeJS.Timeout | null = null;
  private lastYielded: Message | null = null;

  constructor(
    private readonly cluster: Cluster,
    private readonly openOn: OpenOn,
    private readonly concurrency: number,
    private readonly waitMs: number,
    private readonly onStop: (c: Consumer) => void,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Message>> {
    if (this.fatal !== null) {
      const err = this.fatal;
      this.fatal = null;
      this.stop();
      return Promise.reject(err);
    }
    const m = this.buffer.shift();
    if (m) return Promise.resolve(this.yieldMessage(m));
    if (this.done) return Promise.resolve({ done: true, value: undefined });
    const p = new Promise<IteratorResult<Message>>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.pump();
    return p;
  }

  /** The loop ended (break, throw or return): the message it was handling is aborted if still open. */
  return(): Promise<IteratorResult<Message>> {
    this.stop();
    return Promise.resolve({ done: true, value: undefined });
  }

  throw(): Promise<IteratorResult<Message>> {
    return this.return();
  }

  /** Items opened and not yet closed or aborted (never more than the concurrency). */
  get holding(): number {
    return this.held.size;
  }

  /** Stops reading; aborts buffered items and the last one handed out if it is still open. */
  stop(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const m of this.buffer.splice(0)) void m.abort();
    if (this.lastYielded?.state === 'open') void this.lastYielded.abort();
    for (const w of this.waiters.splice(0)) w.resolve({ done: true, value: undefined });
    this.onStop(this);
  }

  private yieldMessage(m: Message): IteratorResult<Message> {
    this.lastYielded = m;
    return { done: false, value: m };
  }

  private deliver(m: Message): void {
    const w = this.waiters.shift();
    if (w) w.resolve(this.yieldMessage(m));
    else this.buffer.push(m);
  }

  private fail(err: unknown): void {
    const w = this.waiters.shift();
    if (w) {
      w.reject(err);
      this.stop();
    } else this.fatal = err;
  }

  /** Starts reads while there is room; if none could start, wakes up when a server may be read again. */
  private pump(): void {
    if (this.done) return;
    while (this.inflight + this.held.size < this.concurrency) {
      const node = this.pick();
      if (!node) break;
      this.startRead(node);
    }
    if (this.inflight + this.held.size < this.concurrency) this.wakeAt(this.nextUsable());
  }

  private pick(): ServerNode | undefined {
    const nodes = this.cluster.list();
    const now = Date.now();
    for (let k = 0; k < nodes.length; k++) {
      const node = nodes[(this.turn + k) % nodes.length]!;
      if (!node.available(now) || (this.cooldown.get(node) ?? 0) > now) continue;
      // One read at a time on a server known (or suspected) to be empty, or just coming back.
      if ((this.empty.has(node) || !node.up) && (this.reads.get(node) ?? 0) > 0) continue;
      this.turn = (this.turn + k + 1) % nodes.length;
      return node;
    }
    return undefined;
  }

  /** The earliest time a server now skipped for time reasons may be read; Infinity if none. */
  private nextUsable(): number {
    let t = this.cluster.nextRetryAt();
    const now = Date.now();
    for (const [node, until] of this.cooldown) {
      if (until <= now || node.isRetired) this.cooldown.delete(node);
      else t = Math.min(t, until);
    }
    // No server known at all yet (DNS still resolving, or it listed none): look again soon.
    if (this.cluster.list().length === 0) t = Math.min(t, now + 1000);
    return t;
  }

  private wakeAt(t: number): void {
    if (!Number.isFinite(t)) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.pump();
      },
      Math.max(1, t - Date.now()),
    );
  }

  private startRead(node: ServerNode): void {
    this.inflight++;
    this.reads.set(node, (this.reads.get(node) ?? 0) + 1);
    const started = Date.now();
    this.openOn(node, this.waitMs)
      .then(
        (m) => {
          if (m) {
            this.empty.delete(node);
            this.cooldown.delete(node);
            if (this.done) {
              void m.abort();
            } else {
              this.held.add(m);
              m.onSettled(() => {
                this.held.delete(m);
                this.pump();
              });
              this.deliver(m);
            }
          } else {
            this.empty.add(node);
            this.cooldown.set(node, started + Math.max(this.waitMs, MIN_EMPTY_INTERVAL_MS));
          }
        },
        (err: unknown) => {
          if (err instanceof ReplyError && !err.retryElsewhere) return this.fail(err); // a bad request: stop
          // The server failed (already marked down), refused, or was removed: leave it alone for
          // a while. (Client.end() stops its consumers itself.)
          this.cooldown.set(node, Date.now() + FAILURE_COOLDOWN_MS);
        },
      )
      .finally(() => {
        this.inflight--;
        const n = (this.reads.get(node) ?? 1) - 1;
        if (n > 0) this.reads.set(node, n);
        else this.reads.delete(node);
        this.pump();
      });
  }
}
