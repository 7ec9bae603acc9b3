// The receiving half shared by the raw-socket test clients (TextClient, BinaryClient): bytes are
// collected as they arrive and readers wait for more, or for the server to close.
import net from 'node:net';

/** Connects to host:port (the socket resolves once connected). */
export function openSocket(port: number, host: string, noDelay = false): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host, () => {
      if (noDelay) socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export abstract class SocketReader {
  /** Bytes received and not yet read. */
  protected buf: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private ended = false;

  protected constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  /** The unread bytes, for the error when the connection closes under a reader. */
  protected abstract describeUnread(): string;

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Waits for more bytes; throws when the connection is closed. */
  protected more(): Promise<void> {
    if (this.ended) throw new Error(`connection closed; ${this.describeUnread()}`);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** True once the server closed the connection. */
  get closed(): boolean {
    return this.ended;
  }

  /** Resolves when the server closes the connection. */
  async waitClosed(): Promise<void> {
    while (!this.ended) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.socket.destroy();
  }
}
