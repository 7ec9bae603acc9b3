// The key syntax shared by the text and binary framings:
//   queue            q          (1–200 printable bytes, no '/', '.', '+')
//   cursor           q.c
//   get options      q/open/close/abort/peek/t=<ms>
//   fanout set       a+b+c
import { type GetKey, type QueueRef } from './command.js';

export const MAX_KEY_BYTES = 250;
export const MAX_NAME_BYTES = 200;

export const BAD_NAME = 'bad queue name';
export const BAD_GET_OPTION = 'bad get option';
export const CANNOT_SET_CURSOR = 'cannot set to a cursor';

/** True when `name` is 1–200 bytes of printable ASCII other than '/', '.', '+'. */
export function isValidName(name: string): boolean {
  const n = name.length;
  if (n < 1 || n > MAX_NAME_BYTES) return false;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x2f /* / */ || c === 0x2e /* . */ || c === 0x2b /* + */) return false;
  }
  return true;
}

/** `q`, `q.` (= q) or `q.c`; anything else is an error message. */
export function parseQueueRef(key: string): QueueRef | string {
  if (key.length > MAX_KEY_BYTES) return BAD_NAME;
  const dot = key.indexOf('.');
  if (dot < 0) return isValidName(key) ? { queue: key } : BAD_NAME;
  const queue = key.slice(0, dot);
  const cursor = key.slice(dot + 1);
  if (!isValidName(queue)) return BAD_NAME;
  if (cursor.length === 0) return { queue };
  return isValidName(cursor) ? { queue, cursor } : BAD_NAME;
}

/** Parses `name[/option]...`; returns the error message on failure. */
export function parseGetKey(raw: string): GetKey | string {
  if (raw.length > MAX_KEY_BYTES) return BAD_NAME;
  const parts = raw.split('/');
  const ref = parseQueueRef(parts[0]!);
  if (typeof ref === 'string') return ref;
  const key: GetKey = { raw, queue: ref.queue, open: false, close: false, abort: false, peek: false };
  if (ref.cursor !== undefined) key.cursor = ref.cursor;
  for (let i = 1; i < parts.length; i++) {
    const opt = parts[i]!;
    if (opt === 'open') key.open = true;
    else if (opt === 'close') key.close = true;
    else if (opt === 'abort') key.abort = true;
    else if (opt === 'peek') key.peek = true;
    else if (opt.startsWith('t=')) {
      const ms = parseDecimal(opt.slice(2));
      if (ms === undefined) return BAD_GET_OPTION;
      key.timeoutMs = ms;
    } else return BAD_GET_OPTION;
  }
  if (key.abort && (key.open || key.close || key.peek || key.timeoutMs !== undefined)) return BAD_GET_OPTION;
  if (key.peek && (key.open || key.close)) return BAD_GET_OPTION;
  return key;
}

/** Parses a set key: one queue or a `+`-joined fanout; duplicates collapse. */
export function parseSetKey(raw: string): string[] | string {
  if (raw.length > MAX_KEY_BYTES) return BAD_NAME;
  const out: string[] = [];
  for (const name of raw.split('+')) {
    const ref = parseQueueRef(name); // `q.` means q; `q.c` is a cursor, which cannot be written to
    if (typeof ref === 'string') return ref;
    if (ref.cursor !== undefined) return CANNOT_SET_CURSOR;
    if (!out.includes(ref.queue)) out.push(ref.queue);
  }
  return out;
}

/** A non-negative decimal integer that fits a double exactly, or undefined. */
export function parseDecimal(s: string): number | undefined {
  const n = s.length;
  if (n === 0 || n > 15) return undefined;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    v = v * 10 + d;
  }
  return v;
}

/** A possibly negative decimal integer, or undefined. */
export function parseSignedDecimal(s: string): number | undefined {
  if (s.charCodeAt(0) === 0x2d /* - */) {
    const v = parseDecimal(s.slice(1));
    return v === undefined ? undefined : -v;
  }
  return parseDecimal(s);
}

// ---- parsed keys, remembered ----------------------------------------------------------------
// Clients use a few keys over and over: each is parsed once. The results are shared by every
// command that names the key, so they are frozen.

/** Distinct keys remembered per kind; past this the memory starts over. */
const MEMO_KEYS = 1024;

function memo<T>(parse: (raw: string) => T): (raw: string) => T {
  let known = new Map<string, T>();
  return (raw) => {
    let parsed = known.get(raw);
    if (parsed === undefined) {
      if (known.size >= MEMO_KEYS) known = new Map();
      parsed = parse(raw);
      known.set(raw, parsed);
    }
    return parsed;
  };
}

function frozen<T>(value: T): T {
  Object.freeze(value);
  return value;
}

/** parseGetKey, as a one-key list (a single-key get's `keys`); shared: never modify it. */
export const getKeyList = memo((raw: string): GetKey[] | string => {
  const key = parseGetKey(raw);
  return typeof key === 'string' ? key : frozen([frozen(key)]);
});

/** parseSetKey; shared: never modify the list. */
export const setKeyQueues = memo((raw: string): string[] | string => {
  const queues = parseSetKey(raw);
  return typeof queues === 'string' ? queues : frozen(queues);
});
