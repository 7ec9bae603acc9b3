// What one user may do: queue-name globs and a read-only mark, decided per command before it
// runs. Pure: commands in, a verdict out.
//
// The rules (docs/security.md, "Access"):
// - queue commands need every queue they name to match a pattern (a fanout set: every target;
//   a cursor: its queue);
// - a read-only user may only peek at queues (`/peek`, with `/t=`) and read cursors (any read
//   option: it moves only the cursor); every write, delete, flush, monitor and confirm is denied;
// - stats and dump_stats show every queue, so they need the pattern `*` (read-only is fine);
// - server-wide changes (flush_all, flush_all_expired, status <new>, reload, shutdown) need `*`
//   and read-write: the administrator;
// - version, verbosity, status (read), noop and quit are open to every authenticated user.
import { type Command, type GetKey } from '../protocol/command.js';
import { isValidName } from '../protocol/keys.js';

/** One queue-name glob: `*` matches any run of characters, everything else itself. */
type Matcher = (queue: string) => boolean;

function compileGlob(glob: string): Matcher {
  if (glob === '*') return () => true;
  if (!glob.includes('*')) return (queue) => queue === glob;
  // Escape everything but '*', so a name character can never act as a regex operator.
  const source = glob
    .split('*')
    .map((part) => part.replace(/[\\^$.|?+()[\]{}]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${source}$`);
  return (queue) => re.test(queue);
}

export class AccessPolicy {
  /** Every queue, read and write: what a user with no patterns (or no auth at all) has. */
  static readonly ALL = new AccessPolicy(['*'], false);

  private readonly matchers: Matcher[];
  /** The pattern `*` is among the patterns: the user sees every queue. */
  readonly allQueues: boolean;

  private constructor(
    readonly patterns: readonly string[],
    readonly readOnly: boolean,
  ) {
    this.matchers = patterns.map(compileGlob);
    this.allQueues = patterns.includes('*');
  }

  /** `jobs.*,mail` style list; throws on a pattern that could never match a queue name. */
  static parse(list: string, readOnly: boolean): AccessPolicy {
    const patterns = list.split(',').map((p) => p.trim());
    for (const p of patterns) {
      if (p.includes('.')) {
        // '.' separates a queue from its cursor (`q.c`), so no queue name holds one; a pattern
        // with it would silently match nothing. Cursors follow their queue anyway.
        throw new Error(
          `bad queue pattern "${p}": queue names cannot contain '.' (it names a cursor, q.c); write "${p.split('.')[0] || 'name'}*" or a full queue name`,
        );
      }
      if (p === '' || !isValidName(p.replace(/\*/g, 'x'))) throw new Error(`bad queue pattern "${p}" (queue-name characters and '*')`);
    }
    return new AccessPolicy(patterns, readOnly);
  }

  /** Server-wide changes are for users with `*`, read-write. */
  get admin(): boolean {
    return this.allQueues && !this.readOnly;
  }

  mayUse(queue: string): boolean {
    for (const m of this.matchers) if (m(queue)) return true;
    return false;
  }

  /** True when this user may run `command`. */
  allows(command: Command): boolean {
    switch (command.kind) {
      case 'get':
        return command.keys.every((key) => this.mayRead(key));
      case 'set':
        return !this.readOnly && command.queues.every((q) => this.mayUse(q));
      case 'delete':
      case 'flush':
        return !this.readOnly && this.mayUse(command.ref.queue);
      case 'flush_expired':
      case 'monitor':
      case 'confirm':
        return !this.readOnly && this.mayUse(command.queue);
      case 'stats':
      case 'dump_stats':
        return this.allQueues;
      case 'status':
        return command.value === undefined || this.admin;
      case 'flush_all':
      case 'flush_all_expired':
      case 'reload':
      case 'shutdown':
        return this.admin;
      case 'version':
      case 'verbosity':
      case 'noop':
      case 'quit':
      case 'invalid':
      case 'auth':
        return true;
    }
  }

  /** A get key: the queue must match; read-only users may peek queues and read cursors. */
  private mayRead(key: GetKey): boolean {
    if (!this.mayUse(key.queue)) return false;
    if (!this.readOnly || key.cursor !== undefined) return true;
    return key.peek;
  }
}
