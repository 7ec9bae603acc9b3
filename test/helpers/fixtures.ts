// Per-file test fixtures: one server started for a whole file (with an optional config file),
// clients closed after the tests, unique queue names, and a few small wire-level steps shared by
// the end-to-end tests.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { type ServerHandle, type StartOptions, startServer } from './server.js';
import { statOf, waitForStat } from './stats.js';
import { END, setCmd, TextClient } from './textClient.js';

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Anything a test opens and must close afterwards (TextClient, BinaryClient, memjs.Client). */
export interface Closable {
  close(): void;
}

/** Clients opened by tests, closed together afterwards. */
export class Clients {
  private readonly open: Closable[] = [];

  /** Keeps `c` to close later; returns it. */
  track<T extends Closable>(c: T): T {
    this.open.push(c);
    return c;
  }

  /** A new text protocol connection to `port`, closed by closeAll(). */
  async connect(port: number): Promise<TextClient> {
    return this.track(await TextClient.connect(port));
  }

  /** Closes every client tracked so far and forgets them. */
  closeAll(): void {
    for (const c of this.open.splice(0)) c.close();
  }
}

/** Writes `content` to `path`: a string as is, anything else as indented JSON. */
export function writeConfigFile(path: string, content: unknown): void {
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
}

export interface ServerFixtureOptions {
  /** Written to a temp config.json (see writeConfigFile) that the server gets as `-config`. */
  config?: unknown;
  /** Prefix of the temp directory holding the config file. */
  tmpPrefix?: string;
  /** afterAll also expects the server to exit 0 on SIGTERM. */
  expectCleanExit?: boolean;
}

export interface ServerFixture<S = ServerHandle> {
  /** The server of this file (started in beforeAll). */
  readonly server: S;
  /** The config file's path ('' without `config`). */
  readonly configPath: string;
  /** Rewrites the config file (for reload tests). */
  writeConfig(content: unknown): void;
  /** A text connection to the server (or to `port`), closed after all tests. */
  connect(port?: number): Promise<TextClient>;
  /** Closes `c` after all tests; returns it. */
  track<T extends Closable>(c: T): T;
}

/** What a fixture needs of a server, spawned (ServerHandle) or in-process (InProcessServer). */
export interface RunningServer {
  readonly port: number;
  /** Stops it; resolves to the exit code (0: a clean stop). */
  stop(): Promise<number | null>;
  /** Removes its data directory (after stop). */
  cleanup(): void;
}

/**
 * Starts one server for the calling test file (beforeAll) and, after all its tests, closes the
 * clients opened through the fixture, stops the server and removes its data and config.
 */
export function useServer(options: ServerFixtureOptions = {}): ServerFixture {
  return useServerFrom(options, (configPath) => startServer({ args: configPath === undefined ? [] : ['-config', configPath] }));
}

/** useServer with a server made by `start`, given the config file's path (if `options.config`). */
export function useServerFrom<S extends RunningServer>(
  options: ServerFixtureOptions,
  start: (configPath: string | undefined) => Promise<S>,
): ServerFixture<S> {
  const clients = new Clients();
  let server: S | undefined;
  let configDir: string | undefined;
  let configPath = '';
  const fixture: ServerFixture<S> = {
    get server(): S {
      if (server === undefined) throw new Error('the server is not running (it starts in beforeAll)');
      return server;
    },
    get configPath(): string {
      return configPath;
    },
    writeConfig: (content) => writeConfigFile(configPath, content),
    connect: (port) => clients.connect(port ?? fixture.server.port),
    track: (c) => clients.track(c),
  };
  beforeAll(async () => {
    if (options.config !== undefined) {
      configDir = mkdtempSync(join(tmpdir(), options.tmpPrefix ?? 'siberite-config-'));
      configPath = join(configDir, 'config.json');
      writeConfigFile(configPath, options.config);
    }
    server = await start(configDir === undefined ? undefined : configPath);
  });
  afterAll(async () => {
    clients.closeAll();
    const code = await server?.stop();
    server?.cleanup();
    if (configDir !== undefined) rmSync(configDir, { recursive: true, force: true });
    if (options.expectCleanExit) expect(code).toBe(0);
  });
  return fixture;
}

/** A connection of its own for looking at the server (`stats`, `dump_stats`), apart from the tests' clients. */
export interface Admin {
  /** Sends `text` on the admin connection and reads one reply. */
  call(text: string): Promise<string>;
  /** One stat's value from `stats`, or undefined when it is not listed. */
  stat(name: string): Promise<string | undefined>;
  /** Polls a stat until it has the wanted value (bounded: ~5 s); there is no event to wait on. */
  waitStat(name: string, want: string): Promise<void>;
}

/** Opens the admin connection to `fx`'s server in beforeAll (closed with the fixture's clients). */
export function useAdmin(fx: Pick<ServerFixture<unknown>, 'connect'>): Admin {
  let admin: TextClient | undefined;
  beforeAll(async () => {
    admin = await fx.connect();
  });
  const client = (): TextClient => {
    if (admin === undefined) throw new Error('the admin connection is not open (it opens in beforeAll)');
    return admin;
  };
  return {
    call: (text) => client().call(text),
    stat: (name) => statOf(client(), name),
    waitStat: async (name, want) => {
      await waitForStat(client(), name, want, { tries: 500, intervalMs: 10 });
    },
  };
}

/** Starts a server for withOwnServer's body; the first on a new data directory, the next ones on the same. */
export type StartOnOwnData<O = Omit<StartOptions, 'dataDir'>, S = ServerHandle> = (options?: O) => Promise<S>;

/**
 * Runs `body` with servers of its own, all on one data directory: the first `start` creates it,
 * each later one is a restart on it. Afterwards every server started is stopped (SIGTERM, if it
 * still runs) and the directory removed, whatever happened.
 */
export async function withOwnServer(body: (start: StartOnOwnData) => Promise<void>): Promise<void> {
  await withOwnServerFrom((options: Omit<StartOptions, 'dataDir'> = {}, dataDir) => startServer({ ...options, dataDir }), body);
}

/** withOwnServer with servers made by `start`, given their options and the shared data directory (after the first). */
export async function withOwnServerFrom<O, S extends RunningServer & { readonly dataDir: string }>(
  start: (options: O | undefined, dataDir: string | undefined) => Promise<S>,
  body: (start: StartOnOwnData<O, S>) => Promise<void>,
): Promise<void> {
  const started: S[] = [];
  try {
    await body(async (options) => {
      const s = await start(options, started[0]?.dataDir);
      started.push(s);
      return s;
    });
  } finally {
    for (const s of [...started].reverse()) await s.stop();
    started[0]?.cleanup();
  }
}

/** Unique queue names for one file: `<prefix><n>_<time>`, `defaultPrefix` unless given. */
export function queueNamer(defaultPrefix: string): (prefix?: string) => string {
  let seq = 0;
  return (prefix = defaultPrefix) => `${prefix}${++seq}_${Date.now().toString(36)}`;
}

/** Sets every value (pipelined, one write) and expects STORED for each. */
export async function fill(c: TextClient, queue: string, values: string[], flags = 0): Promise<void> {
  c.send(Buffer.concat(values.map((v) => setCmd(queue, v, flags))));
  for (let i = 0; i < values.length; i++) expect(await c.readReply()).toBe('STORED\r\n');
}

/**
 * Reads through `key` with plain gets until END; returns the data of every item, each of which
 * must come from `queue` (bounded: more than `limit` items is an error).
 */
export async function drain(c: TextClient, key: string, queue = key, limit = 50): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < limit; i++) {
    const reply = await c.call(`get ${key}\r\n`);
    if (reply === END) return out;
    const m = /^VALUE (\S+) \d+ (\d+)\r\n/.exec(reply);
    if (!m || m[1] !== queue) throw new Error(`unexpected reply ${JSON.stringify(reply)}`);
    out.push(reply.slice(m[0].length, m[0].length + Number(m[2])));
  }
  throw new Error(`more than ${limit} items through ${key}`);
}

/** The write-ahead log's segment files under a data directory (none when it has no log). */
export function walSegments(dataDir: string): string[] {
  const dir = join(dataDir, 'wal');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.wal')) : [];
}
