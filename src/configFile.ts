// Reading the JSON configuration file (docs/protocol.md#queue-limits-expiry-and-configuration, docs/protocol.md#command-line):
//
//   { "default": { <options> }, "queues": { "<name>": { <options> }, ... } }
//
// Both blocks are optional; any other top-level key is an error. `default` replaces the built-in
// defaults (DEFAULT_QUEUE_CONFIG) key by key; a named queue inherits `default` and overrides only
// the keys it gives. Option keys are snake_case in the file, camelCase in QueueConfig.
//
// Every mistake is reported as an Error with a one-line message naming the file (the path as
// given), the JSON path of the offending key and what is wrong, e.g.
//   config.json: queues.jobs.max_items: must be an integer ≥ 1 or null (got -5)
//
// Decisions (keep README's table in step):
// - Sizes: a whole number of bytes (JSON number), or a string "<number><unit>" with an optional
//   space: B; KiB, MiB, GiB, TiB (1024-based); KB/kB, MB, GB, TB (1000-based, as SI says — not
//   silently binary). Units are case-sensitive ("mb" would be millibits). A decimal number is
//   fine with a unit when the result is a whole number of bytes ("1.5MiB" yes, "0.1KiB" no).
// - Durations: a whole number of milliseconds (JSON number or digits in a string), or a string
//   "<number><unit>" with unit ms, s, m, h, d ("1.5s" = 1500 ms; the result must be whole ms).
//   Every duration option must be > 0. Durations that drive a Node timer (open_transaction_timeout,
//   fsync) are capped at 2^31-1 ms (~24.8 days): Node fires longer timers after 1 ms instead.
// - max_size must be ≥ 1 like max_items: a limit of 0 would refuse every set, surely a mistake.
// - max_item_size: 1 B … 1 GiB; null is not allowed (the cap cannot be lifted).
// - fsync: null in a block means "the server's -fsync" (undefined in QueueConfig), so a queue can
//   undo a `default` fsync.
// - expire_to_queue naming the queue itself is an error only when the queue's own block says so.
//   When it is inherited from `default` (default expire_to_queue "dead" reaching queue "dead",
//   listed or not), that queue simply has no expire_to_queue: the map gets an entry
//   { expireToQueue: null } for it. Cycles between queues (a → b → a) are allowed: an item moved
//   by expiry has no expiry of its own, so it cannot bounce back.
// - Duplicate keys (which JSON.parse silently resolves to the last) are an error.
// - A UTF-8 byte-order mark at the start of the file is ignored.
import { readFileSync } from 'node:fs';
import { type FsyncMode, type QueueConfig, type ServerQueueConfig, DEFAULT_QUEUE_CONFIG } from './config.js';
import { BAD_NAME, MAX_NAME_BYTES, isValidName } from './protocol/keys.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
/** The largest max_item_size a config may set. */
export const MAX_ITEM_SIZE_LIMIT = GIB;
/** Node's timers misbehave beyond this many ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  B: 1,
  KiB: KIB,
  MiB: MIB,
  GiB: GIB,
  TiB: 1024 * GIB,
  KB: 1e3,
  kB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
};

const DURATION_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

// ---- reporting --------------------------------------------------------------------------------

/** A value as quoted in messages: `-5`, `"12XB"`, `null`, `an array`. */
function shown(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    const text = JSON.stringify(value);
    return text.length > 60 ? `${text.slice(0, 56)}…"` : text;
  }
  return String(value);
}

function fail(where: string, message: string): never {
  throw new Error(`${where}: ${message}`);
}

/** A bytes count as people write it: `1 GiB`, `64 KiB`, `100 B`. */
function sizeText(bytes: number): string {
  for (const [unit, n] of [
    ['GiB', GIB],
    ['MiB', MIB],
    ['KiB', KIB],
  ] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n} ${unit}`;
  }
  return `${bytes} B`;
}

/** `x * unit` when that is (within float noise) a whole number, else null. */
function whole(amount: number, unit: number): number | null {
  const exact = amount * unit;
  const rounded = Math.round(exact);
  return Math.abs(exact - rounded) <= Math.max(1e-6, exact * 1e-12) ? rounded : null;
}

/**
 * `<number><unit>` as the file writes a size or duration ("1.5 MiB", "-30s", "250"): its sign,
 * and its magnitude in base units when that is a whole number (else null). Null when the text is
 * not of that form or the unit is not one of `units`.
 */
function amountWithUnit(text: string, units: Readonly<Record<string, number>>): { negative: boolean; whole: number | null } | null {
  const m = /^\s*(-?)(\d+(?:\.\d+)?|\.\d+)\s*([A-Za-z]*)\s*$/.exec(text);
  if (!m || !Object.hasOwn(units, m[3]!)) return null; // own keys only: "5constructor" is no unit
  return { negative: m[1] === '-', whole: whole(Number(m[2]), units[m[3]!]!) };
}

// ---- reusable parsers ---------------------------------------------------------------------------

export interface RangeOptions {
  /** Smallest accepted value (sizes: 0, durations: 1 unless given). */
  min?: number;
  /** Largest accepted value (default: Number.MAX_SAFE_INTEGER). */
  max?: number;
}

/**
 * A size in bytes: a whole number, or a string such as "64KiB", "16 MiB", "1GiB", "500MB", "100B".
 * Throws `Error("<where>: <what is wrong>")`. `null` is not a size: callers handle it.
 */
export function parseSize(value: unknown, where: string, range: RangeOptions = {}): number {
  const min = range.min ?? 0;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  let bytes: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(where, `size is too large (got ${shown(value)})`);
    if (value < 0) fail(where, `size must not be negative (got ${shown(value)})`);
    if (!Number.isInteger(value)) fail(where, `must be a whole number of bytes (got ${shown(value)})`);
    bytes = value;
  } else if (typeof value === 'string') {
    const amount = amountWithUnit(value, SIZE_UNITS);
    if (amount === null) fail(where, `bad size ${shown(value)} (use bytes or a unit: KiB, MiB, GiB)`);
    if (amount.negative) fail(where, `size must not be negative (got ${shown(value)})`);
    if (amount.whole === null) fail(where, `${shown(value)} is not a whole number of bytes`);
    bytes = amount.whole;
  } else {
    fail(where, `must be a size: bytes as a number, or a string like "64MiB" (got ${shown(value)})`);
  }
  if (bytes < min) fail(where, `must be at least ${sizeText(min)} (got ${shown(value)})`);
  if (bytes > max) fail(where, `must be at most ${sizeText(max)} (got ${shown(value)})`);
  return bytes;
}

/**
 * A duration in milliseconds: a whole number, or a string such as "500ms", "30s", "5m", "1h",
 * "1d", "1.5s", "250" (ms). Must be ≥ 1 ms unless `range.min` says otherwise.
 * Throws `Error("<where>: <what is wrong>")`. `null` is not a duration: callers handle it.
 */
export function parseDuration(value: unknown, where: string, range: RangeOptions = {}): number {
  const min = range.min ?? 1;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  let ms: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(where, `duration is too long (got ${shown(value)})`);
    if (!Number.isInteger(value)) fail(where, `must be a whole number of milliseconds (got ${shown(value)})`);
    ms = value;
  } else if (typeof value === 'string') {
    const amount = amountWithUnit(value, DURATION_UNITS);
    if (amount === null) fail(where, `bad duration ${shown(value)} (use milliseconds or a unit: ms, s, m, h, d)`);
    if (amount.whole === null) fail(where, `${shown(value)} is not a whole number of milliseconds`);
    ms = amount.negative ? -amount.whole : amount.whole;
  } else {
    fail(where, `must be a duration: milliseconds as a number, or a string like "30s" (got ${shown(value)})`);
  }
  if (ms < min) fail(where, min === 1 ? `duration must be > 0 (got ${shown(value)})` : `must be at least ${min} ms (got ${shown(value)})`);
  if (ms > max) fail(where, `must be at most ${max} ms (got ${shown(value)})`);
  return ms;
}

/** Why `name` is not a queue name (docs/protocol.md#names-and-keys), or null when it is one. */
export function queueNameProblem(name: string): string | null {
  if (isValidName(name)) return null; // the rule itself lives in protocol/keys.ts; this explains it
  if (name.length === 0) return 'empty';
  for (const ch of name) {
    if (ch === '/' || ch === '.' || ch === '+') return `'${ch}' is not allowed`;
    const code = ch.codePointAt(0)!;
    if (code < 0x21 || code > 0x7e) return `${JSON.stringify(ch)} is not printable ASCII`;
  }
  return `${name.length} bytes, at most ${MAX_NAME_BYTES}`;
}

const NAME_RULE = `1–${MAX_NAME_BYTES} printable ASCII characters other than '/', '.' and '+'`;

// ---- options ------------------------------------------------------------------------------------

type Parser = (value: unknown, where: string) => unknown;

const count: Parser = (value, where) => {
  if (value === null) return Infinity;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
    fail(where, `must be an integer ≥ 1 or null (got ${shown(value)})`);
  return value;
};

const OPTIONS: Readonly<Record<string, { key: keyof QueueConfig; parse: Parser }>> = {
  max_items: { key: 'maxItems', parse: count },
  max_size: {
    key: 'maxSize',
    parse: (value, where) => (value === null ? Infinity : parseSize(value, where, { min: 1 })),
  },
  max_item_size: {
    key: 'maxItemSize',
    parse: (value, where) => {
      if (value === null) fail(where, `must be a size from 1 B to ${sizeText(MAX_ITEM_SIZE_LIMIT)}; null is not allowed`);
      return parseSize(value, where, { min: 1, max: MAX_ITEM_SIZE_LIMIT });
    },
  },
  discard_old_when_full: {
    key: 'discardOldWhenFull',
    parse: (value, where) => {
      if (typeof value !== 'boolean') fail(where, `must be true or false (got ${shown(value)})`);
      return value;
    },
  },
  max_age: {
    key: 'maxAge',
    parse: (value, where) => (value === null ? null : parseDuration(value, where)),
  },
  expire_to_queue: {
    key: 'expireToQueue',
    parse: (value, where) => {
      if (value === null) return null;
      if (typeof value !== 'string') fail(where, `must be a queue name or null (got ${shown(value)})`);
      const problem = queueNameProblem(value);
      if (problem) fail(where, `${BAD_NAME} ${shown(value)}: ${problem} (${NAME_RULE})`);
      return value;
    },
  },
  open_transaction_timeout: {
    key: 'openTransactionTimeout',
    parse: (value, where) => (value === null ? null : parseDuration(value, where, { max: MAX_TIMER_MS })),
  },
  max_open_transactions: {
    key: 'maxOpenTransactions',
    parse: (value, where) => {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
        fail(where, `must be an integer ≥ 1 (got ${shown(value)})`);
      return value;
    },
  },
  fsync: {
    key: 'fsync',
    parse: (value, where): FsyncMode | undefined => {
      if (value === null) return undefined;
      if (value === 'never' || value === 'always') return value;
      const durationLike = typeof value === 'number' || (typeof value === 'string' && /^\s*-?[\d.]/.test(value));
      if (!durationLike) fail(where, `must be "never", "always", a duration such as "100ms", or null (got ${shown(value)})`);
      return parseDuration(value, where, { max: MAX_TIMER_MS });
    },
  },
};

const OPTION_NAMES = Object.keys(OPTIONS);
const TOP_LEVEL = ['default', 'queues'];

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** ` (did you mean max_size?)` for a near miss (typo, camelCase, dashes), else ''. */
function didYouMean(key: string, candidates: readonly string[]): string {
  const norm = (s: string) => s.toLowerCase().replace(/[-_\s]/g, '');
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = norm(key) === norm(c) ? 0 : editDistance(key.toLowerCase(), c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  const allowed = key.length <= 4 ? 1 : 2;
  return best !== undefined && bestDistance <= allowed ? ` (did you mean ${best}?)` : '';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `queues.jobs` for plain names, `queues["we\"ird"]` otherwise. */
function member(path: string, key: string): string {
  const seg = /^[A-Za-z0-9_:-]+$/.test(key) ? key : null;
  if (seg === null) return `${path}[${JSON.stringify(key)}]`;
  return path ? `${path}.${seg}` : seg;
}

/** The options of one block (`default` or `queues.<name>`), only the keys given. */
function parseBlock(file: string, path: string, block: unknown, blockRole: string): Partial<QueueConfig> {
  if (!isPlainObject(block)) fail(`${file}: ${path}`, `must be an object of ${blockRole} (got ${shown(block)})`);
  const out: Partial<QueueConfig> = {};
  for (const [name, value] of Object.entries(block)) {
    const where = `${file}: ${member(path, name)}`;
    const option = OPTIONS[name];
    if (!option) {
      const misplaced = TOP_LEVEL.includes(name) ? ` ("${name}" belongs at the top level)` : '';
      fail(where, `unknown option${misplaced || didYouMean(name, OPTION_NAMES)}`);
    }
    (out as Record<string, unknown>)[option.key] = option.parse(value, where);
  }
  return out;
}

// ---- duplicate keys ---------------------------------------------------------------------------

/** The first key that appears twice in one object of (already valid) JSON `text`, with its path. */
function findDuplicateKey(text: string): { path: string; key: string } | null {
  interface Frame {
    object: boolean;
    keys: Set<string>;
    current: string | null;
    expectKey: boolean;
    index: number;
  }
  const stack: Frame[] = [];
  const pathOf = () => {
    let path = '';
    for (let i = 0; i < stack.length - 1; i++) {
      const f = stack[i]!;
      path = f.object ? member(path, f.current ?? '') : `${path}[${f.index}]`;
    }
    return path;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const top = stack[stack.length - 1];
    if (ch === '{' || ch === '[') {
      stack.push({ object: ch === '{', keys: new Set(), current: null, expectKey: ch === '{', index: 0 });
    } else if (ch === '}' || ch === ']') {
      stack.pop();
    } else if (ch === ',') {
      if (top?.object) top.expectKey = true;
      else if (top) top.index++;
    } else if (ch === ':') {
      if (top) top.expectKey = false;
    } else if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (top?.object && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return { path: pathOf(), key };
        top.keys.add(key);
        top.current = key;
      }
      i = j;
    }
  }
  return null;
}

// ---- the file -----------------------------------------------------------------------------------

/**
 * JSON.parse's message on one line (V8 may quote source text, newlines and all), with
 * `at position 42` → `at position 42 (line 3, column 5)` and a hint for comments.
 */
function jsonErrorText(message: string, text: string): string {
  let out = message.replace(/\r?\n/g, '\\n');
  const m = /at position (\d+)/.exec(message);
  if (m && !/line \d+/.test(message)) {
    const before = text.slice(0, Number(m[1]));
    const line = before.split('\n').length;
    const column = before.length - before.lastIndexOf('\n');
    out += ` (line ${line}, column ${column})`;
  }
  if (/token '\/'/.test(message) || /^\s*(\/\/|\/\*)/m.test(text)) out += ' — comments are not allowed in JSON';
  return out;
}

export function loadConfigFile(path: string): ServerQueueConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read: ${(err as Error).message}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid JSON: ${jsonErrorText((err as Error).message, text)}`);
  }
  if (!isPlainObject(doc)) fail(path, `must be a JSON object with "default" and/or "queues" (got ${shown(doc)})`);
  const duplicate = findDuplicateKey(text);
  if (duplicate) fail(duplicate.path ? `${path}: ${duplicate.path}` : path, `duplicate key ${shown(duplicate.key)}`);

  for (const key of Object.keys(doc)) {
    if (TOP_LEVEL.includes(key)) continue;
    const hint = OPTIONS[key] ? ' (options go inside "default" or "queues.<name>")' : didYouMean(key, TOP_LEVEL);
    fail(`${path}: ${member('', key)}`, `unknown top-level key${hint} — expected "default" and/or "queues"`);
  }

  const defaults: QueueConfig = { ...DEFAULT_QUEUE_CONFIG };
  if (doc.default !== undefined) Object.assign(defaults, parseBlock(path, 'default', doc.default, 'default queue options'));

  const queues = new Map<string, Partial<QueueConfig>>();
  if (doc.queues !== undefined) {
    if (!isPlainObject(doc.queues)) fail(`${path}: queues`, `must be an object of queue names (got ${shown(doc.queues)})`);
    for (const [name, block] of Object.entries(doc.queues)) {
      const where = member('queues', name);
      const problem = queueNameProblem(name);
      if (problem) fail(`${path}: ${where}`, `${BAD_NAME}: ${problem} (${NAME_RULE})`);
      if (OPTIONS[name] && !isPlainObject(block)) {
        fail(`${path}: ${where}`, `must be an object of options for the queue "${name}" (options go inside "queues.<name>")`);
      }
      const own = parseBlock(path, where, block, 'queue options');
      if (own.expireToQueue === name) fail(`${path}: ${where}.expire_to_queue`, 'a queue cannot expire to itself');
      queues.set(name, own);
    }
  }

  // A default expire_to_queue never makes its own target expire into itself (see the top).
  const target = defaults.expireToQueue;
  if (target !== null) {
    const own = queues.get(target);
    if (!own) queues.set(target, { expireToQueue: null });
    else if (own.expireToQueue === undefined) own.expireToQueue = null;
  }

  return { defaults, queues };
}

/** The largest max_item_size any queue allows. */
export function maxItemSizeOf(config: ServerQueueConfig): number {
  let max = config.defaults.maxItemSize;
  for (const q of config.queues.values()) if (q.maxItemSize !== undefined && q.maxItemSize > max) max = q.maxItemSize;
  return max;
}
