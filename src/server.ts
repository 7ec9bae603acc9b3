// Wires sockets to sessions: picks the framing from a connection's first byte.
import net from 'node:net';
import { type AdminServer } from './admin/server.js';
import type tls from 'node:tls';
import { type Logger } from 'pino';
import { type AdminConfig, DEFAULT_MAX_ITEM_SIZE, type FsyncMode, type ServerQueueConfig } from './config.js';
import { loadConfigFile, maxItemSizeOf } from './configFile.js';
import { QueueManager } from './manager.js';
import { type Framing } from './protocol/command.js';
import { TextFraming } from './protocol/text.js';
import { BinaryFraming } from './protocol/binary.js';
import { Session } from './session.js';
import { Store } from './store/store.js';
import { type TornTail } from './store/walRead.js';
import { InputBudget } from './limits.js';
import { type Security } from './security/security.js';
import { securityStats } from './security/counters.js';

export interface ServerOptions {
  host: string;
  port: number;
  dataDir: string;
  fsync: FsyncMode;
  valueKey: 'queue' | 'full';
  allowShutdown: boolean;
  queueConfig: ServerQueueConfig;
  /** The admin HTTP server, if wanted. */
  admin?: AdminConfig;
  /** Connections beyond this are answered with an error and closed. */
  maxConnections: number;
  /** Close a connection with nothing in flight after this long without input; 0: never. */
  idleTimeoutMs: number;
  /** Bytes of values still arriving, over all connections (see InputBudget); at least two of the largest item. */
  maxInputBytes: number;
  log: Logger;
  /** Re-reads the configuration; returns an error message or null. */
  reload(): Promise<string | null>;
  /** Asked to stop (the `shutdown` command). */
  onShutdown(): void;
  /** Authentication and TLS (src/security); with `tlsListen`, a TLS listener beside the plain one. */
  security?: Security;
  tlsListen?: { host: string; port: number };
}

/** Bytes of head windows across all queues. */
const WINDOW_MEMORY = 64 * 1024 * 1024;
/** Bytes one refill read may hold. */
const READ_BYTES = 1024 * 1024;
const BINARY_MAGIC = 0x80;
/** Errors of a client that went away mid-conversation (reset, gone, timed out). */
const ROUTINE_SOCKET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);

/** The largest value any queue accepts: what a framing reads before refusing a value. */
function framingLimit(config: ServerQueueConfig): number {
  return Math.max(DEFAULT_MAX_ITEM_SIZE, maxItemSizeOf(config));
}

export class SiberiteServer {
  private readonly sessions = new Set<Session>();
  /** Read by every framing at each value, so a reload can raise the limit for all connections. */
  private readonly limits: { maxItemSize: number };
  private readonly sockets = new Set<net.Socket>();
  private readonly inputBudget: InputBudget;
  private refusedConnections = 0;
  private idleClosed = 0;
  /** Started before the store opens, so probes answer (not ready) during recovery. */
  admin: AdminServer | undefined;
  private tls: tls.Server | null = null;

  private constructor(
    readonly manager: QueueManager,
    private readonly net: net.Server,
    private readonly options: ServerOptions,
  ) {
    this.limits = { maxItemSize: framingLimit(options.queueConfig) };
    this.inputBudget = new InputBudget(Math.max(options.maxInputBytes, 2 * DEFAULT_MAX_ITEM_SIZE));
    manager.extraStats = () => [
      ['max_connections', String(options.maxConnections)],
      ['rejected_connections', String(this.refusedConnections)],
      ['idle_timeout', String(Math.round(options.idleTimeoutMs / 1000))],
      ['idle_closed_connections', String(this.idleClosed)],
      ['input_bytes', String(this.inputBudget.used)],
      ['max_input_bytes', String(this.inputBudget.limit)],
      ['input_refused_connections', String(this.inputBudget.refused)],
      ...securityStats(), // security hook: auth_cmds, auth_errors, auth_timeouts, cmd_denied, tls_handshake_errors
    ];
  }

  /** Starts the admin server (if asked for) first, so probes answer during recovery. */
  static async start(options: ServerOptions): Promise<SiberiteServer> {
    // Loaded only when asked for: the admin server's modules (prom-client, the export) add
    // ~30 MB resident to a server that does not use them.
    const { AdminServer } = options.admin ? await import('./admin/server.js') : { AdminServer: undefined };
    const admin = options.admin && (await AdminServer!.start({ ...options.admin, log: options.log }));
    const server = await SiberiteServer.open(options).catch(async (err: unknown) => {
      await admin?.stop();
      throw err;
    });
    server.admin = admin;
    if (admin) admin.attach((await import('./admin/adapter.js')).adminSourceFrom(server));
    return server;
  }

  private static async open(options: ServerOptions): Promise<SiberiteServer> {
    const log = options.log;
    const onTornTail = (tail: TornTail) =>
      log.warn(
        { file: tail.file, offset: tail.offset, bytes: tail.bytes },
        'write-ahead log: cut off a torn tail (a write interrupted by a crash)',
      );
    const storeLog = log.child({ component: 'store' });
    const store = await Store.open(
      options.dataDir,
      { syncAlways: options.fsync === 'always', readBytes: READ_BYTES, log: storeLog },
      onTornTail,
    );
    const manager = await QueueManager.open(store, {
      log: log.child({ component: 'queues' }),
      fsync: options.fsync,
      queueConfig: options.queueConfig,
      windowMemory: WINDOW_MEMORY,
    });
    const server = new SiberiteServer(manager, net.createServer(), options);
    await server.listen();
    return server;
  }

  private async listen(): Promise<void> {
    this.net.on('connection', (socket) => this.accept(socket));
    await listenOn(this.net, this.options.port, this.options.host);
    // Security hook: TLS connections are served exactly as plain ones once the handshake is done.
    const { security, tlsListen } = this.options;
    if (security && tlsListen) {
      this.tls = security.createTlsServer((socket) => this.accept(socket));
      if (this.tls) await listenOn(this.tls, tlsListen.port, tlsListen.host);
    }
  }

  address(): net.AddressInfo {
    return this.net.address() as net.AddressInfo;
  }

  /** The TLS listener's address, when there is one. */
  tlsAddress(): net.AddressInfo | null {
    return this.tls ? (this.tls.address() as net.AddressInfo) : null;
  }

  private accept(socket: net.Socket): void {
    const counters = this.manager.counters;
    if (this.sockets.size >= this.options.maxConnections) {
      // As memcached does: say why, then close, so the client does not wait on a dead socket.
      this.refusedConnections++;
      if (this.refusedConnections === 1 || this.refusedConnections % 1000 === 0) {
        this.options.log.warn(
          { max: this.options.maxConnections, refused: this.refusedConnections },
          'connection refused: at -max-connections',
        );
      }
      socket.on('error', (err) => this.socketFailed(socket, err));
      socket.end('SERVER_ERROR too many open connections\r\n');
      return;
    }
    counters.currConnections++;
    counters.totalConnections++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let session: Session | undefined;
    const guard = this.options.security?.guardFor(socket); // security hook: undefined when auth is off
    socket.on('data', (chunk: Buffer) => {
      if (!session) {
        if (guard && chunk[0] === BINARY_MAGIC) guard.framing = 'binary';
        session = new Session(socket, this.framingFor(chunk[0]!, guard ? guard.limits(this.limits) : this.limits), this.manager, {
          valueKey: this.options.valueKey,
          allowShutdown: this.options.allowShutdown,
          log: this.options.log,
          inputBudget: this.inputBudget,
          onShutdown: this.options.onShutdown,
          onReload: this.options.reload,
          guard,
        });
        this.sessions.add(session);
      }
      session.receive(chunk);
    });
    if (this.options.idleTimeoutMs > 0) {
      socket.setTimeout(this.options.idleTimeoutMs, () => {
        // A blocked read or a command in flight is not idle: the timer simply starts again.
        if (session && !session.idle) return;
        this.idleClosed++;
        socket.destroy();
      });
    }
    socket.on('error', (err) => this.socketFailed(socket, err));
    socket.on('close', () => {
      counters.currConnections--;
      this.sockets.delete(socket);
      guard?.dispose();
      if (session) {
        session.close();
        this.sessions.delete(session);
      }
    });
  }

  /** A connection failed: a client going away abruptly is routine; anything else is worth a warning. */
  private socketFailed(socket: net.Socket, err: NodeJS.ErrnoException): void {
    const routine = err.code !== undefined && ROUTINE_SOCKET_ERRORS.has(err.code);
    this.options.log[routine ? 'debug' : 'warn']({ err, remote: socket.remoteAddress }, 'connection error');
    socket.destroy();
  }

  private framingFor(firstByte: number, limits: { readonly maxItemSize: number }): Framing {
    return firstByte === BINARY_MAGIC ? new BinaryFraming(limits) : new TextFraming(limits);
  }

  /**
   * Re-reads the queue configuration file (`reload`, SIGHUP) and applies it; on an error the old
   * configuration stays in force and the error's message is returned.
   */
  reloadConfigFile(path: string): string | null {
    try {
      this.reconfigure(loadConfigFile(path));
      this.options.log.info({ config: path }, 'configuration reloaded');
      return null;
    } catch (err) {
      this.options.log.error({ err }, 'reload failed');
      return (err as Error).message;
    }
  }

  /** Applies a new queue configuration to live queues and connections. */
  reconfigure(queueConfig: ServerQueueConfig): void {
    this.manager.reconfigure(queueConfig);
    this.limits.maxItemSize = framingLimit(queueConfig);
  }

  /** Stops accepting, returns every open item, writes what is pending, closes the store. */
  async stop(): Promise<void> {
    await this.admin?.stop();
    const closed = new Promise<void>((resolve) => this.net.close(() => resolve()));
    const tlsClosed = new Promise<void>((resolve) => (this.tls ? this.tls.close(() => resolve()) : resolve()));
    for (const session of this.sessions) session.close();
    this.sessions.clear();
    for (const socket of this.sockets) socket.destroy();
    await closed;
    await tlsClosed;
    await this.manager.close();
  }
}

function listenOn(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
