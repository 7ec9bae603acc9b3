// An item read with /open: it stays open on the server, bound to the connection that opened it,
// until close() confirms it or abort() hands it back. Both go over that same connection (the
// server knows the item only there), so the message keeps the connection leased until then.

import type { Connection } from './connection.js';
import { SiberiteError } from './errors.js';
import type { ServerNode } from './node.js';

export type MessageState = 'open' | 'closed' | 'aborted' | 'lost';

export class Message {
  private settling: Promise<void> | null = null;
  private _state: MessageState = 'open';
  private readonly settledListeners: Array<(m: Message) => void> = [];
  /** Stops watching the connection once settled (a pooled connection outlives many messages). */
  private readonly unwatch: () => void;

  /** @internal — messages are made by Client.open() and Client.consume(). */
  constructor(
    /** The queue the item came from. */
    readonly queue: string,
    /** The cursor it was read through, if any. */
    readonly cursor: string | undefined,
    /** The item's bytes. */
    readonly value: Buffer,
    /** The flags it was stored with. */
    readonly flags: number,
    private readonly node: ServerNode,
    private readonly conn: Connection,
    private readonly requestTimeoutMs: number,
  ) {
    // If the connection drops while the item is open, the server hands the item back; the
    // message can then neither be closed nor aborted.
    this.unwatch = conn.onClose(() => {
      if (this._state === 'open' && this.settling === null) this.settle('lost');
    });
  }

  /** The server (`host:port`) that holds the item. */
  get server(): string {
    return this.node.address;
  }

  /** open → closed | aborted | lost (the connection dropped first: the server has it back). */
  get state(): MessageState {
    return this._state;
  }

  /** @internal Called once when the message leaves the open state. */
  onSettled(listener: (m: Message) => void): void {
    if (this._state !== 'open') listener(this);
    else this.settledListeners.push(listener);
  }

  private get key(): string {
    return this.cursor === undefined ? this.queue : `${this.queue}.${this.cursor}`;
  }

  /**
   * Confirms the item: the server deletes it. Resolves once the server replied — after that the
   * item is not delivered again. Rejects with ELOST if the connection was lost first (the server
   * then hands the item back, and it will be delivered again: at-least-once), with ECLOSED if the
   * message was aborted. Calling it again after it resolved is harmless.
   */
  close(): Promise<void> {
    if (this._state === 'closed') return Promise.resolve();
    if (this._state === 'aborted') return Promise.reject(new SiberiteError('ECLOSED', 'the message was aborted; it cannot be closed'));
    if (this._state === 'lost') return Promise.reject(this.lostError());
    return (this.settling ??= this.finish('close'));
  }

  /**
   * Hands the item back to the head of its queue (or to the cursor's retry list). Never fails:
   * if the request cannot be made, the connection is dropped, which makes the server do the same.
   */
  abort(): Promise<void> {
    if (this._state !== 'open') return this.settling ?? Promise.resolve();
    return (this.settling ??= this.finish('abort'));
  }

  private lostError(): SiberiteError {
    return new SiberiteError(
      'ELOST',
      `${this.server}: the connection holding the item was lost before it was closed; the server hands the item back and it will be delivered again`,
    );
  }

  private async finish(op: 'close' | 'abort'): Promise<void> {
    try {
      const reply = await this.conn.request(Buffer.from(`get ${this.key}/${op}\r\n`, 'latin1'), 'values', this.requestTimeoutMs);
      if (reply.kind === 'values' && reply.values.length === 0) {
        this.settle(op === 'close' ? 'closed' : 'aborted');
        this.node.release(this.conn);
        return;
      }
      // Anything else means the session is not in the state we think: drop it, the server
      // then returns the item (if it still holds it).
      this.conn.destroy(new SiberiteError('EPROTOCOL', `${this.server}: unexpected reply to ${op}`));
      const why = reply.kind === 'error' || reply.kind === 'line' ? reply.line : 'a value';
      if (op === 'abort') this.settle('aborted');
      else {
        this.settle('lost');
        throw new SiberiteError('ELOST', `${this.server}: close was answered with ${why}; the item will be delivered again`);
      }
    } catch (err) {
      this.conn.destroy();
      if (op === 'abort') {
        this.settle('aborted');
        return;
      }
      if (this._state === 'open') this.settle('lost');
      throw err instanceof SiberiteError && err.code === 'ELOST' ? err : Object.assign(this.lostError(), { cause: err });
    }
  }

  private settle(state: MessageState): void {
    if (this._state !== 'open') return;
    this._state = state;
    this.unwatch();
    for (const l of this.settledListeners.splice(0)) l(this);
  }
}
