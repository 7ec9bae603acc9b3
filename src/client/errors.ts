// The errors the client throws. Every one carries a stable `code` so callers can branch on the
// kind of failure without parsing messages; none of them ever carries more than the server's
// own reply line (the server never puts a filesystem path in a reply).

export type SiberiteErrorCode =
  | 'EBADARG' // the caller passed something the protocol cannot carry (bad name, bad option)
  | 'ECONNECTION' // the TCP connection failed or closed under the request
  | 'ETIMEOUT' // no reply within the time allowed
  | 'EREPLY' // the server answered with an error or a refusal (NOT_STORED, CLIENT_ERROR, …)
  | 'EPROTOCOL' // the server sent bytes the client cannot parse (the connection is dropped)
  | 'ENOSERVER' // no server could serve the call
  | 'ECLOSED' // the client was ended, or the message was already settled
  | 'ELOST'; // the connection that holds an open item was lost before the close was confirmed

export class SiberiteError extends Error {
  constructor(
    readonly code: SiberiteErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SiberiteError';
  }
}

/** The server answered with an error line or a refusal; `reply` is that line, verbatim. */
export class ReplyError extends SiberiteError {
  constructor(
    readonly reply: string,
    readonly server: string,
  ) {
    super('EREPLY', `${server} replied: ${reply}`);
    this.name = 'ReplyError';
  }

  /**
   * True when another server may accept what this one refused: a full or read-only queue
   * (NOT_STORED) or a server-side fault (SERVER_ERROR). CLIENT_ERROR and ERROR mean the request
   * itself is wrong and would be refused everywhere.
   */
  get retryElsewhere(): boolean {
    return this.reply === 'NOT_STORED' || this.reply.startsWith('SERVER_ERROR');
  }
}

/** True for the failures that say a server (or the path to it) is unhealthy. */
export function isTransportError(err: unknown): boolean {
  return err instanceof SiberiteError && (err.code === 'ECONNECTION' || err.code === 'ETIMEOUT' || err.code === 'EPROTOCOL');
}

export function badArg(message: string): SiberiteError {
  return new SiberiteError('EBADARG', message);
}
