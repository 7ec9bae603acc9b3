// One TCP connection to one server: requests written in order, replies matched in order by the
// ReplyReader, a timer on every request. Any failure — a socket error, the peer closing, a reply
// that cannot be parsed, a request timing out — destroys the connection and fails every request
// still on it: with pipelined replies there is no way to skip a late reply safely, and a dropped
// connection is exactly what makes the server hand back whatever was open on it.

import net from 'node:net';

import { SiberiteError } from './errors.js';
import { ProtocolError, type Reply, ReplyReader, type ReplyShape } from './reader.js';

interface Pending {
  resolve(reply: Reply): void;
  reject(err: SiberiteError): void;
  timer: NodeJS.Timeout | undefined;
}

export class Connection {
  private readonly reader: ReplyReader;
  private readonly pending: Pending[] = [];
  private failure: SiberiteError | null = null;
  private readonly closeListeners: Array<(err: SiberiteError) => void> = [];

  private constructor(
    private readonly socket: net.Socket,
    /** `host:port`, for messages. */
    readonly server: string,
  ) {
    this.reader = new ReplyReader((reply) => {
      const p = this.pending.shift();
      if (!p) return; // cannot happen: the reader only completes announced replies
      clearTimeout(p.timer);
      p.resolve(reply);
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.feed(chunk);
      } catch (err) {
        const why = err instanceof ProtocolError ? err.message : String(err);
        this.destroy(new SiberiteError('EPROTOCOL', `${server}: ${why}`));
      }
    });
    socket.on('error', (err) => this.destroy(new SiberiteError('ECONNECTION', `${server}: ${err.message}`, { cause: err })));
    socket.on('close', () => this.destroy(new SiberiteError('ECONNECTION', `${server}: connection closed`)));
  }

  /** Opens a connection; rejects with ECONNECTION or ETIMEOUT. */
  static open(host: string, port: number, server: string, timeoutMs: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 10_000 });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SiberiteError('ETIMEOUT', `${server}: connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new SiberiteError('ECONNECTION', `${server}: ${err.message}`, { cause: err }));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new Connection(socket, server));
      });
    });
  }

  get alive(): boolean {
    return this.failure === null;
  }

  /** Requests sent whose replies have not arrived. */
  get inFlight(): number {
    return this.pending.length;
  }

  /** Calls `listener` once, when the connection fails or is destroyed; returns a function that cancels it. */
  onClose(listener: (err: SiberiteError) => void): () => void {
    if (this.failure) {
      listener(this.failure);
      return () => undefined;
    }
    this.closeListeners.push(listener);
    return () => {
      const at = this.closeListeners.indexOf(listener);
      if (at >= 0) this.closeListeners.splice(at, 1);
    };
  }

  /**
   * Sends one request and resolves with its reply. `timeoutMs` runs from now; when it expires
   * the connection is destroyed (ETIMEOUT) — a blocking read must include its wait in it.
   */
  request(bytes: Buffer | readonly Buffer[], shape: ReplyShape, timeoutMs: number): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const p: Pending = { resolve, reject, timer: undefined };
      p.timer = setTimeout(() => {
        this.destroy(new SiberiteError('ETIMEOUT', `${this.server}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.push(p);
      this.reader.expect(shape);
      if (Buffer.isBuffer(bytes)) this.socket.write(bytes);
      else {
        this.socket.cork();
        for (const b of bytes as readonly Buffer[]) this.socket.write(b);
        this.socket.uncork();
      }
    });
  }

  /** Closes the socket at once and fails what is pending with `reason`. Idempotent. */
  destroy(reason?: SiberiteError): void {
    if (this.failure) return;
    this.failure = reason ?? new SiberiteError('ECONNECTION', `${this.server}: connection closed by the client`);
    this.socket.destroy();
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(this.failure);
    }
    for (const l of this.closeListeners.splice(0)) l(this.failure);
  }
}
