// One connection: its reply pipeline, its open items, its blocked read. Dies with the socket.
import { type Socket } from 'node:net';
import { type Logger } from 'pino';
import { type AdminContext, adminReply } from './adminCommands.js';
import { type Clock } from './clock.js';
import { type QueueManager } from './manager.js';
import { type Command, type Framing, type Reply, serverError } from './protocol/command.js';
import { ReplyWriter } from './protocol/output.js';
import { OpenItems } from './openItems.js';
import { Reads } from './reads.js';
import { SetReplies } from './setReplies.js';
import { errorCode } from './store/store.js';
import { needsWrite } from './writeRules.js';
import { type InputBudget } from './limits.js';
import { type ConnectionGuard } from './security/guard.js';
import { END } from './replies.js';

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
  /** Time for open-item timeouts and monitor; the manager's clock unless given. */
  clock?: Clock;
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

const STORE_FAILED = () => serverError('store failed before the change was kept');

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
  private readonly open: OpenItems;
  private readonly reads: Reads;
  private readonly setReplies = new SetReplies();
  private readonly admin: AdminContext;
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
    const clock = options.clock ?? manager.clock;
    this.open = new OpenItems(clock);
    this.reads = new Reads({
      manager,
      open: this.open,
      clock,
      valueKey: options.valueKey,
      closed: () => this.closed,
      send: (command, reply) => {
        this.write(command, reply);
        this.flush();
      },
    });
    this.admin = {
      manager,
      framing,
      allowShutdown: options.allowShutdown,
      onShutdown: options.onShutdown,
      onReload: options.onReload,
    };
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
    return !this.reads.waiting && this.outstanding === 0 && this.slots.length === 0 && this.open.size === 0;
  }

  /** The connection is gone: cancel the wait, return open items to their queues' heads. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.options.inputBudget.used -= this.heldInput;
    this.heldInput = 0;
    this.reads.cancelWait();
    this.open.releaseAll();
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
    switch (command.kind) {
      case 'get':
        return this.reads.get(command.keys, command.cas);
      case 'set':
        return this.setReplies.replyTo(this.manager.set(command));
      case 'monitor':
        return this.reads.monitor(command);
      case 'confirm':
        return this.confirm(command.queue, command.count);
      case 'quit':
        return { kind: 'close' };
      case 'invalid':
        return command.reply;
      default:
        return adminReply(command, this.admin);
    }
  }

  /** `confirm q n`: confirms this connection's n oldest items open on q. */
  private confirm(queueName: string, count: number): Reply {
    const queue = this.manager.queue(queueName);
    if (this.open.count(queue) < count) return { kind: 'error', type: 'ERROR', code: 'bad_format' };
    for (let i = 0; i < count; i++) this.open.closeOldest(queue, true);
    return END;
  }
}
