// Client-side checks of what goes into a command line, so a bad name or option fails at the call
// with a clear message instead of as a CLIENT_ERROR from whichever server happened to get it.
// The rules are those of docs/protocol.md ("Names and keys", "Adding items").

import { badArg } from './errors.js';

const MAX_NAME = 200;
const MAX_KEY = 250;
/** exptime values below this are seconds from now; at or above, an absolute Unix time. */
const RELATIVE_LIMIT = 1_000_000;

/** A queue or cursor name: 1–200 bytes of printable ASCII without `/`, `.` or `+`. */
export function checkName(name: unknown, what: 'queue' | 'cursor'): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME) {
    throw badArg(`bad ${what} name ${JSON.stringify(name)}: 1 to ${MAX_NAME} printable ASCII characters`);
  }
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x2f /* / */ || c === 0x2e /* . */ || c === 0x2b /* + */) {
      throw badArg(`bad ${what} name ${JSON.stringify(name)}: only printable ASCII, without '/', '.' or '+'`);
    }
  }
  return name;
}

/** The key of a set: one queue, or `a+b+c` for a fanout (duplicates are harmless, the server stores one copy). */
export function setKey(queues: string | readonly string[]): string {
  const list = typeof queues === 'string' ? [queues] : queues;
  if (!Array.isArray(list) || list.length === 0) throw badArg('put needs a queue name or a non-empty array of them');
  const key = list.map((q) => checkName(q, 'queue')).join('+');
  if (key.length > MAX_KEY) throw badArg(`fanout key of ${key.length} bytes is over the ${MAX_KEY}-byte limit`);
  return key;
}

/** The key of a read: `queue` or `queue.cursor`, before any `/option`. */
export function readKey(queue: string, cursor: string | undefined): string {
  const key = cursor === undefined ? checkName(queue, 'queue') : `${checkName(queue, 'queue')}.${checkName(cursor, 'cursor')}`;
  // Room for the longest option suffix the client appends ("/close/open/t=2147483647").
  if (key.length + 24 > MAX_KEY) throw badArg(`key ${JSON.stringify(key)} is too long`);
  return key;
}

/** A non-negative integer number of milliseconds (blocking reads are limited to 2^31-1 ms). */
export function checkMs(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 2_147_483_647) {
    throw badArg(`${what} must be a number of milliseconds from 0 to 2147483647, got ${String(value)}`);
  }
  return Math.round(value);
}

/** The memcache flags field: an unsigned 32-bit integer. */
export function checkFlags(flags: unknown): number {
  if (flags === undefined) return 0;
  if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > 0xffffffff) {
    throw badArg(`flags must be an integer from 0 to 4294967295, got ${String(flags)}`);
  }
  return flags;
}

/**
 * The exptime field for an expiry `expiresInMs` from `nowMs`. The protocol counts whole seconds:
 * the lifetime is rounded up (an item never expires before it was asked to). Lifetimes of
 * 1,000,000 s or more must be sent as an absolute Unix time (Kestrel's rule, not memcached's).
 */
export function exptime(expiresInMs: number | undefined, nowMs: number): number {
  if (expiresInMs === undefined) return 0;
  if (typeof expiresInMs !== 'number' || !Number.isFinite(expiresInMs) || expiresInMs <= 0) {
    throw badArg(`expiresInMs must be a positive number of milliseconds, got ${String(expiresInMs)}`);
  }
  const seconds = Math.ceil(expiresInMs / 1000);
  return seconds < RELATIVE_LIMIT ? seconds : Math.ceil((nowMs + expiresInMs) / 1000);
}

/** Bytes to send for a payload: Buffers and typed arrays as they are, strings as UTF-8. */
export function payloadBytes(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw badArg('a payload must be a Buffer, a Uint8Array or a string');
}
