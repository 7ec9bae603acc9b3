// The cluster client: Kestrel's way to scale past one server. Servers are independent; the
// client writes each item to one of them (round-robin over the healthy ones, failing over on
// error or timeout), reads from all of them in turn, and confirms a reliable read on the
// connection that opened it. docs/client.md is the user's guide and the table of guarantees.

import { Cluster } from './cluster.js';
import type { Connection } from './connection.js';
import { Consumer } from './consume.js';
import { ReplyError, SiberiteError, isTransportError } from './errors.js';
import { Message } from './message.js';
import { checkFlags, checkMs, exptime, payloadBytes, readKey, setKey } from './names.js';
import type { ServerNode } from './node.js';
import type { Reply, Value } from './reader.js';
import type { DnsOptions } from './servers.js';

export interface ClientOptions {
  /** Fixed servers, as `host:port` (`[v6]:port`; the port defaults to 22133). */
  servers?: readonly string[];
  /** Or: one DNS name with many A/AAAA records, resolved again periodically. */
  dns?: DnsOptions;
  /** The default deadline of a call, across all the servers it tries (a read's wait comes on top). Default 10000. */
  timeoutMs?: number;
  /** The longest one request on one server may take before that server is given up on (plus a read's wait). Default 3000. */
  requestTimeoutMs?: number;
  /** Default 1000. */
  connectTimeoutMs?: number;
  /** Connections per server, leased one request (or one open item) at a time. Default 32. */
  maxConnectionsPerServer?: number;
  /** Backoff of a failed server: first retry after about this long, doubling up to backoffMaxMs. Defaults 100 and 10000. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

export interface PutOptions {
  /** The item expires this long after the put (rounded up to whole seconds, as the protocol counts). */
  expiresInMs?: number;
  /** A 32-bit number stored with the item and returned as Message.flags. */
  flags?: number;
  timeoutMs?: number;
}

export interface ReadOptions {
  /** Read through this durable cursor of the queue (`queue.cursor`) instead of consuming the queue. */
  cursor?: string;
  /** Wait up to this long for an item when none is there (a blocking read, `/t=`). Default 0. */
  waitMs?: number;
  timeoutMs?: number;
}

export interface ConsumeOptions {
  cursor?: string;
  /** Most items opened and not yet closed or aborted, reads in flight included. Default 1. */
  concurrency?: number;
  /** The wait of each blocking read. Default 1000. */
  waitMs?: number;
}

export interface ServerStatus {
  server: string;
  /** False while the server is backing off after a failure. */
  up: boolean;
  connections: number;
}

export interface ServerStats {
  server: string;
  /** The `STAT` lines, by name; absent if the server could not be asked. */
  stats?: Record<string, string>;
  error?: string;
}

const DEFAULTS = {
  timeoutMs: 10_000,
  requestTimeoutMs: 3_000,
  connectTimeoutMs: 1_000,
  maxConnectionsPerServer: 32,
  backoffMinMs: 100,
  backoffMaxMs: 10_000,
};

/** An item read from `node` over `conn` (still leased). */
interface Hit {
  value: Value;
  node: ServerNode;
  conn: Connection;
}

export class Client {
  private readonly cluster: Cluster;
  private readonly timeoutMs: number;
  private readonly requestTimeoutMs: number;
  private writeTurn = 0;
  private readTurn = 0;
  private ended = false;
  private readonly openMessages = new Set<Message>();
  private readonly consumers = new Set<Consumer>();
  /** Puts in progress: end() lets them finish. */
  private readonly writes = new Set<Promise<unknown>>();

  constructor(options: ClientOptions) {
    const num = (v: unknown, what: string, dflt: number, min: number) => {
      const n = checkMs(v, what, dflt);
      if (n < min) throw new SiberiteError('EBADARG', `${what} must be at least ${min}`);
      return n;
    };
    this.timeoutMs = num(options.timeoutMs, 'timeoutMs', DEFAULTS.timeoutMs, 1);
    this.requestTimeoutMs = num(options.requestTimeoutMs, 'requestTimeoutMs', DEFAULTS.requestTimeoutMs, 1);
    this.cluster = new Cluster({
      servers: options.servers,
      dns: options.dns,
      requestTimeoutMs: this.requestTimeoutMs,
      connectTimeoutMs: num(options.connectTimeoutMs, 'connectTimeoutMs', DEFAULTS.connectTimeoutMs, 1),
      maxConnections: num(options.maxConnectionsPerServer, 'maxConnectionsPerServer', DEFAULTS.maxConnectionsPerServer, 1),
      backoffMinMs: num(options.backoffMinMs, 'backoffMinMs', DEFAULTS.backoffMinMs, 1),
      backoffMaxMs: num(options.backoffMaxMs, 'backoffMaxMs', DEFAULTS.backoffMaxMs, 1),
    });
  }

  /**
   * Adds an item to `queue` (or one copy to each of several queues, atomically on one server).
   * Resolves once a server replied STORED. On a connection error, a timeout, NOT_STORED or
   * SERVER_ERROR it tries the next server, so an item whose first attempt timed out after the
   * server stored it is stored twice: puts are at-least-once. When no server stored it, rejects
   * with the last refusal (EREPLY) if the last server tried answered, else with ENOSERVER.
   */
  put(queue: string | readonly string[], value: Buffer | Uint8Array | string, options: PutOptions = {}): Promise<void> {
    return this.track(true, async () => {
      const key = setKey(queue);
      const data = payloadBytes(value);
      const header = Buffer.from(
        `set ${key} ${checkFlags(options.flags)} ${exptime(options.expiresInMs, Date.now())} ${data.length}\r\n`,
        'latin1',
      );
      const deadline = this.deadline(options.timeoutMs);
      await this.cluster.ready;
      let lastError: unknown = null;
      for (const node of this.cluster.candidates(this.writeTurn++)) {
        if (Date.now() >= deadline) break;
        try {
          const { reply, conn } = await this.cluster.exchange(node, [header, data, CRLF], 'line', deadline);
          node.release(conn);
          if (reply.kind === 'line' && reply.line === 'STORED') return;
          throw new ReplyError(reply.kind === 'line' || reply.kind === 'error' ? reply.line : 'an unexpected reply', node.address);
        } catch (err) {
          if (!this.tryElsewhere(err)) throw err;
          lastError = err;
        }
      }
      throw lastError instanceof ReplyError ? lastError : noServer('put', lastError);
    });
  }

  /** Removes and returns the next item (a plain get: an item whose reply is lost with its connection is gone). */
  get(queue: string, options: ReadOptions = {}): Promise<Buffer | undefined> {
    return this.track(false, async () => {
      const hit = await this.read(readKey(queue, options.cursor), '', options);
      if (!hit) return undefined;
      hit.node.release(hit.conn);
      return hit.value.data;
    });
  }

  /**
   * A reliable read: the item stays on its server, open for this client, until Message.close()
   * confirms it or Message.abort() hands it back. If the connection is lost first, the server
   * hands it back by itself (and it will be delivered again).
   */
  open(queue: string, options: ReadOptions = {}): Promise<Message | undefined> {
    return this.track(false, async () => {
      const hit = await this.read(readKey(queue, options.cursor), '/open', options);
      return hit ? this.message(queue, options.cursor, hit) : undefined;
    });
  }

  /** The next item of some server's queue, without removing it (servers tried in rotation). */
  peek(queue: string, options: Omit<ReadOptions, 'waitMs'> = {}): Promise<Buffer | undefined> {
    return this.track(false, async () => {
      const hit = await this.read(readKey(queue, options.cursor), '/peek', { ...options, waitMs: 0 });
      if (!hit) return undefined;
      hit.node.release(hit.conn);
      return hit.value.data;
    });
  }

  /**
   * Reliable reads as an async iterator over every server, at most `concurrency` items open at a
   * time. Close or abort each message; when the loop ends (break, return or a throw in its body),
   * the message it was handling is aborted if still open, and items read ahead are handed back.
   */
  consume(queue: string, options: ConsumeOptions = {}): AsyncIterableIterator<Message> {
    const key = readKey(queue, options.cursor);
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000) {
      throw new SiberiteError('EBADARG', `concurrency must be an integer from 1 to 10000, got ${String(concurrency)}`);
    }
    const waitMs = checkMs(options.waitMs, 'waitMs', 1000);
    if (this.ended) throw new SiberiteError('ECLOSED', 'the client was ended');
    const consumer = new Consumer(
      this.cluster,
      async (node, wait) => {
        const deadline = this.deadline(undefined);
        const { reply, conn } = await this.cluster.exchange(node, getCommand(key, '/open', wait), 'values', deadline, wait);
        const hit = this.hitOf(reply, node, conn);
        return hit ? this.message(queue, options.cursor, hit) : undefined;
      },
      concurrency,
      waitMs,
      (c) => this.consumers.delete(c),
    );
    this.consumers.add(consumer);
    return consumer;
  }

  /** `stats` of every server, asked in parallel. */
  stats(options: { timeoutMs?: number } = {}): Promise<ServerStats[]> {
    return this.track(false, async () => {
      await this.cluster.ready;
      const deadline = this.deadline(options.timeoutMs);
      return Promise.all(
        this.cluster.list().map(async (node): Promise<ServerStats> => {
          try {
            const { reply, conn } = await this.cluster.exchange(node, STATS, 'stats', deadline);
            node.release(conn);
            if (reply.kind === 'stats') return { server: node.address, stats: reply.stats };
            return { server: node.address, error: reply.kind === 'error' || reply.kind === 'line' ? reply.line : 'unexpected reply' };
          } catch (err) {
            return { server: node.address, error: err instanceof Error ? err.message : String(err) };
          }
        }),
      );
    });
  }

  /** The servers in use and their health, for logs and dashboards. */
  servers(): ServerStatus[] {
    return this.cluster.list().map((n) => ({ server: n.address, up: n.up, connections: n.connections }));
  }

  /** Resolves once the server list is known (at once for a fixed list; after the first DNS lookup). */
  async ready(): Promise<void> {
    await this.cluster.ready;
    if (this.cluster.list().length === 0) throw noServer('resolve', this.cluster.lastDnsError);
  }

  /**
   * Ends the client: consumers stop, every open message is aborted, puts in progress are given
   * up to requestTimeoutMs to finish, then every connection is closed: reads in progress reject
   * with ECLOSED (a blocking read is cancelled; the server hands back anything it had handed out).
   */
  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    for (const c of [...this.consumers]) c.stop();
    await Promise.allSettled([...this.openMessages].map((m) => m.abort()));
    const grace = new Promise<void>((resolve) => setTimeout(resolve, this.requestTimeoutMs).unref());
    // Reads in progress may be blocking for their whole wait: only writes are waited for.
    await Promise.race([Promise.allSettled([...this.writes]), grace]);
    this.cluster.end();
  }

  // ---- internals ------------------------------------------------------------------------------

  private deadline(timeoutMs: number | undefined): number {
    return Date.now() + checkMs(timeoutMs, 'timeoutMs', this.timeoutMs);
  }

  /** Runs a public call, refusing it after end(); puts are remembered so end() can let them finish. */
  private track<T>(write: boolean, fn: () => Promise<T>): Promise<T> {
    if (this.ended) return Promise.reject(new SiberiteError('ECLOSED', 'the client was ended'));
    const p = fn();
    if (write) {
      this.writes.add(p);
      const forget = () => this.writes.delete(p);
      void p.then(forget, forget);
    }
    return p;
  }

  /**
   * One read across the cluster: a non-blocking read on every available server but the first in
   * this call's rotation, then a read on that first one that waits up to waitMs. Items anywhere
   * are found at once; the wait moves round the servers from call to call.
   */
  private async read(key: string, option: string, options: ReadOptions): Promise<Hit | undefined> {
    const waitMs = checkMs(options.waitMs, 'waitMs', 0);
    const deadline = this.deadline(options.timeoutMs);
    await this.cluster.ready;
    let nodes = this.cluster.candidates(this.readTurn++);
    const up = nodes.filter((n) => n.available(Date.now()));
    if (up.length === 0 && nodes.length > 0) {
      // All backing off: wait (within the read's own wait) for the first to be retried.
      const until = Math.min(this.cluster.nextRetryAt(), Date.now() + waitMs);
      if (until > Date.now()) await new Promise((r) => setTimeout(r, until - Date.now()));
      nodes = nodes.slice(0, 1);
    } else nodes = up;
    const order = [...nodes.slice(1), nodes[0]];
    let answered = false;
    let lastError: unknown = null;
    for (let i = 0; i < order.length; i++) {
      const node = order[i];
      if (!node) continue;
      const wait = i === order.length - 1 ? waitMs : 0;
      try {
        const { reply, conn } = await this.cluster.exchange(node, getCommand(key, option, wait), 'values', deadline, wait);
        answered = true;
        const hit = this.hitOf(reply, node, conn);
        if (hit) return hit;
      } catch (err) {
        if (!this.tryElsewhere(err)) throw err;
        lastError = err;
      }
    }
    if (!answered) throw lastError instanceof ReplyError ? lastError : noServer('read', lastError);
    return undefined;
  }

  /**
   * Whether a call may go on to the next server after this error: the server failed (it is
   * marked down), refused in a way another may not (NOT_STORED, SERVER_ERROR), or was removed
   * from the list meanwhile. A bad request (CLIENT_ERROR, ERROR) or an ended client stops the call.
   */
  private tryElsewhere(err: unknown): boolean {
    if (err instanceof ReplyError) return err.retryElsewhere;
    if (err instanceof SiberiteError && err.code === 'ECLOSED') return !this.ended;
    return isTransportError(err);
  }

  /** The value of a get reply, or undefined (connection released); error replies throw. */
  private hitOf(reply: Reply, node: ServerNode, conn: Connection): Hit | undefined {
    if (reply.kind === 'values') {
      const value = reply.values[0];
      if (!value) {
        node.release(conn);
        return undefined;
      }
      return { value, node, conn };
    }
    node.release(conn);
    throw new ReplyError(reply.kind === 'error' || reply.kind === 'line' ? reply.line : 'unexpected reply', node.address);
  }

  private message(queue: string, cursor: string | undefined, hit: Hit): Message {
    const m = new Message(queue, cursor, hit.value.data, hit.value.flags, hit.node, hit.conn, this.requestTimeoutMs);
    if (this.ended) {
      void m.abort();
      throw new SiberiteError('ECLOSED', 'the client was ended');
    }
    this.openMessages.add(m);
    m.onSettled(() => this.openMessages.delete(m));
    return m;
  }
}

const CRLF = Buffer.from('\r\n', 'latin1');
const STATS = Buffer.from('stats\r\n', 'latin1');

function getCommand(key: string, option: string, waitMs: number): Buffer {
  return Buffer.from(`get ${key}${option}${waitMs > 0 ? `/t=${waitMs}` : ''}\r\n`, 'latin1');
}

function noServer(what: string, cause: unknown): SiberiteError {
  const why = cause instanceof Error ? `: ${cause.message}` : '';
  return new SiberiteError('ENOSERVER', `${what} failed on every server${why}`, { cause });
}
