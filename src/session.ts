// One connection: its reply pipeline, its open items, its blocked read. Dies with the socket.
import { type Socket } from 'node:net';
import { type Logger } from 'pino';
import { type QueueManager } from './manager.js';
import {
  type Command,
  type Framing,
  type GetKey,
  type Reply,
  type ValueOut,
  type ValueReply,
  clientError,
  serverError,
  unknownCommand,
} from './protocol/command.js';
import { ReplyWriter } from './protocol/output.js';
import { type ReadSource } from './source.js';
import { type TakeMode, type Waiter } from './waiters.js';
import { type Item } from './store/layout.js';
import { VERSION } from './version.js';
import { MAX_TIMER_MS } from './configFile.js';
import { errorCode } from './store/store.js';
import { needsWrite } from './writeRules.js';
import { dumpStatsSlices, statsSlices } from './stats.js';
import { type InputBudget } from './limits.js';
import { type ConnectionGuard } from './security/guard.js';

export interface SessionOptions {
  /** `full`: VALUE lines echo the whole requested key instead of the queue name. */
  valueKey: 'queue' | 'full';
  allowShutdown: boolean;
  log: Logger;
  /** Shared by every connection: bytes of values still arriving. */
  inputBudget: InputBudget;
  /** Called for `shutdown` (only when allowed) and `reload`. */
  onShutdown(): void;
  onReload(): Promise<string | null>;
  /** Security hook (src/security): authentication and per-user access; absent when auth is off. */
  guard?: ConnectionGuard;
}

/** A reply whose command is still being served; replies leave in request order. */
interface Slot {
  command: Command;
  reply: Reply | undefined;
}

/** A reply that is ready but waits for its command's changes to reach the log. */
interface LoggedSlot extends Slot {
  ready: Reply;
}

/** An item this connection holds open, with its open_transaction_timeout timer. */
interface OpenItem {
  item: Item;
  timer: NodeJS.Timeout | undefined;
  /** Taken by a plain get of several keys: confirmed as soon as the reply is ready. */
  provisional: boolean;
}

/** A blocked read: the waiter parked on a queue and its timeout. */
interface Wait {
  queue: ReadSource;
  waiter: Waiter;
  timer: NodeJS.Timeout;
}

const END: Reply = { kind: 'end' };
const STORE_FAILED = () => serverError('store failed before the change was kept');
const EMPTY_VALUES: Reply = { kind: 'values', values: [] };
const READ_ONLY = () => serverError('read only', 'not_stored');
const CLOSE_FIRST = () => clientError('Close current item first', 'busy');

/** Read no more from a client whose replies cannot leave, past this many buffered bytes. */
const MAX_BUFFERED_INPUT = 256 * 1024;
/** Commands in flight per connection before reading pauses. */
const MAX_PIPELINED = 4096;

export class Session {
  private readonly slots: Slot[] = [];
  /** Commands being served asynchronously, and how many of them are not sets. */
  private outstanding = 0;
  private outstandingNonSets = 0;
  /** A parsed command that must wait for the ones before it. */
  private held: Command | null = null;
  /** The promise of the latest asynchronous command, and the slots waiting on it. */
  private lastPromise: Promise<Reply> | null = null;
  private lastGroup: Slot[] | null = null;
  /** The store batch the latest ready replies wait for, and those replies. */
  private lastGate: Promise<void> | null = null;
  private lastGateGroup: LoggedSlot[] | null = null;
  /** `quit` was read: nothing after it in the stream runs. */
  private quitting = false;
  private readonly open = new Map<ReadSource, OpenItem[]>();
  private wait: Wait | null = null;
  private closed = false;
  private pumping = false;
  private writeBlocked = false;
  /** Replies encoded and not yet written to the socket. */
  private readonly out = new ReplyWriter();
  /** Input bytes this connection holds, as counted in the shared input budget. */
  private heldInput = 0;

  constructor(
    private readonly socket: Socket,
    private readonly framing: Framing,
    private readonly manager: QueueManager,
    private readonly options: SessionOptions,
  ) {
    socket.on('drain', () => {
      this.writeBlocked = false;
      this.pump();
    });
  }

  /** Bytes from the socket. */
  receive(chunk: Buffer): void {
    if (this.closed || this.quitting) return;
    this.manager.counters.bytesRead += chunk.length;
    this.framing.push(chunk);
    this.pump();
    this.accountInput();
  }

  /** Counts what this connection holds in the shared budget; refuses it past the budget. */
  private accountInput(): void {
    const budget = this.options.inputBudget;
    const held = this.closed ? 0 : this.framing.buffered;
    budget.used += held - this.heldInput;
    this.heldInput = held;
    if (budget.used <= budget.limit || held === 0 || this.closed) return;
    budget.refused++;
    this.options.log.warn({ held, budget: budget.limit }, 'connection refused: values arriving exceed the input budget');
    // Framing is lost mid-value: a plain line (as memcached does for text), then close.
    this.flush();
    // Read nothing more: the rest of the value would only be thrown away.
    this.socket.pause();
    this.socket.end('SERVER_ERROR out of memory: too many bytes of values arriving at once\r\n', () => this.socket.destroy());
    this.close();
  }

  /** Nothing in flight, no blocked read, no item held open: the idle timeout may close it. */
  get idle(): boolean {
    return this.wait === null && this.outstanding === 0 && this.slots.length === 0 && this.open.size === 0;
  }

  /** The connection is gone: cancel the wait, return open items to their queues' heads. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.options.inputBudget.used -= this.heldInput;
    this.heldInput = 0;
    if (this.wait) this.endWait(this.wait);
    for (const [queue, items] of this.open) {
      for (const open of items) {
        clearTimeout(open.timer);
        queue.release(open.item);
      }
    }
    this.open.clear();
  }

  // ---- the pipeline -------------------------------------------------------------------------

  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    const highWater = this.socket.writableHighWaterMark;
    try {
      while (!this.closed && !this.writeBlocked && !this.quitting) {
        const command = this.held ?? this.framing.next();
        if (!command) break;
        if (!this.mayStart()) {
          this.held = command;
          break;
        }
        this.held = null;
        // Whatever follows `quit` in the same read was sent to a connection that is closing.
        if (command.kind === 'quit') this.quitting = true;
        this.start(command);
        // A socket would refuse more past this: find out now, as writing each reply would.
        if (this.out.length >= highWater) this.flush();
      }
    } finally {
      this.flush();
      this.pumping = false;
    }
    // Back-pressure: stop reading while commands cannot be served or replies cannot leave.
    const stalled = this.held !== null || this.writeBlocked;
    if (stalled && this.framing.buffered > MAX_BUFFERED_INPUT) this.socket.pause();
    else if (this.socket.isPaused()) this.socket.resume();
  }

  /**
   * A command starts once every command before it is done, except sets still waiting for
   * their batch: a set takes effect in memory when it starts, so what follows it may start
   * too (its reply still leaves after the set's STORED).
   */
  private mayStart(): boolean {
    return this.outstandingNonSets === 0 && this.outstanding < MAX_PIPELINED;
  }

  private start(command: Command): void {
    let result: Reply | Promise<Reply>;
    try {
      // Security hook (src/security) first: an unauthenticated or unauthorised command learns nothing else.
      result = this.options.guard?.admit(command) ?? this.refusal(command) ?? this.execute(command);
    } catch (err) {
      result = this.failure(err);
    }
    if (!(result instanceof Promise)) {
      // While the store fails closed every command that would write is refused: what is left
      // changed nothing, so it need not wait for the failed write to be kept.
      const store = this.manager.store;
      const gate = store.writable ? store.unacknowledged() : null;
      if (gate) this.afterLog(command, result, gate);
      else if (this.slots.length === 0) this.write(command, result);
      else this.slots.push({ command, reply: result });
      return;
    }
    const slot: Slot = { command, reply: undefined };
    this.slots.push(slot);
    this.outstanding++;
    if (command.kind !== 'set') this.outstandingNonSets++;
    // Every set of one store batch gets the same promise: one handler (and one write) per batch.
    if (result === this.lastPromise) {
      this.lastGroup!.push(slot);
      return;
    }
    const group = [slot];
    this.lastPromise = result;
    this.lastGroup = group;
    result.then(
      (reply) => this.settle(group, reply),
      (err: unknown) => this.settle(group, this.failure(err)),
    );
  }

  /**
   * A reply is sent only once every change made so far is in the write-ahead log (as Redis
   * writes its append-only file before a turn's replies), so a consumed item never comes back
   * after a crash. Its command took effect in memory, so later commands need not wait for it.
   * All replies waiting for one batch share one handler.
   */
  private afterLog(command: Command, reply: Reply, gate: Promise<void>): void {
    const slot: LoggedSlot = { command, reply: undefined, ready: reply };
    this.slots.push(slot);
    this.outstanding++;
    if (gate === this.lastGate) {
      this.lastGateGroup!.push(slot);
      return;
    }
    const group = [slot];
    this.lastGate = gate;
    this.lastGateGroup = group;
    const release = (failed: boolean) => {
      if (this.lastGateGroup === group) {
        this.lastGate = null;
        this.lastGateGroup = null;
      }
      for (const s of group) {
        s.reply = failed ? STORE_FAILED() : s.ready;
        this.outstanding--;
      }
      this.flushSlots();
      this.pump();
    };
    gate.then(
      () => release(false),
      () => release(true),
    );
  }

  /** The promise shared by `group` settled: their replies leave, and held commands may start. */
  private settle(group: Slot[], reply: Reply, logged = false): void {
    // A set's promise is its batch's; any other reply waits for what its command changed (a
    // blocked read served while the store fails waits only if it consumed).
    const store = this.manager.store;
    const command = group[0]!.command;
    const mayWait = !logged && command.kind !== 'set' && (store.writable || needsWrite(command));
    const gate = mayWait ? store.unacknowledged() : null;
    if (gate) {
      gate.then(
        () => this.settle(group, reply, true),
        () => this.settle(group, STORE_FAILED(), true),
      );
      return;
    }
    if (this.lastGroup === group) {
      this.lastPromise = null;
      this.lastGroup = null;
    }
    for (const slot of group) {
      slot.reply = reply;
      this.outstanding--;
      if (slot.command.kind !== 'set') this.outstandingNonSets--;
    }
    this.flushSlots();
    this.pump();
  }

  /** An unexpected error: logged in full, answered with its code only (never a path). */
  private failure(err: unknown): Reply {
    this.options.log.error({ err }, 'command failed');
    return serverError(`storage error (${errorCode(err)})`);
  }

  /** A command that needs a write while the store is failing closed: refused, nothing changed. */
  private refusal(command: Command): Reply | null {
    const store = this.manager.store;
    if (store.writable || !needsWrite(command)) return null;
    return serverError(`store not writable (${store.health().fault?.code ?? 'closing'}); retrying`);
  }

  private flushSlots(): void {
    if (this.closed) return;
    while (this.slots.length > 0 && this.slots[0]!.reply !== undefined) {
      const slot = this.slots.shift()!;
      this.write(slot.command, slot.reply!);
      if (this.closed) break;
    }
    this.flush();
  }

  /** Encodes a reply into the pending output; flush() sends it. */
  private write(command: Command, reply: Reply): void {
    if (this.closed) return;
    this.framing.encode(reply, command, this.out);
    if (reply.kind === 'close' || (reply.kind === 'error' && reply.close)) {
      this.flush();
      this.socket.end();
      this.close();
    }
  }

  /** Sends the pending output: one write for a burst of replies. */
  private flush(): void {
    const parts = this.out.take();
    if (this.closed || parts.length === 0) return;
    if (parts.length > 1) this.socket.cork();
    for (const bytes of parts) {
      this.manager.counters.bytesWritten += bytes.length;
      if (!this.socket.write(bytes)) this.writeBlocked = true;
    }
    if (parts.length > 1) this.socket.uncork();
    // Nothing left queued: the socket has copied every byte out, so the memory may be reused.
    if (this.socket.writableLength === 0) this.out.recycle();
  }

  // ---- commands -----------------------------------------------------------------------------

  private execute(command: Command): Reply | Promise<Reply> {
    const m = this.manager;
    switch (command.kind) {
      case 'get':
        return this.get(command.keys, command.cas);
      case 'set':
        return m.set(command);
      case 'delete': {
        if (m.status !== 'UP') return READ_ONLY();
        const { queue, cursor } = command.ref;
        const deleted = cursor === undefined ? m.deleteQueue(queue) : m.deleteCursor(queue, cursor);
        return deleted.then((found) => (found ? { kind: 'deleted' } : { kind: 'not_found' }));
      }
      case 'flush':
        if (m.status !== 'UP') return READ_ONLY();
        return m.flush(command.ref).then(() => END);
      case 'flush_all':
        if (m.status !== 'UP') return READ_ONLY();
        return m.flushAll().then(() => ({ kind: 'ok' }));
      case 'flush_expired':
        return m.flushExpired(command.queue).then((n) => ({ kind: 'line', text: String(n) }));
      case 'flush_all_expired':
        return m.flushAllExpired().then((n) => ({ kind: 'line', text: String(n) }));
      case 'monitor':
        return this.monitor(command);
      case 'confirm': {
        const queue = m.queue(command.queue);
        if (this.openCount(queue) < command.count) return { kind: 'error', type: 'ERROR', code: 'bad_format' };
        for (let i = 0; i < command.count; i++) this.closeOldest(queue, true);
        return END;
      }
      case 'stats':
        return this.encodeSlices(command, statsSlices(m), (stats, more) => ({ kind: 'stats', stats, more }));
      case 'dump_stats':
        return this.encodeSlices(command, dumpStatsSlices(m), (lines, more) => ({ kind: 'lines', lines, more }));
      case 'version':
        return { kind: 'version', version: VERSION };
      case 'verbosity':
        return { kind: 'ok' };
      case 'status':
        if (command.value === undefined) return { kind: 'line', text: m.status };
        return m.setStatus(command.value).then((ok) => (ok ? END : clientError('bad status')));
      case 'reload':
        return this.options.onReload().then((error) => (error ? serverError(error) : { kind: 'line', text: 'Reloaded config.' }));
      case 'shutdown':
        if (!this.options.allowShutdown) return unknownCommand();
        setImmediate(() => this.options.onShutdown());
        return { kind: 'close' };
      case 'quit':
        return { kind: 'close' };
      case 'noop':
        return { kind: 'ok' };
      case 'auth': // SASL without -auth-file (the guard answers it otherwise), as memcached
        return unknownCommand();
      case 'invalid':
        return command.reply;
    }
  }

  /**
   * A long reply built slice by slice across turns of the event loop, encoded as it goes, so
   * other clients are served in between; it leaves as one reply, in order with the others.
   */
  private async encodeSlices<T>(command: Command, slices: AsyncIterable<T[]>, reply: (part: T[], more: boolean) => Reply): Promise<Reply> {
    const encoded = new ReplyWriter();
    for await (const part of slices) this.framing.encode(reply(part, true), command, encoded);
    this.framing.encode(reply([], false), command, encoded);
    return { kind: 'encoded', parts: encoded.take() };
  }

  /**
   * `monitor q seconds [max]`: hands out items as open reads, each as its own VALUE…END block,
   * for that long (or until max), then a final END. They are confirmed with `confirm q n`.
   */
  private monitor(command: Extract<Command, { kind: 'monitor' }>): Promise<Reply> {
    const queue = this.manager.queue(command.queue);
    const deadline = Date.now() + command.seconds * 1000;
    const max = command.max ?? Infinity;
    const key: GetKey = { raw: command.queue, queue: command.queue, open: true, close: false, abort: false, peek: false };
    let sent = 0;
    const emit = (item: Item) => {
      this.hold(queue, item);
      sent++;
      this.write(command, this.valueOut(key, item, false));
      this.flush();
    };
    const next = async (): Promise<Reply> => {
      while (!this.closed && sent < max) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) break;
        this.count('open');
        let taken = queue.take('open');
        while (taken instanceof Promise) {
          await taken;
          if (this.closed) return END;
          taken = queue.take('open');
        }
        if (taken) {
          emit(taken);
          continue;
        }
        const waited = await this.block(queue, { ...key, timeoutMs: remaining }, 'open', false);
        if (waited.kind !== 'value') break;
        sent++; // block() already holds the item open
        this.write(command, waited);
        this.flush();
      }
      return END;
    };
    return next();
  }

  // ---- get ----------------------------------------------------------------------------------

  private get(keys: GetKey[], withCas: boolean): Reply | Promise<Reply> {
    const m = this.manager;
    // Check every key before taking anything, so an error never loses an item already taken.
    // A quiescent server looks empty, so clients move on to other servers.
    if (m.status === 'QUIESCENT') return EMPTY_VALUES;
    for (const key of keys) {
      const queue = m.source(key);
      const open = this.openCount(queue);
      if (key.open && open - (key.close && open > 0 ? 1 : 0) >= queue.config.maxOpenTransactions) return CLOSE_FIRST();
      if (!key.open && !key.peek && !key.close && !key.abort && open > 0) return CLOSE_FIRST();
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
      const queue = this.manager.source(key);
      if (!(resumed && i === from)) {
        if (key.close) this.closeOldest(queue, true);
        if (key.abort) {
          this.closeOldest(queue, false);
          continue;
        }
        if (!key.open && !key.peek && key.close) continue; // close only
        this.count(key.open ? 'open' : key.peek ? 'peek' : 'remove');
      }
      const mode: TakeMode = key.open || (provisional && !key.peek) ? 'open' : key.peek ? 'peek' : 'remove';
      const taken = queue.take(mode);
      if (taken instanceof Promise) {
        return taken.then(() => (this.closed ? EMPTY_VALUES : this.serveKeys(keys, i, values, withCas, true)));
      }
      if (taken) {
        if (mode === 'open') this.hold(queue, taken, provisional && !key.open);
        if (keys.length === 1) return this.valueOut(key, taken, withCas);
        (values ??= []).push(this.valueOut(key, taken, withCas));
      } else if (keys.length === 1 && key.timeoutMs) {
        return this.block(queue, key, mode, withCas);
      }
    }
    if (provisional) this.confirmProvisional();
    return values ? { kind: 'values', values } : EMPTY_VALUES;
  }

  private count(mode: TakeMode): void {
    if (mode === 'peek') this.manager.counters.cmdPeek++;
    else this.manager.counters.cmdGet++;
  }

  /** A hit: a reply of its own, or one of the list of a multi-key get. */
  private valueOut(key: GetKey, item: Item, withCas: boolean): ValueReply {
    const out: ValueReply = {
      kind: 'value',
      key: this.options.valueKey === 'full' ? key.raw : key.queue,
      flags: item.flags,
      data: item.data,
    };
    if (withCas) out.cas = item.id;
    return out;
  }

  /** Waits up to key.timeoutMs for an item; later commands of this connection wait behind. */
  private block(queue: ReadSource, key: GetKey, mode: TakeMode, withCas: boolean): Promise<Reply> {
    return new Promise<Reply>((resolve) => {
      const waiter: Waiter = {
        mode,
        deliver: (item) => {
          this.endWait(wait);
          if (!item) return resolve(EMPTY_VALUES);
          if (mode === 'open') this.hold(queue, item);
          resolve(this.valueOut(key, item, withCas));
        },
      };
      // Node fires longer timers at once: a wait beyond ~24.8 days is capped there.
      const timer = setTimeout(
        () => {
          this.endWait(wait);
          resolve(EMPTY_VALUES);
        },
        Math.min(key.timeoutMs ?? 0, MAX_TIMER_MS),
      );
      const wait: Wait = { queue, waiter, timer };
      this.wait = wait;
      queue.addWaiter(waiter, key.timeoutMs ?? 0);
    });
  }

  private endWait(wait: Wait): void {
    clearTimeout(wait.timer);
    wait.queue.removeWaiter(wait.waiter);
    if (this.wait === wait) this.wait = null;
  }

  // ---- open items ---------------------------------------------------------------------------

  /** Items this connection holds open on `queue` (forgetting those a flush dropped). */
  private openCount(queue: ReadSource): number {
    const list = this.open.get(queue);
    if (!list) return 0;
    for (let i = list.length - 1; i >= 0; i--) {
      if (queue.isOpen(list[i]!.item)) continue;
      clearTimeout(list[i]!.timer);
      list.splice(i, 1);
    }
    if (list.length === 0) this.open.delete(queue);
    return list.length;
  }

  private hold(queue: ReadSource, item: Item, provisional = false): void {
    let list = this.open.get(queue);
    if (!list) this.open.set(queue, (list = []));
    const entry: OpenItem = { item, timer: undefined, provisional };
    const timeout = queue.config.openTransactionTimeout;
    if (timeout !== null) {
      entry.timer = setTimeout(() => this.dropOpen(queue, entry, false), timeout);
      entry.timer.unref();
    }
    list.push(entry);
  }

  /** Confirms the items a multi-key plain get held while it was being served. */
  private confirmProvisional(): void {
    for (const [queue, list] of [...this.open]) {
      for (const entry of list.filter((e) => e.provisional)) this.dropOpen(queue, entry, true);
    }
  }

  /** Confirms (close) or returns (abort) this connection's oldest open item of `queue`. */
  private closeOldest(queue: ReadSource, confirm: boolean): boolean {
    if (this.openCount(queue) === 0) return false;
    const first = this.open.get(queue)?.[0];
    if (!first) return false;
    this.dropOpen(queue, first, confirm);
    return true;
  }

  private dropOpen(queue: ReadSource, entry: OpenItem, confirm: boolean): void {
    const list = this.open.get(queue);
    const at = list ? list.indexOf(entry) : -1;
    if (at < 0) return;
    list!.splice(at, 1);
    if (list!.length === 0) this.open.delete(queue);
    clearTimeout(entry.timer);
    if (confirm) queue.confirm(entry.item);
    else queue.release(entry.item);
  }
}
