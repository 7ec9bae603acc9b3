// The server-wide security settings: the auth file, the TLS listener's certificates, and their
// reload. The server asks it for a guard per connection and for the TLS listener.
import type net from 'node:net';
import tls from 'node:tls';
import { type Logger } from 'pino';
import { UserTable } from './authFile.js';
import { securityCounters } from './counters.js';
import { ConnectionGuard, type GuardContext } from './guard.js';
import { type TlsFiles, keyIsExposed, loadTlsOptions, tlsServerOptions } from './tls.js';

export interface SecurityOptions {
  /** -auth-file: authentication is on when set. */
  authFile?: string;
  /** -auth-timeout: how long a connection may stay unauthenticated. */
  authTimeoutMs: number;
  /** -tls-cert, -tls-key, -tls-ca (with -tls-listen). */
  tls?: TlsFiles;
  log: Logger;
}

export const DEFAULT_AUTH_TIMEOUT_MS = 5000;
/** A failed attempt is answered this long after it arrived (then the connection closes). */
export const AUTH_FAILURE_DELAY_MS = 1000;

export class Security implements GuardContext {
  readonly failureDelayMs = AUTH_FAILURE_DELAY_MS;
  private table: UserTable | null;
  private tlsServer: tls.Server | null = null;

  private constructor(private readonly options: SecurityOptions) {
    this.table = options.authFile ? UserTable.load(options.authFile) : null;
  }

  /** Reads the auth file and checks the TLS files; throws an Error saying what is wrong. */
  static load(options: SecurityOptions): Security {
    const security = new Security(options);
    if (options.tls) {
      loadTlsOptions(options.tls);
      if (keyIsExposed(options.tls.key))
        options.log.warn({ key: options.tls.key }, 'the TLS private key is readable by group or others; chmod 600 it');
    }
    return security;
  }

  get log(): Logger {
    return this.options.log;
  }

  get authTimeoutMs(): number {
    return this.options.authTimeoutMs;
  }

  /** Client certificates are required on the TLS listener. */
  get hasClientCa(): boolean {
    return this.options.tls?.ca !== undefined;
  }

  get authEnabled(): boolean {
    return this.table !== null;
  }

  get users(): UserTable {
    if (!this.table) throw new Error('authentication is off');
    return this.table;
  }

  /** A gate for a new connection, or undefined when authentication is off. */
  guardFor(socket: net.Socket): ConnectionGuard | undefined {
    if (!this.table) return undefined;
    return new ConnectionGuard(this, `${socket.remoteAddress}:${socket.remotePort}`, () => socket.destroy());
  }

  /** The TLS listener (not yet listening), handing each secured connection to `accept`. */
  createTlsServer(accept: (socket: net.Socket) => void): tls.Server | null {
    if (!this.options.tls) return null;
    // The handshake counts against the same allowance as authentication.
    const server = tls.createServer(tlsServerOptions(this.options.tls, this.options.authTimeoutMs), accept);
    server.on('tlsClientError', (err, socket) => {
      securityCounters.tlsHandshakeErrors++;
      this.log.info({ peer: `${socket.remoteAddress}:${socket.remotePort}`, reason: err.message }, 'TLS handshake failed');
    });
    this.tlsServer = server;
    return server;
  }

  /**
   * Re-reads the auth file and the certificates (SIGHUP, `reload`). Connections stay open: new
   * TLS handshakes use the new certificate, and every command is checked against the new file.
   * A file with an error is refused and the old one stays in force; the reply says so without
   * naming a path (the log has the details).
   */
  reload(): string | null {
    const failed: string[] = [];
    if (this.options.authFile) {
      try {
        this.table = UserTable.load(this.options.authFile);
        this.log.info({ authFile: this.options.authFile, users: this.table.size }, 'auth file reloaded');
      } catch (err) {
        this.log.error({ err }, 'auth file not reloaded');
        failed.push('auth file');
      }
    }
    if (this.options.tls && this.tlsServer) {
      try {
        this.tlsServer.setSecureContext(loadTlsOptions(this.options.tls));
        this.log.info('TLS certificates reloaded');
      } catch (err) {
        this.log.error({ err }, 'TLS certificates not reloaded');
        failed.push('TLS certificates');
      }
    }
    return failed.length === 0 ? null : `${failed.join(' and ')} not reloaded (see the server log); the previous ones stay in force`;
  }
}

/** True for addresses only this host can reach. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || h.startsWith('127.') || h.startsWith('::ffff:127.');
}
