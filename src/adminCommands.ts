// The commands that manage queues and the server rather than read or write items
// (docs/protocol.md#managing-queues, #server-commands), answered in the protocol's words.
import { type QueueManager } from './manager.js';
import { type Command, type Framing, type Reply, clientError, serverError, unknownCommand } from './protocol/command.js';
import { ReplyWriter } from './protocol/output.js';
import { type GovernedCommand, statusDecision } from './readOnly.js';
import { dumpStatsSlices, statsSlices } from './stats.js';
import { VERSION } from './version.js';
import { END, OK } from './replies.js';

const READ_ONLY = () => serverError('read only', 'not_stored');

/** Commands for the server and its queues: everything but reads, writes and connection control. */
export type AdminCommand = Exclude<Command, { kind: 'get' | 'set' | 'monitor' | 'confirm' | 'quit' | 'invalid' }>;

export interface AdminContext {
  readonly manager: QueueManager;
  /** The connection's framing: long replies are encoded slice by slice as they are built. */
  readonly framing: Framing;
  readonly allowShutdown: boolean;
  onShutdown(): void;
  onReload(): Promise<string | null>;
}

export function adminReply(command: AdminCommand, ctx: AdminContext): Reply | Promise<Reply> {
  const m = ctx.manager;
  switch (command.kind) {
    case 'delete': {
      if (refused(m, 'delete')) return READ_ONLY();
      const { queue, cursor } = command.ref;
      const deleted = cursor === undefined ? m.deleteQueue(queue) : m.deleteCursor(queue, cursor);
      return deleted.then((found) => (found ? { kind: 'deleted' } : { kind: 'not_found' }));
    }
    case 'flush':
      return refused(m, 'flush') ? READ_ONLY() : m.flush(command.ref).then(() => END);
    case 'flush_all':
      return refused(m, 'flush_all') ? READ_ONLY() : m.flushAll().then(() => OK);
    case 'flush_expired':
      return m.flushExpired(command.queue).then(countLine);
    case 'flush_all_expired':
      return m.flushAllExpired().then(countLine);
    case 'stats':
      return encodeSlices(ctx.framing, command, statsSlices(m), (stats, more) => ({ kind: 'stats', stats, more }));
    case 'dump_stats':
      return encodeSlices(ctx.framing, command, dumpStatsSlices(m), (lines, more) => ({ kind: 'lines', lines, more }));
    case 'version':
      return { kind: 'version', version: VERSION };
    case 'status':
      if (command.value === undefined) return { kind: 'line', text: m.status };
      return m.setStatus(command.value).then((ok) => (ok ? END : clientError('bad status')));
    case 'reload':
      return ctx.onReload().then((error) => (error ? serverError(error) : { kind: 'line', text: 'Reloaded config.' }));
    case 'shutdown':
      if (!ctx.allowShutdown) return unknownCommand();
      setImmediate(() => ctx.onShutdown());
      return { kind: 'close' };
    case 'verbosity':
    case 'noop':
      return OK;
    case 'auth': // SASL without -auth-file (the guard answers it otherwise), as memcached
      return unknownCommand();
  }
}

function refused(m: QueueManager, command: GovernedCommand): boolean {
  return statusDecision(m.status, command) === 'refuse';
}

function countLine(n: number): Reply {
  return { kind: 'line', text: String(n) };
}

/**
 * A long reply built slice by slice across turns of the event loop, encoded as it goes, so
 * other clients are served in between; it leaves as one reply, in order with the others.
 */
async function encodeSlices<T>(
  framing: Framing,
  command: Command,
  slices: AsyncIterable<T[]>,
  reply: (part: T[], more: boolean) => Reply,
): Promise<Reply> {
  const encoded = new ReplyWriter();
  for await (const part of slices) framing.encode(reply(part, true), command, encoded);
  framing.encode(reply([], false), command, encoded);
  return { kind: 'encoded', parts: encoded.take() };
}
