// Starts the real server from src/ inside the test worker: SiberiteServer with its QueueManager and
// a real Store over LevelDB in a temp directory, on a loopback port, wired as src/cli.ts wires
// them — without what belongs to the process (signals, PID file, descriptor limit, heap tuning).
// For tests that talk to the server over TCP and need no process boundary: no spawn, no build.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { defaultServerQueueConfig, type ServerQueueConfig } from '../../src/config.js';
import { loadConfigFile } from '../../src/configFile.js';
import { DEFAULT_MAX_INPUT_BYTES, defaultMaxConnections, fileLimit } from '../../src/limits.js';
import { type ServerOptions, SiberiteServer } from '../../src/server.js';
import { type ServerFixture, type ServerFixtureOptions, type StartOnOwnData, useServerFrom, withOwnServerFrom } from './fixtures.js';

/** What the caller may set beyond the flags below, as the CLI's flags would. */
export type ServerSettings = Partial<Omit<ServerOptions, 'host' | 'port' | 'dataDir' | 'log' | 'reload' | 'onShutdown'>>;

export interface InProcessOptions {
  /** Reuse a data directory (a restart); a new temp one otherwise. */
  dataDir?: string;
  /** A JSON configuration file, as `-config`: read at start and by `reload`. */
  configPath?: string;
  /** Other server options, e.g. `{ allowShutdown: true }` for `-allow-shutdown`. */
  settings?: ServerSettings;
}

export interface InProcessServer {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** This worker's pid: the server runs in it. */
  readonly pid: number;
  /** The server itself, for tests that look inside. */
  readonly server: SiberiteServer;
  /** null while it runs; then 0 after a clean stop and 1 after a failed one, as the CLI exits. */
  readonly exitCode: number | null;
  /** Every log line the server wrote so far (pino JSON, as the CLI prints them). */
  output(): string;
  /** Stops as SIGTERM does in the CLI (waits for the store to close); resolves to exitCode. */
  stop(): Promise<number | null>;
  /** Removes the data directory (after stop). */
  cleanup(): void;
}

function queueConfigOf(configPath: string | undefined): ServerQueueConfig {
  return configPath === undefined ? defaultServerQueueConfig() : loadConfigFile(configPath);
}

/** Starts a server in this process on 127.0.0.1, port 0; the caller must stop() it. */
export async function startInProcess(options: InProcessOptions = {}): Promise<InProcessServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'siberite-inproc-'));
  let output = '';
  const log = pino({ level: 'info', base: { pid: process.pid } }, { write: (line: string) => void (output += line) });
  let exitCode: number | null = null;
  let stopping: Promise<number | null> | undefined;
  const stop = (): Promise<number | null> => {
    stopping ??= server.stop().then(
      () => (exitCode = 0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        return (exitCode = 1);
      },
    );
    return stopping;
  };
  const { configPath } = options;
  const server: SiberiteServer = await SiberiteServer.start({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    fsync: 'never',
    valueKey: 'queue',
    allowShutdown: false,
    queueConfig: queueConfigOf(configPath),
    maxConnections: defaultMaxConnections(fileLimit()),
    idleTimeoutMs: 0,
    maxInputBytes: DEFAULT_MAX_INPUT_BYTES,
    log,
    reload: async () => (configPath === undefined ? null : server.reloadConfigFile(configPath)),
    onShutdown: () => void stop(),
    ...options.settings,
  });
  return {
    host: '127.0.0.1',
    port: server.address().port,
    dataDir,
    pid: process.pid,
    server,
    get exitCode() {
      return exitCode;
    },
    output: () => output,
    stop,
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

/** useServer (see fixtures.ts) with the file's server in this process. */
export function useInProcessServer(options: ServerFixtureOptions = {}): ServerFixture<InProcessServer> {
  return useServerFrom(options, (configPath) => startInProcess(configPath === undefined ? {} : { configPath }));
}

/** withOwnServer (see fixtures.ts) with its servers in this process: for a fresh server, not for kill -9. */
export async function withOwnInProcessServer(
  body: (start: StartOnOwnData<Omit<InProcessOptions, 'dataDir'>, InProcessServer>) => Promise<void>,
): Promise<void> {
  await withOwnServerFrom((options: Omit<InProcessOptions, 'dataDir'> = {}, dataDir) => startInProcess({ ...options, dataDir }), body);
}
