// The set of servers the client spreads over, and the one primitive every call is built from:
// one request on one server, on a leased connection, with a deadline, recording the server's
// health. Servers come from a fixed list or from DNS, re-resolved in the background; an address
// that disappears from DNS is retired (idle connections closed, leased ones left to finish).

import type { Connection } from './connection.js';
import { isTransportError, SiberiteError } from './errors.js';
import { type NodeOptions, ServerNode, formatAddress } from './node.js';
import type { Reply, ReplyShape } from './reader.js';
import { type Address, type DnsOptions, checkDns, parseAddress, resolveDns } from './servers.js';

export interface ClusterOptions extends NodeOptions {
  servers?: readonly string[];
  dns?: DnsOptions;
  requestTimeoutMs: number;
}

export interface Exchange {
  reply: Reply;
  /** Still leased: give it back with node.release(conn), or keep it (an open item). */
  conn: Connection;
}

export class Cluster {
  private nodes: ServerNode[] = [];
  private timer: NodeJS.Timeout | null = null;
  private ended = false;
  /** The first DNS resolution (resolved at once for a fixed list). */
  readonly ready: Promise<void>;
  /** Why the last DNS resolution failed, if it did. */
  lastDnsError: Error | null = null;

  constructor(private readonly opts: ClusterOptions) {
    if (opts.dns && opts.servers) throw new SiberiteError('EBADARG', 'give either servers or dns, not both');
    if (opts.dns) {
      checkDns(opts.dns);
      const dns = opts.dns;
      this.ready = this.refresh(dns);
      const every = dns.refreshMs ?? 30_000;
      this.timer = setInterval(() => void this.refresh(dns), every);
      this.timer.unref(); // resolving again must not keep a process alive
    } else {
      const list = opts.servers ?? [];
      if (!Array.isArray(list) || list.length === 0) throw new SiberiteError('EBADARG', 'servers must list at least one host:port');
      this.update(list.map(parseAddress));
      this.ready = Promise.resolve();
    }
  }

  /** The servers in use now, in a stable order. */
  list(): readonly ServerNode[] {
    return this.nodes;
  }

  private async refresh(dns: DnsOptions): Promise<void> {
    try {
      const addresses = await resolveDns(dns);
      this.lastDnsError = null;
      // An empty answer is treated as a failed lookup: keep serving from the last known list.
      if (addresses.length > 0 && !this.ended) this.update(addresses);
      else if (addresses.length === 0) this.lastDnsError = new Error(`${dns.name} resolved to no address`);
    } catch (err) {
      this.lastDnsError = err instanceof Error ? err : new Error(String(err));
    }
  }

  /** Adds servers not yet known and retires those no longer listed (keeping the known ones' state). */
  private update(addresses: readonly Address[]): void {
    const wanted = new Map(addresses.map((a) => [formatAddress(a.host, a.port), a]));
    const kept: ServerNode[] = [];
    for (const node of this.nodes) {
      if (wanted.has(node.address)) {
        kept.push(node);
        wanted.delete(node.address);
      } else node.retire(false);
    }
    for (const a of wanted.values()) kept.push(new ServerNode(a.host, a.port, this.opts));
    kept.sort((x, y) => (x.address < y.address ? -1 : x.address > y.address ? 1 : 0));
    this.nodes = kept;
  }

  /**
   * The servers to try for one call: the available ones rotated to start at `turn`, then — as a
   * last resort, so a call fails only when every server does — the ones backing off, soonest first.
   */
  candidates(turn: number): ServerNode[] {
    const now = Date.now();
    const up = this.nodes.filter((n) => n.available(now));
    const down = this.nodes.filter((n) => !n.available(now) && !n.isRetired).sort((a, b) => a.nextRetryAt - b.nextRetryAt);
    const start = up.length === 0 ? 0 : turn % up.length;
    return [...up.slice(start), ...up.slice(0, start), ...down];
  }

  /** The earliest time a backing-off server may be tried again (Infinity if none is down). */
  nextRetryAt(): number {
    let t = Infinity;
    for (const n of this.nodes) if (!n.isRetired && !n.available(Date.now())) t = Math.min(t, n.nextRetryAt);
    return t;
  }

  /**
   * One request on `node`: leases a connection (opening one if needed), sends, and waits at most
   * min(requestTimeoutMs, time to the deadline) plus `waitMs` (the server-side wait of a blocking
   * read). A transport failure marks the server down and is rethrown; any reply marks it up.
   */
  async exchange(node: ServerNode, bytes: Buffer | readonly Buffer[], shape: ReplyShape, deadline: number, waitMs = 0): Promise<Exchange> {
    if (this.ended) throw new SiberiteError('ECLOSED', 'the client was ended');
    let conn: Connection | null;
    try {
      conn = await node.acquire(deadline);
    } catch (err) {
      if (isTransportError(err)) node.markDown();
      throw err;
    }
    if (!conn) throw new SiberiteError('ETIMEOUT', `${node.address}: no free connection before the call's deadline`);
    const budget = Math.max(1, Math.min(this.opts.requestTimeoutMs, deadline - Date.now()));
    try {
      const reply = await conn.request(bytes, shape, budget + waitMs);
      node.markUp();
      return { reply, conn };
    } catch (err) {
      if (isTransportError(err) && !this.ended) node.markDown();
      throw err;
    }
  }

  /** Stops DNS refreshes and closes every connection, leased or not. */
  end(): void {
    this.ended = true;
    if (this.timer) clearInterval(this.timer);
    for (const n of this.nodes) n.retire(true);
  }
}
