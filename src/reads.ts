// One connection's reads: `get` with its options, blocked reads (`/t=`), and `monitor`
// (docs/protocol.md#reading-items-get-and-gets, #blocking-reads, #reliable-reads).
import { type Clock } from './clock.js';
import { type QueueManager } from './manager.js';
import { type Command, type GetKey, type Reply, type ValueOut, type ValueReply, clientError } from './protocol/command.js';
import { type OpenItems } from './openItems.js';
import { statusDecision } from './readOnly.js';
import { type ReadSource } from './source.js';
import { type Item } from './store/layout.js';
import { type TakeMode, type Waiter } from './waiters.js';
import { EMPTY_VALUES, END } from './replies.js';

const CLOSE_FIRST = () => clientError('Close current item first', 'busy');

type MonitorCommand = Extract<Command, { kind: 'monitor' }>;

/** What the reads need of their connection. */
export interface ReadContext {
  readonly manager: QueueManager;
  readonly open: OpenItems;
  readonly clock: Clock;
  /** `full`: VALUE lines echo the whole requested key instead of the queue name. */
  readonly valueKey: 'queue' | 'full';
  /** True once the connection is gone. */
  closed(): boolean;
  /** Sends one reply at once, ahead of the command's last one (monitor streams its items). */
  send(command: Command, reply: Reply): void;
}

/** A blocked read: the waiter parked on a source, which owns its deadline. */
interface Wait {
  source: ReadSource;
  waiter: Waiter;
}

export class Reads {
  private wait: Wait | null = null;

  constructor(private readonly ctx: ReadContext) {}

  /** A read is parked waiting for an item. */
  get waiting(): boolean {
    return this.wait !== null;
  }

  /** The connection is gone: its blocked read, if any, stops waiting (and is never answered). */
  cancelWait(): void {
    if (!this.wait) return;
    this.wait.source.removeWaiter(this.wait.waiter);
    this.wait = null;
  }

  get(keys: GetKey[], withCas: boolean): Reply | Promise<Reply> {
    const { manager, open } = this.ctx;
    // A quiescent server looks empty, so clients move on to other servers.
    if (statusDecision(manager.status, 'get') === 'empty') return EMPTY_VALUES;
    // Check every key before taking anything, so an error never loses an item already taken.
    for (const key of keys) {
      const source = manager.source(key);
      const held = open.count(source);
      if (key.open && held - (key.close && held > 0 ? 1 : 0) >= source.config.maxOpenTransactions) return CLOSE_FIRST();
      if (!key.open && !key.peek && !key.close && !key.abort && held > 0) return CLOSE_FIRST();
    }
    return this.serveKeys(keys, 0, null, withCas);
  }

  /**
   * Serves keys[from…] in turn. A key whose head must first be read from the store is served
   * again once it is (`resumed`: its /close or /abort is already done). With several keys,
   * what a plain get takes is held open until the whole reply is ready and only then
   * confirmed, so a connection that goes away meanwhile loses nothing.
   */
  private serveKeys(keys: GetKey[], from: number, values: ValueOut[] | null, withCas: boolean, resumed = false): Reply | Promise<Reply> {
    const provisional = keys.length > 1;
    for (let i = from; i < keys.length; i++) {
      const key = keys[i]!;
      const source = this.ctx.manager.source(key);
      if (!(resumed && i === from) && !this.beforeTake(source, key)) continue;
      const mode: TakeMode = key.open || (provisional && !key.peek) ? 'open' : key.peek ? 'peek' : 'remove';
      const taken = source.take(mode);
      if (taken instanceof Promise) {
        return taken.then(() => (this.ctx.closed() ? EMPTY_VALUES : this.serveKeys(keys, i, values, withCas, true)));
      }
      if (taken) {
        if (mode === 'open') this.ctx.open.hold(source, taken, provisional && !key.open);
        if (keys.length === 1) return this.valueOut(key, taken, withCas);
        (values ??= []).push(this.valueOut(key, taken, withCas));
      } else if (keys.length === 1 && key.timeoutMs) {
        return this.block(source, key, mode, withCas);
      }
    }
    if (provisional) this.ctx.open.confirmProvisional();
    return values ? { kind: 'values', values } : EMPTY_VALUES;
  }

  /** A key's /close and /abort, and the read's count; false when nothing is to be taken. */
  private beforeTake(source: ReadSource, key: GetKey): boolean {
    if (key.close) this.ctx.open.closeOldest(source, true);
    if (key.abort) {
      this.ctx.open.closeOldest(source, false);
      return false;
    }
    if (!key.open && !key.peek && key.close) return false; // close only
    this.count(key.open ? 'open' : key.peek ? 'peek' : 'remove');
    return true;
  }

  private count(mode: TakeMode): void {
    if (mode === 'peek') this.ctx.manager.counters.cmdPeek++;
    else this.ctx.manager.counters.cmdGet++;
  }

  /** A hit: a reply of its own, or one of the list of a multi-key get. */
  private valueOut(key: GetKey, item: Item, withCas: boolean): ValueReply {
    const out: ValueReply = {
      kind: 'value',
      key: this.ctx.valueKey === 'full' ? key.raw : key.queue,
      flags: item.flags,
      data: item.data,
    };
    if (withCas) out.cas = item.id;
    return out;
  }

  /**
   * Waits up to key.timeoutMs for an item; later commands of this connection wait behind. The
   * source keeps the deadline: a waiter whose time is up is told "nothing" (deliver(null)).
   */
  private block(source: ReadSource, key: GetKey, mode: TakeMode, withCas: boolean): Promise<Reply> {
    return new Promise<Reply>((resolve) => {
      const waiter: Waiter = {
        mode,
        deliver: (item) => {
          if (this.wait === wait) this.wait = null;
          if (!item) return resolve(EMPTY_VALUES);
          if (mode === 'open') this.ctx.open.hold(source, item);
          resolve(this.valueOut(key, item, withCas));
        },
      };
      const wait: Wait = { source, waiter };
      this.wait = wait;
      source.addWaiter(waiter, key.timeoutMs ?? 0);
    });
  }

  /**
   * `monitor q seconds [max]`: hands out items as open reads, each as its own VALUE…END block,
   * for that long (or until max), then a final END. They are confirmed with `confirm q n`.
   */
  async monitor(command: MonitorCommand): Promise<Reply> {
    const { manager, clock } = this.ctx;
    const queue = manager.queue(command.queue);
    const deadline = clock.now() + command.seconds * 1000;
    const max = command.max ?? Infinity;
    const key: GetKey = { raw: command.queue, queue: command.queue, open: true, close: false, abort: false, peek: false };
    for (let sent = 0; !this.ctx.closed() && sent < max; sent++) {
      const remaining = deadline - clock.now();
      if (remaining <= 0) break;
      this.count('open');
      let taken = queue.take('open');
      while (taken instanceof Promise) {
        await taken;
        if (this.ctx.closed()) return END;
        taken = queue.take('open');
      }
      if (taken) {
        this.ctx.open.hold(queue, taken);
        this.ctx.send(command, this.valueOut(key, taken, false));
        continue;
      }
      const waited = await this.block(queue, { ...key, timeoutMs: remaining }, 'open', false);
      if (waited.kind !== 'value') break;
      this.ctx.send(command, waited); // block() already holds the item open
    }
    return END;
  }
}
