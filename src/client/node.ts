// One server of the cluster: its connection pool and its health. A server whose connection or
// request failed is marked down and skipped until a retry time that backs off exponentially
// (with jitter, so many clients do not return in step); the first call after that time tries it
// again, and a success marks it up: a restarted server rejoins by itself.
//
// Connections are leased exclusively, one request at a time: a blocking read holds its
// connection for the whole wait anyway, and a reliable read keeps its connection until the item
// is closed or aborted (the server binds the open item to the connection).

import { Connection } from './connection.js';
import { SiberiteError } from './errors.js';

export interface NodeOptions {
  maxConnections: number;
  connectTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
}

interface Waiter {
  resolve(conn: Connection | null): void;
  timer: NodeJS.Timeout;
}

/** `host:port` with IPv6 literals in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class ServerNode {
  readonly address: string;
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private connecting = 0;
  private readonly waiters: Waiter[] = [];
  private failures = 0;
  /** 0 while up; else the time (Date.now()) after which it may be tried again. */
  private retryAt = 0;
  /** Removed from the cluster (DNS no longer lists it) or the client ended. */
  private retired = false;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly opts: NodeOptions,
  ) {
    this.address = formatAddress(host, port);
  }

  get up(): boolean {
    return this.failures === 0;
  }

  /** Usable now: up, or down with its retry time passed. */
  available(now: number): boolean {
    return !this.retired && now >= this.retryAt;
  }

  /** When a down server may be tried again (0 when up). */
  get nextRetryAt(): number {
    return this.retryAt;
  }

  get isRetired(): boolean {
    return this.retired;
  }

  markUp(): void {
    this.failures = 0;
    this.retryAt = 0;
  }

  /**
   * Records a failure: backs off min·2^(n-1), capped, ±25 % jitter; drops idle connections.
   * The many requests that fail together when a server dies count as one failure: the backoff
   * grows only with failed retries.
   */
  markDown(): void {
    for (const c of this.idle.splice(0)) c.destroy();
    if (this.failures > 0 && Date.now() < this.retryAt) return;
    this.failures++;
    const base = Math.min(this.opts.backoffMaxMs, this.opts.backoffMinMs * 2 ** Math.min(20, this.failures - 1));
    this.retryAt = Date.now() + Math.round(base * (0.75 + Math.random() * 0.5));
  }

  /**
   * A connection for the caller's exclusive use until release(); resolves null if none could be
   * had before `deadline` because the pool stayed full. Rejects (ECONNECTION/ETIMEOUT) if a new
   * connection cannot be opened.
   */
  async acquire(deadline: number): Promise<Connection | null> {
    for (;;) {
      if (this.retired) throw new SiberiteError('ECLOSED', `${this.address}: removed from the client`);
      const c = this.idle.pop();
      if (c) {
        if (c.alive) return c;
        continue;
      }
      if (this.all.size + this.connecting < this.opts.maxConnections) return this.connect(deadline);
      const remaining = deadline - Date.now();
      if (remaining <= 0) return null;
      const got = await new Promise<Connection | null>((resolve) => {
        const w: Waiter = { resolve, timer: setTimeout(() => this.dropWaiter(w, null), remaining) };
        this.waiters.push(w);
      });
      if (got) return got;
      if (Date.now() >= deadline) return null;
    }
  }

  private dropWaiter(w: Waiter, conn: Connection | null): void {
    const at = this.waiters.indexOf(w);
    if (at >= 0) this.waiters.splice(at, 1);
    clearTimeout(w.timer);
    w.resolve(conn);
  }

  private async connect(deadline: number): Promise<Connection> {
    this.connecting++;
    try {
      const timeout = Math.max(1, Math.min(this.opts.connectTimeoutMs, deadline - Date.now()));
      const conn = await Connection.open(this.host, this.port, this.address, timeout);
      if (this.retired) {
        conn.destroy();
        throw new SiberiteError('ECLOSED', `${this.address}: removed from the client`);
      }
      this.all.add(conn);
      conn.onClose(() => {
        this.all.delete(conn);
        const at = this.idle.indexOf(conn);
        if (at >= 0) this.idle.splice(at, 1);
        // A slot is free: a waiter may open a new connection.
        const w = this.waiters[0];
        if (w) this.dropWaiter(w, null);
      });
      return conn;
    } finally {
      this.connecting--;
    }
  }

  /** Gives a leased connection back (a dead one is simply forgotten). */
  release(conn: Connection): void {
    if (!conn.alive) return;
    if (this.retired || conn.inFlight > 0) {
      conn.destroy();
      return;
    }
    const w = this.waiters[0];
    if (w) this.dropWaiter(w, conn);
    else this.idle.push(conn);
  }

  /** Connections open now (idle and leased). */
  get connections(): number {
    return this.all.size;
  }

  /**
   * Stops using this server: idle connections close now; `force` also closes leased ones (their
   * requests fail, and the server hands back what was open on them).
   */
  retire(force: boolean): void {
    this.retired = true;
    for (const c of this.idle.splice(0)) c.destroy();
    for (const w of [...this.waiters]) this.dropWaiter(w, null);
    if (force) for (const c of [...this.all]) c.destroy(new SiberiteError('ECLOSED', `${this.address}: the client was ended`));
  }
}
