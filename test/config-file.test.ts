// Unit tests of the JSON configuration file (docs/protocol.md#queue-limits-expiry-and-configuration, docs/protocol.md#command-line): mapping, inheritance and every kind
// of mistake, asserted on the message text users will see.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile, maxItemSizeOf, parseDuration, parseSize } from '../src/configFile.js';
import { DEFAULT_QUEUE_CONFIG, queueConfigFor } from '../src/config.js';

let dir: string;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'siberite-config-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `content` (a string as is, anything else as JSON) to a fresh file; returns its path. */
function file(content: unknown): string {
  const path = join(dir, `config-${++n}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}

/** The message loadConfigFile throws for `content`, with the temp path replaced by `config.json`. */
function errorOf(content: unknown): string {
  const path = file(content);
  try {
    loadConfigFile(path);
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message.startsWith(`${path}: `)).toBe(true);
    expect(message).not.toContain('\n');
    return message.replace(path, 'config.json');
  }
  throw new Error('expected loadConfigFile to throw');
}

describe('a valid file', () => {
  it('maps every option, with inheritance from default', () => {
    const config = loadConfigFile(
      file({
        default: {
          max_items: 1000,
          max_size: '64MiB',
          max_item_size: '1MiB',
          max_age: '1h',
          open_transaction_timeout: '30s',
          fsync: 'never',
        },
        queues: {
          jobs: {
            max_items: null,
            max_size: 2048,
            discard_old_when_full: true,
            expire_to_queue: 'jobs_dead',
            max_open_transactions: 10,
            fsync: 'always',
          },
          delayed: { max_age: 500, expire_to_queue: 'ready', max_item_size: '2 MB', fsync: '100ms' },
          'odd:name-1': { max_size: null, open_transaction_timeout: null, max_age: null, fsync: null },
          plain: {},
        },
      }),
    );
    expect(config.defaults).toEqual({
      ...DEFAULT_QUEUE_CONFIG,
      maxItems: 1000,
      maxSize: 64 * 1024 * 1024,
      maxItemSize: 1024 * 1024,
      maxAge: 3_600_000,
      openTransactionTimeout: 30_000,
      fsync: 'never',
    });
    // Only the keys a queue gives are stored for it...
    expect(config.queues.get('jobs')).toEqual({
      maxItems: Infinity,
      maxSize: 2048,
      discardOldWhenFull: true,
      expireToQueue: 'jobs_dead',
      maxOpenTransactions: 10,
      fsync: 'always',
    });
    // ...and the rest comes from `default`.
    expect(queueConfigFor(config, 'jobs')).toEqual({
      maxItems: Infinity,
      maxSize: 2048,
      maxItemSize: 1024 * 1024,
      discardOldWhenFull: true,
      maxAge: 3_600_000,
      expireToQueue: 'jobs_dead',
      openTransactionTimeout: 30_000,
      maxOpenTransactions: 10,
      fsync: 'always',
    });
    expect(queueConfigFor(config, 'delayed')).toMatchObject({
      maxItems: 1000,
      maxAge: 500,
      expireToQueue: 'ready',
      maxItemSize: 2_000_000,
      fsync: 100,
    });
    // null lifts a default limit; fsync null means "the server's -fsync".
    const odd = queueConfigFor(config, 'odd:name-1');
    expect(odd).toMatchObject({ maxSize: Infinity, openTransactionTimeout: null, maxAge: null, maxItems: 1000 });
    expect(odd.fsync).toBeUndefined();
    expect(queueConfigFor(config, 'plain')).toEqual(config.defaults);
    expect(queueConfigFor(config, 'not-listed')).toEqual(config.defaults);
    expect(maxItemSizeOf(config)).toBe(2_000_000);
  });

  it('an empty object, or either block alone, is fine', () => {
    expect(loadConfigFile(file({})).defaults).toEqual(DEFAULT_QUEUE_CONFIG);
    expect(loadConfigFile(file({})).queues.size).toBe(0);
    expect(loadConfigFile(file({ default: { max_items: 5 } })).defaults.maxItems).toBe(5);
    const onlyQueues = loadConfigFile(file({ queues: { a: { max_items: 3 } } }));
    expect(onlyQueues.defaults).toEqual(DEFAULT_QUEUE_CONFIG);
    expect(queueConfigFor(onlyQueues, 'a').maxItems).toBe(3);
  });

  it('ignores a UTF-8 byte-order mark', () => {
    expect(loadConfigFile(file('\ufeff{"default": {"max_items": 7}}')).defaults.maxItems).toBe(7);
  });

  it('a queue that a default expire_to_queue names does not expire into itself', () => {
    const config = loadConfigFile(
      file({ default: { expire_to_queue: 'dead', max_age: '1d' }, queues: { jobs: {}, other: { expire_to_queue: 'x' } } }),
    );
    expect(queueConfigFor(config, 'jobs').expireToQueue).toBe('dead');
    expect(queueConfigFor(config, 'anything').expireToQueue).toBe('dead');
    expect(queueConfigFor(config, 'other').expireToQueue).toBe('x');
    expect(queueConfigFor(config, 'dead').expireToQueue).toBeNull();
    expect(queueConfigFor(config, 'dead').maxAge).toBe(86_400_000);

    // Listed without its own expire_to_queue: same; with one: kept.
    const listed = loadConfigFile(file({ default: { expire_to_queue: 'dead' }, queues: { dead: { max_items: 9 } } }));
    expect(queueConfigFor(listed, 'dead')).toMatchObject({ expireToQueue: null, maxItems: 9 });
    const onward = loadConfigFile(file({ default: { expire_to_queue: 'dead' }, queues: { dead: { expire_to_queue: 'graveyard' } } }));
    expect(queueConfigFor(onward, 'dead').expireToQueue).toBe('graveyard');
  });

  it('accepts the size and duration spellings', () => {
    const sizes: [unknown, number][] = [
      [0, 0],
      [100, 100],
      ['100', 100],
      ['100B', 100],
      ['64KiB', 65536],
      ['16 MiB', 16 * 1024 * 1024],
      ['1GiB', 1024 ** 3],
      ['1.5MiB', 1.5 * 1024 * 1024],
      ['2TiB', 2 * 1024 ** 4],
      ['64KB', 64_000],
      ['64kB', 64_000],
      ['16MB', 16_000_000],
      ['1GB', 1e9],
      [' 3 GiB ', 3 * 1024 ** 3],
    ];
    for (const [value, bytes] of sizes) expect(parseSize(value, 'x'), String(value)).toBe(bytes);
    const durations: [unknown, number][] = [
      [1, 1],
      [250, 250],
      ['250', 250],
      ['500ms', 500],
      ['30s', 30_000],
      ['1.5s', 1500],
      ['5m', 300_000],
      ['1h', 3_600_000],
      ['1d', 86_400_000],
      ['.5s', 500],
    ];
    for (const [value, ms] of durations) expect(parseDuration(value, 'x'), String(value)).toBe(ms);
  });
});

describe('mistakes', () => {
  const cases: [string, unknown, string][] = [
    // unknown keys, at every level
    ['unknown option (typo)', { default: { max_sise: 1 } }, 'config.json: default.max_sise: unknown option (did you mean max_size?)'],
    [
      'unknown option (camelCase)',
      { queues: { jobs: { maxItems: 1 } } },
      'config.json: queues.jobs.maxItems: unknown option (did you mean max_items?)',
    ],
    ['unknown option (no near miss)', { queues: { jobs: { colour: 'red' } } }, 'config.json: queues.jobs.colour: unknown option'],
    [
      'queues inside default',
      { default: { queues: {} } },
      'config.json: default.queues: unknown option ("queues" belongs at the top level)',
    ],
    [
      'unknown top-level key',
      { defaults: {} },
      'config.json: defaults: unknown top-level key (did you mean default?) — expected "default" and/or "queues"',
    ],
    [
      'option at the top level',
      { max_items: 5 },
      'config.json: max_items: unknown top-level key (options go inside "default" or "queues.<name>") — expected "default" and/or "queues"',
    ],
    ['duplicate key', '{"queues": {"jobs": {"max_items": 1, "max_items": 2}}}', 'config.json: queues.jobs: duplicate key "max_items"'],
    ['duplicate queue', '{"queues": {"jobs": {}, "jobs": {}}}', 'config.json: queues: duplicate key "jobs"'],
    ['duplicate top-level key', '{"default": {}, "default": {}}', 'config.json: duplicate key "default"'],

    // wrong types and shapes
    ['top level not an object', [1, 2], 'config.json: must be a JSON object with "default" and/or "queues" (got an array)'],
    ['default not an object', { default: 5 }, 'config.json: default: must be an object of default queue options (got 5)'],
    ['queues not an object', { queues: ['a'] }, 'config.json: queues: must be an object of queue names (got an array)'],
    ['queues null', { queues: null }, 'config.json: queues: must be an object of queue names (got null)'],
    ['queue block not an object', { queues: { jobs: true } }, 'config.json: queues.jobs: must be an object of queue options (got true)'],
    [
      'options directly under queues',
      { queues: { max_items: 5 } },
      'config.json: queues.max_items: must be an object of options for the queue "max_items" (options go inside "queues.<name>")',
    ],
    ['max_items a string', { default: { max_items: '10' } }, 'config.json: default.max_items: must be an integer ≥ 1 or null (got "10")'],
    [
      'max_items negative',
      { queues: { jobs: { max_items: -5 } } },
      'config.json: queues.jobs.max_items: must be an integer ≥ 1 or null (got -5)',
    ],
    [
      'max_items zero',
      { queues: { jobs: { max_items: 0 } } },
      'config.json: queues.jobs.max_items: must be an integer ≥ 1 or null (got 0)',
    ],
    [
      'max_items fractional',
      { queues: { jobs: { max_items: 2.5 } } },
      'config.json: queues.jobs.max_items: must be an integer ≥ 1 or null (got 2.5)',
    ],
    [
      'max_items huge',
      '{"default": {"max_items": 1e400}}',
      'config.json: default.max_items: must be an integer ≥ 1 or null (got Infinity)',
    ],
    [
      'discard_old_when_full a string',
      { default: { discard_old_when_full: 'yes' } },
      'config.json: default.discard_old_when_full: must be true or false (got "yes")',
    ],
    [
      'discard_old_when_full null',
      { default: { discard_old_when_full: null } },
      'config.json: default.discard_old_when_full: must be true or false (got null)',
    ],
    [
      'max_open_transactions zero',
      { default: { max_open_transactions: 0 } },
      'config.json: default.max_open_transactions: must be an integer ≥ 1 (got 0)',
    ],
    [
      'max_open_transactions null',
      { default: { max_open_transactions: null } },
      'config.json: default.max_open_transactions: must be an integer ≥ 1 (got null)',
    ],
    [
      'expire_to_queue a number',
      { default: { expire_to_queue: 5 } },
      'config.json: default.expire_to_queue: must be a queue name or null (got 5)',
    ],
    [
      'fsync a word',
      { default: { fsync: 'sometimes' } },
      'config.json: default.fsync: must be "never", "always", a duration such as "100ms", or null (got "sometimes")',
    ],
    [
      'fsync a boolean',
      { default: { fsync: true } },
      'config.json: default.fsync: must be "never", "always", a duration such as "100ms", or null (got true)',
    ],
    ['fsync zero', { default: { fsync: 0 } }, 'config.json: default.fsync: duration must be > 0 (got 0)'],

    // sizes
    ['negative size', { queues: { a: { max_size: -1 } } }, 'config.json: queues.a.max_size: size must not be negative (got -1)'],
    [
      'negative size string',
      { queues: { a: { max_size: '-1MiB' } } },
      'config.json: queues.a.max_size: size must not be negative (got "-1MiB")',
    ],
    ['zero max_size', { queues: { a: { max_size: 0 } } }, 'config.json: queues.a.max_size: must be at least 1 B (got 0)'],
    [
      'bad unit',
      { queues: { a: { max_size: '12XB' } } },
      'config.json: queues.a.max_size: bad size "12XB" (use bytes or a unit: KiB, MiB, GiB)',
    ],
    [
      'unit case',
      { queues: { a: { max_size: '12mib' } } },
      'config.json: queues.a.max_size: bad size "12mib" (use bytes or a unit: KiB, MiB, GiB)',
    ],
    [
      'no number',
      { queues: { a: { max_size: 'MiB' } } },
      'config.json: queues.a.max_size: bad size "MiB" (use bytes or a unit: KiB, MiB, GiB)',
    ],
    [
      'fractional bytes',
      { queues: { a: { max_size: 10.5 } } },
      'config.json: queues.a.max_size: must be a whole number of bytes (got 10.5)',
    ],
    [
      'fractional bytes with a unit',
      { queues: { a: { max_size: '0.1KiB' } } },
      'config.json: queues.a.max_size: "0.1KiB" is not a whole number of bytes',
    ],
    [
      'size a boolean',
      { queues: { a: { max_size: false } } },
      'config.json: queues.a.max_size: must be a size: bytes as a number, or a string like "64MiB" (got false)',
    ],
    [
      'max_item_size too big',
      { default: { max_item_size: '2GiB' } },
      'config.json: default.max_item_size: must be at most 1 GiB (got "2GiB")',
    ],
    ['max_item_size zero', { default: { max_item_size: 0 } }, 'config.json: default.max_item_size: must be at least 1 B (got 0)'],
    [
      'max_item_size null',
      { default: { max_item_size: null } },
      'config.json: default.max_item_size: must be a size from 1 B to 1 GiB; null is not allowed',
    ],

    // durations
    [
      'bad duration unit',
      { default: { max_age: '5 minutes' } },
      'config.json: default.max_age: bad duration "5 minutes" (use milliseconds or a unit: ms, s, m, h, d)',
    ],
    [
      'bad duration text',
      { default: { max_age: 'soon' } },
      'config.json: default.max_age: bad duration "soon" (use milliseconds or a unit: ms, s, m, h, d)',
    ],
    [
      'compound duration',
      { default: { max_age: '1h30m' } },
      'config.json: default.max_age: bad duration "1h30m" (use milliseconds or a unit: ms, s, m, h, d)',
    ],
    ['zero duration', { default: { max_age: 0 } }, 'config.json: default.max_age: duration must be > 0 (got 0)'],
    ['negative duration', { default: { max_age: '-5s' } }, 'config.json: default.max_age: duration must be > 0 (got "-5s")'],
    ['fractional ms', { default: { max_age: 1.5 } }, 'config.json: default.max_age: must be a whole number of milliseconds (got 1.5)'],
    [
      'fractional ms with a unit',
      { default: { max_age: '1.5ms' } },
      'config.json: default.max_age: "1.5ms" is not a whole number of milliseconds',
    ],
    [
      'duration an object',
      { default: { max_age: {} } },
      'config.json: default.max_age: must be a duration: milliseconds as a number, or a string like "30s" (got an object)',
    ],
    [
      'timer too long',
      { queues: { q: { open_transaction_timeout: '30d' } } },
      'config.json: queues.q.open_transaction_timeout: must be at most 2147483647 ms (got "30d")',
    ],

    // queue names
    [
      'expire_to_queue naming itself',
      { queues: { pending: { expire_to_queue: 'pending' } } },
      'config.json: queues.pending.expire_to_queue: a queue cannot expire to itself',
    ],
    [
      'bad expire_to_queue name',
      { default: { expire_to_queue: 'a.b' } },
      "config.json: default.expire_to_queue: bad queue name \"a.b\": '.' is not allowed (1–200 printable ASCII characters other than '/', '.' and '+')",
    ],
    [
      'empty expire_to_queue',
      { default: { expire_to_queue: '' } },
      "config.json: default.expire_to_queue: bad queue name \"\": empty (1–200 printable ASCII characters other than '/', '.' and '+')",
    ],
    [
      'queue name with a slash',
      { queues: { 'a/b': {} } },
      "config.json: queues[\"a/b\"]: bad queue name: '/' is not allowed (1–200 printable ASCII characters other than '/', '.' and '+')",
    ],
    [
      'queue name with a space',
      { queues: { 'my queue': {} } },
      "config.json: queues[\"my queue\"]: bad queue name: \" \" is not printable ASCII (1–200 printable ASCII characters other than '/', '.' and '+')",
    ],
    [
      'queue name too long',
      { queues: { ['q'.repeat(201)]: {} } },
      `config.json: queues.${'q'.repeat(201)}: bad queue name: 201 bytes, at most 200 (1–200 printable ASCII characters other than '/', '.' and '+')`,
    ],
    [
      'empty queue name',
      { queues: { '': {} } },
      "config.json: queues[\"\"]: bad queue name: empty (1–200 printable ASCII characters other than '/', '.' and '+')",
    ],
    [
      'odd but valid name in a path',
      { queues: { 'we"ird': { max_items: 0 } } },
      'config.json: queues["we\\"ird"].max_items: must be an integer ≥ 1 or null (got 0)',
    ],
  ];

  for (const [title, content, message] of cases) {
    it(title, () => {
      expect(errorOf(content)).toBe(message);
    });
  }

  it('bad JSON names the position', () => {
    expect(errorOf('{\n  "default": { "max_items": 5, }\n}')).toMatch(
      /^config\.json: not valid JSON: .*position 33.*line 2,? column 32\)?$/,
    );
    expect(errorOf('')).toBe('config.json: not valid JSON: Unexpected end of JSON input');
    expect(errorOf('// comment\n{}')).toMatch(/^config\.json: not valid JSON: .* — comments are not allowed in JSON$/);
  });

  it('a missing file', () => {
    const path = join(dir, 'no-such-file.json');
    expect(() => loadConfigFile(path)).toThrow(`${path}: cannot read: ENOENT: no such file or directory`);
  });

  it('a directory', () => {
    expect(() => loadConfigFile(dir)).toThrow(`${dir}: cannot read: EISDIR`);
  });

  it('the helpers name the place they are given', () => {
    expect(() => parseDuration('fast', '-fsync')).toThrow('-fsync: bad duration "fast" (use milliseconds or a unit: ms, s, m, h, d)');
    expect(() => parseSize(-3, 'limit')).toThrow('limit: size must not be negative (got -3)');
    expect(() => parseSize(5, 'limit', { max: 4 })).toThrow('limit: must be at most 4 B (got 5)');
    expect(parseDuration(0, 'x', { min: 0 })).toBe(0);
  });

  it('a unit is one of the table, never a name every object has', () => {
    expect(() => parseSize('5constructor', 'limit')).toThrow('limit: bad size "5constructor" (use bytes or a unit: KiB, MiB, GiB)');
    expect(() => parseDuration('5toString', 'x')).toThrow('x: bad duration "5toString" (use milliseconds or a unit: ms, s, m, h, d)');
  });
});
