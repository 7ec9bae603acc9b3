// The typed values that travel between a wire framing (text or binary) and the Session.
// Framings turn bytes into Commands and Replies into bytes; they never touch queues.
import { type ReplyWriter } from './output.js';

/** One key of a `get`, with its `/options` parsed. */
export interface GetKey {
  /** The key exactly as the client sent it (for `--value-key full` and binary GETK). */
  raw: string;
  queue: string;
  cursor?: string;
  open: boolean;
  close: boolean;
  abort: boolean;
  peek: boolean;
  /** `/t=<ms>`: how long to wait for an item when the queue is empty. */
  timeoutMs?: number;
}

/** A queue, or a cursor of a queue (`q.c`). */
export interface QueueRef {
  queue: string;
  cursor?: string;
}

/**
 * A value read off the wire: `record` holds RECORD_HEADROOM (store/layout.ts) spare bytes, then
 * the payload.
 */
export interface SetCommand {
  kind: 'set';
  key: string;
  /** Distinct target queues (several for fanout `a+b+c`). */
  queues: string[];
  flags: number;
  exptime: number;
  record: Buffer;
  noreply: boolean;
  tag?: unknown;
}

export type Command =
  | { kind: 'get'; keys: GetKey[]; cas: boolean; tag?: unknown }
  | SetCommand
  | { kind: 'delete'; ref: QueueRef; noreply: boolean; tag?: unknown }
  | { kind: 'flush'; ref: QueueRef; noreply: boolean; tag?: unknown }
  | { kind: 'flush_all'; noreply: boolean; tag?: unknown }
  | { kind: 'flush_expired'; queue: string; tag?: unknown }
  | { kind: 'flush_all_expired'; tag?: unknown }
  | { kind: 'stats'; tag?: unknown }
  | { kind: 'dump_stats'; tag?: unknown }
  | { kind: 'version'; tag?: unknown }
  | { kind: 'verbosity'; noreply: boolean; tag?: unknown }
  | { kind: 'status'; value?: string; tag?: unknown }
  | { kind: 'monitor'; queue: string; seconds: number; max?: number; tag?: unknown }
  | { kind: 'confirm'; queue: string; count: number; tag?: unknown }
  | { kind: 'reload'; tag?: unknown }
  | { kind: 'shutdown'; tag?: unknown }
  | { kind: 'quit'; tag?: unknown }
  | { kind: 'noop'; tag?: unknown }
  /** Binary SASL (LIST_MECHS / AUTH / STEP), answered by src/security when -auth-file is set. */
  | { kind: 'auth'; step: 'mechanisms' | 'start' | 'continue'; mechanism: string; data: Buffer; tag?: unknown }
  /** Input that could not be turned into a command: answer `reply` (and close if it says so). */
  | { kind: 'invalid'; reply: ErrorReply; tag?: unknown };

/** Why an error happened, so each framing can pick its own status (binary) or text. */
export type ErrorCode =
  | 'unknown_command' // ERROR unknown command
  | 'empty' // ERROR
  | 'bad_format' // CLIENT_ERROR bad command line format, bad get option, bad queue name, …
  | 'bad_data' // CLIENT_ERROR bad data chunk (framing lost)
  | 'line_too_long'
  | 'too_large' // SERVER_ERROR object too large for cache
  | 'not_stored' // SERVER_ERROR read only, full …
  | 'busy' // CLIENT_ERROR Close current item first
  | 'server' // SERVER_ERROR <reason>
  | 'auth' // CLIENT_ERROR unauthenticated / authentication failure (src/security)
  | 'denied'; // CLIENT_ERROR access denied (src/security)

export interface ErrorReply {
  kind: 'error';
  type: 'ERROR' | 'CLIENT_ERROR' | 'SERVER_ERROR';
  message?: string;
  code: ErrorCode;
  /** Framing is lost: write the reply, then close the connection. */
  close?: boolean;
}

export interface ValueOut {
  key: string;
  flags: number;
  data: Buffer;
  /** Set for `gets`: the item id, shown as the CAS field. */
  cas?: number;
}

/** One hit as a reply of its own: what a single-key get answers, without a list. */
export type ValueReply = { kind: 'value' } & ValueOut;

export type Reply =
  | { kind: 'values'; values: ValueOut[] }
  | ValueReply
  | { kind: 'stored' }
  | { kind: 'not_stored' }
  | { kind: 'deleted' }
  | { kind: 'not_found' }
  | { kind: 'end' }
  | { kind: 'ok' }
  /** A one-line reply with no protocol meaning of its own: `VERSION x`, `UP`, a count … */
  | { kind: 'line'; text: string }
  | { kind: 'version'; version: string }
  /** `more`: a slice of a longer reply, without its terminator (END, or binary's empty STAT). */
  | { kind: 'stats'; stats: Array<[string, string]>; more?: boolean }
  /** Raw text lines (dump_stats), followed by END. */
  | { kind: 'lines'; lines: string[]; more?: boolean }
  /** Bytes a framing encoded earlier, slice by slice (a long stats reply). */
  | { kind: 'encoded'; parts: readonly Buffer[] }
  | ErrorReply
  /** noreply: write nothing. */
  | { kind: 'none' }
  /** quit: write nothing and close. */
  | { kind: 'close' };

export function clientError(message: string, code: ErrorCode = 'bad_format', close = false): ErrorReply {
  return { kind: 'error', type: 'CLIENT_ERROR', message, code, close };
}

/** `ERROR unknown command`: a command word (or opcode) this server does not serve. */
export function unknownCommand(): ErrorReply {
  return { kind: 'error', type: 'ERROR', message: 'unknown command', code: 'unknown_command' };
}

/**
 * SERVER_ERROR object too large for cache: a value over max_item_size. The one place this text
 * is written: both framings and every layer that refuses a value send this reply.
 */
export function tooLarge(): ErrorReply {
  return serverError('object too large for cache', 'too_large');
}

export function serverError(message: string, code: ErrorCode = 'server'): ErrorReply {
  return { kind: 'error', type: 'SERVER_ERROR', message, code };
}

/** A framing: bytes in, Commands out; Replies in, bytes out. */
export interface Framing {
  /** Add bytes read from the socket. */
  push(chunk: Buffer): void;
  /** The next complete command, or null when more bytes are needed. */
  next(): Command | null;
  /** Bytes held that are not yet a command (for back-pressure). */
  readonly buffered: number;
  /**
   * Appends the bytes for `reply` to `command` to `out` (none when nothing is to be written). The
   * session always passes the real reply: hiding it (text `noreply`, binary quiet opcodes) is the
   * framing's call.
   */
  encode(reply: Reply, command: Command, out: ReplyWriter): void;
}
