// One connection's authentication state and the gate every command passes before it runs.
//
//   new ──(text: `set <any> <f> <e> <n>` + `user password`; binary: SASL PLAIN)──▶ authenticated
//    │  version, quit, noop (and SASL LIST_MECHS) are answered; anything else: refused, closed
//    └──(wrong credentials)──▶ failed: the refusal leaves after a delay, then the connection closes
//
// An authenticated connection keeps its user name; the user's access is looked up in the
// current auth file at every command, so a reload that removes a user or narrows their
// patterns applies to connections already open.
import { type Logger } from 'pino';
import { type Command, type ErrorReply, type Reply, clientError } from '../protocol/command.js';
import { RECORD_HEADROOM } from '../store/layout.js';
import { type UserTable } from './authFile.js';
import { securityCounters } from './counters.js';
import { MECHANISMS, parsePlain } from './sasl.js';

/** What a guard needs from the server-wide security settings. */
export interface GuardContext {
  /** The auth file as last (re)loaded. */
  readonly users: UserTable;
  readonly log: Logger;
  /** How long a connection may stay unauthenticated. */
  readonly authTimeoutMs: number;
  /** Delay before a failed attempt is answered (and the connection closed). */
  readonly failureDelayMs: number;
}

const UNAUTHENTICATED = (): ErrorReply => clientError('unauthenticated', 'auth', true);
const AUTH_FAILURE = (): ErrorReply => clientError('authentication failure', 'auth', true);
const DENIED: ErrorReply = Object.freeze(clientError('access denied', 'denied')) as ErrorReply;
const STORED: Reply = { kind: 'stored' };
/** Longest user name echoed into a log line (it is whatever the client sent). */
const LOGGED_NAME_CHARS = 64;
/** Largest value read before authentication: credentials are small, so nobody buffers more. */
const MAX_UNAUTHENTICATED_VALUE = 1024;

export class ConnectionGuard {
  /** Set by the server from the connection's first byte. */
  framing: 'text' | 'binary' = 'text';
  private state: 'new' | 'authenticated' | 'failed' = 'new';
  private user = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly context: GuardContext,
    private readonly peer: string,
    onTimeout: () => void,
  ) {
    this.timer = setTimeout(() => {
      if (this.state === 'authenticated') return;
      securityCounters.authTimeouts++;
      context.log.info({ peer }, 'connection closed: not authenticated in time');
      onTimeout();
    }, context.authTimeoutMs);
    this.timer.unref();
  }

  /**
   * The framing limits for this connection: the server's, once authenticated; until then a
   * value larger than any credentials is refused without being buffered.
   */
  limits(shared: { readonly maxItemSize: number }): { readonly maxItemSize: number } {
    const guard = this;
    return {
      get maxItemSize() {
        return guard.state === 'authenticated' ? shared.maxItemSize : MAX_UNAUTHENTICATED_VALUE;
      },
    };
  }

  /** The connection is gone. */
  dispose(): void {
    clearTimeout(this.timer);
  }

  /**
   * Null when `command` may run; otherwise the reply that takes its place (a refusal, or the
   * answer to an authentication step).
   */
  admit(command: Command): Reply | Promise<Reply> | null {
    if (command.kind === 'auth') return this.sasl(command);
    switch (this.state) {
      case 'authenticated': {
        const policy = this.context.users.get(this.user)?.policy;
        if (policy?.allows(command)) return null;
        securityCounters.cmdDenied++;
        this.context.log.debug({ user: this.user, peer: this.peer, command: command.kind }, 'access denied');
        return DENIED;
      }
      case 'new':
        if (command.kind === 'version' || command.kind === 'quit' || command.kind === 'noop') return null;
        if (command.kind === 'set' && this.framing === 'text') return this.textAuth(command.record);
        securityCounters.cmdDenied++;
        return UNAUTHENTICATED();
      case 'failed':
        // Commands pipelined behind a failed attempt: never run, the connection is closing.
        return UNAUTHENTICATED();
    }
  }

  /** memcached 1.6's text convention: the data block of the first `set` is `user password`. */
  private textAuth(record: Buffer): Reply | Promise<Reply> {
    const data = record
      .subarray(RECORD_HEADROOM)
      .toString('utf8')
      .replace(/\r?\n$/, '');
    const space = data.indexOf(' ');
    if (space <= 0) return this.verify(data, '', 'text');
    return this.verify(data.slice(0, space), data.slice(space + 1), 'text');
  }

  private sasl(command: Extract<Command, { kind: 'auth' }>): Reply | Promise<Reply> {
    if (this.state === 'failed') return UNAUTHENTICATED();
    if (command.step === 'mechanisms') return { kind: 'line', text: MECHANISMS };
    // PLAIN is a single step: a STEP, or another mechanism, is a failed attempt.
    const credentials = command.step === 'start' && command.mechanism === 'PLAIN' ? parsePlain(command.data) : null;
    if (!credentials) return this.verify(`(${command.mechanism})`, '', 'sasl', false);
    return this.verify(credentials.user, credentials.password, 'sasl');
  }

  private verify(user: string, password: string | Buffer, via: 'text' | 'sasl', wellFormed = true): Reply | Promise<Reply> {
    securityCounters.authCmds++;
    const found = wellFormed ? this.context.users.verify(user, password) : null;
    if (found) {
      this.state = 'authenticated';
      this.user = found.name;
      clearTimeout(this.timer);
      this.context.log.debug({ user: found.name, peer: this.peer, via }, 'authenticated');
      return via === 'sasl' ? { kind: 'line', text: 'Authenticated' } : STORED;
    }
    // Slowed: the reply waits, and the connection then closes, so guessing costs a connection
    // and a delay per try.
    this.state = 'failed';
    securityCounters.authErrors++;
    this.context.log.warn({ user: user.slice(0, LOGGED_NAME_CHARS), peer: this.peer, via }, 'authentication failed');
    return new Promise((resolve) => setTimeout(() => resolve(AUTH_FAILURE()), this.context.failureDelayMs).unref());
  }
}
