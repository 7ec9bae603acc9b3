// The `siberite` command: flags, logging, PID file, signals. Started by bin/siberite (npm's "bin"
// and "start", the Docker image), which sets the runtime tuning: malloc settings and a node flag,
// defined there only. `node dist/src/cli.js` runs the same server, with more resident memory
// (docs/benchmarks.md#runtime-tuning).
import { mkdirSync, rmSync, writeFileSync, accessSync, constants } from 'node:fs';
import { pino } from 'pino';
import yargs from 'yargs';
import { DEFAULT_METRICS_MAX_QUEUES } from './admin/server.js';
import {
  type AdminConfig,
  DEFAULT_MAX_ITEM_SIZE,
  type FsyncMode,
  defaultServerQueueConfig,
  parseListen,
  type ServerQueueConfig,
} from './config.js';
import { MAX_TIMER_MS, loadConfigFile, parseDuration } from './configFile.js';
import { canTrimHeap, limitHeapGrowth } from './memory.js';
import { SiberiteServer } from './server.js';
import { defaultMaxConnections, raiseFileLimit } from './limits.js';
import { repairCommand } from './repairCommand.js';
import { loadAdminToken } from './security/adminToken.js';
import { LogDamageError } from './store/walRead.js';
import { securityFlags, loadSecurityFromFlags, exposureWarnings } from './security/flags.js';
import { VERSION } from './version.js';

function fail(message: string): never {
  process.stderr.write(`siberite: ${message}\n`);
  process.exit(2);
}

/** `-admin host:port` (same forms as -listen) and `-metrics-max-queues N`. */
export function parseAdmin(value: string, maxQueues: number): AdminConfig {
  if (!Number.isInteger(maxQueues) || maxQueues < 0 || maxQueues > 100_000)
    throw new Error(`bad -metrics-max-queues "${maxQueues}" (want an integer from 0 to 100000)`);
  try {
    return { ...parseListen(value), metricsMaxQueues: maxQueues };
  } catch {
    throw new Error(`bad -admin address "${value}" (want host:port)`);
  }
}

export function parseFsync(value: string): FsyncMode {
  if (value === 'never' || value === 'always') return value;
  return parseDuration(value, '-fsync', { max: MAX_TIMER_MS });
}

async function main(): Promise<void> {
  const argv = yargs(process.argv.slice(2))
    .scriptName('siberite')
    .usage('$0 -listen host:port -data dir [options]')
    // Single-dash long flags, as Siberite users type them: `-listen` is one flag.
    .parserConfiguration({ 'short-option-groups': false, 'camel-case-expansion': false })
    .version(false)
    .option('listen', { type: 'string', default: '127.0.0.1:22133', describe: 'address to listen on (host:port)' })
    .option('data', { type: 'string', default: './data', describe: 'data directory (LevelDB)' })
    .option('pid', { type: 'string', describe: 'write the process id to this file' })
    .option('config', { type: 'string', describe: 'JSON configuration file (queue options)' })
    .option('fsync', { type: 'string', default: 'never', describe: 'never | always | <ms>' })
    .option('log-level', { type: 'string', default: 'info', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] })
    .option('value-key', {
      type: 'string',
      default: 'queue',
      choices: ['queue', 'full'],
      describe: 'VALUE lines name the queue, or echo the full key',
    })
    .option('allow-shutdown', { type: 'boolean', default: false, describe: 'accept the shutdown command' })
    .option('max-connections', {
      type: 'number',
      describe: "refuse connections beyond this (default: the descriptor limit less the store's share)",
    })
    .option('idle-timeout', { type: 'string', default: '0', describe: 'close connections idle this long (e.g. 300s); 0 = never' })
    .option('max-input-bytes', {
      type: 'number',
      default: MAX_INPUT_BYTES,
      describe: 'bytes of values still arriving over all connections; a connection past it is refused',
    })
    .option('admin', { type: 'string', describe: 'admin HTTP server (metrics, probes, dashboard) on host:port; off unless given' })
    .option('admin-token-file', {
      type: 'string',
      describe: 'file holding the bearer token the admin port requires off loopback (mode 600)',
    })
    .option('metrics-max-queues', {
      type: 'number',
      default: DEFAULT_METRICS_MAX_QUEUES,
      describe: 'per-queue metric series: the deepest N, the rest as queue="_other"',
    })
    .option('version', { type: 'boolean', describe: 'print the version and exit' })
    .options(securityFlags)
    .strict()
    .help('help')
    .fail((msg, err) => fail((msg || err?.message || 'bad arguments').replace(/\s*\n\s*/g, ' ')))
    .parseSync();

  if (argv.version) {
    process.stdout.write(`siberite ${VERSION}\n`);
    return;
  }
  let listen: { host: string; port: number };
  let fsync: FsyncMode;
  let idleTimeoutMs: number;
  let admin: AdminConfig | undefined;
  try {
    listen = parseListen(argv.listen);
    fsync = parseFsync(argv.fsync);
    admin = argv.admin === undefined ? undefined : parseAdmin(argv.admin, argv['metrics-max-queues']);
    if (admin && argv['admin-token-file'] !== undefined) admin.token = loadAdminToken(argv['admin-token-file']);
    idleTimeoutMs = parseDuration(argv['idle-timeout'], '-idle-timeout', { min: 0, max: MAX_TIMER_MS });
  } catch (err) {
    fail((err as Error).message);
  }
  const maxConnections = argv['max-connections'];
  if (maxConnections !== undefined && !(Number.isInteger(maxConnections) && maxConnections > 0))
    fail('-max-connections must be a whole number > 0');
  const maxInputBytes = argv['max-input-bytes'];
  if (!(Number.isInteger(maxInputBytes) && maxInputBytes > 0)) fail('-max-input-bytes must be a whole number > 0');
  const fileLimit = raiseFileLimit();

  const log = pino({ level: argv['log-level'], base: { pid: process.pid } });
  const configPath = argv.config;
  let queueConfig: ServerQueueConfig = defaultServerQueueConfig();
  if (configPath) {
    try {
      queueConfig = loadConfigFile(configPath);
    } catch (err) {
      fail((err as Error).message);
    }
  }

  // Security hook (src/security): -auth-file, -auth-timeout, -tls-listen/-cert/-key/-ca.
  let securitySetup: ReturnType<typeof loadSecurityFromFlags>;
  try {
    securitySetup = loadSecurityFromFlags(argv, log);
  } catch (err) {
    fail((err as Error).message);
  }

  const dataDir = argv.data;
  try {
    mkdirSync(dataDir, { recursive: true });
    accessSync(dataDir, constants.R_OK | constants.W_OK);
  } catch (err) {
    fail(`data directory ${dataDir} is not usable: ${(err as Error).message}`);
  }

  let server: SiberiteServer;
  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'shutting down');
    try {
      await server.stop();
      if (argv.pid) rmSync(argv.pid, { force: true });
      log.info('stopped');
      log.flush();
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  const reload = async (): Promise<string | null> => {
    const securityError = securitySetup.security?.reload() ?? null; // auth file and certificates
    if (!configPath) return securityError;
    try {
      server.reconfigure(loadConfigFile(configPath));
      log.info({ config: configPath }, 'configuration reloaded');
      return securityError;
    } catch (err) {
      log.error({ err }, 'reload failed');
      return (err as Error).message;
    }
  };

  try {
    server = await SiberiteServer.start({
      host: listen.host,
      port: listen.port,
      dataDir,
      fsync,
      valueKey: argv['value-key'] as 'queue' | 'full',
      allowShutdown: argv['allow-shutdown'],
      queueConfig,
      maxConnections: maxConnections ?? defaultMaxConnections(fileLimit),
      idleTimeoutMs,
      maxInputBytes: Math.max(maxInputBytes, 2 * DEFAULT_MAX_ITEM_SIZE),
      admin,
      log,
      reload,
      onShutdown: () => void stop('shutdown command'),
      ...securitySetup,
    });
  } catch (err) {
    if (err instanceof LogDamageError) {
      log.fatal({ file: err.file, offset: err.offset, reason: err.reason }, 'write-ahead log damaged');
      fail(
        `cannot start: ${err.message}. Nothing was changed. Copy the data directory aside, then run \`siberite repair -data ${dataDir}\` to keep every valid record (it reports what it skips); see docs/durability.md`,
      );
    }
    const e = err as Error & { code?: string; cause?: Error };
    const reason = e.code === 'LEVEL_DATABASE_NOT_OPEN' && e.cause ? e.cause.message : e.message;
    if (/\block\b/.test(reason)) fail(`cannot start: data directory ${dataDir} is in use by another process (${reason})`);
    fail(`cannot start: ${reason}`);
  }
  // Only once loaded: with a small growing factor, start-up with 100,000 queues spent most of
  // its time collecting garbage.
  limitHeapGrowth();
  if (argv.pid) writeFileSync(argv.pid, `${process.pid}\n`);
  const addr = server.address();
  const adminAddr = server.admin?.address();
  const tlsAddr = server.tlsAddress();
  for (const warning of exposureWarnings(addr.address, tlsAddr?.address, securitySetup)) log.warn(warning);
  // Before the line that says the server listens: a SIGTERM right after it stops gracefully.
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => void reload());
  log.info(
    {
      listen: `${addr.address}:${addr.port}`,
      admin: adminAddr && `${adminAddr.address}:${adminAddr.port}`,
      ...(tlsAddr && { tls: `${tlsAddr.address}:${tlsAddr.port}` }),
      auth: securitySetup.security?.authEnabled ?? false,
      data: dataDir,
      queues: server.manager.queues.size,
      recovered: server.manager.store.recovered,
      heapTrim: canTrimHeap,
      fsync,
      maxConnections: maxConnections ?? defaultMaxConnections(fileLimit),
      fileLimit: fileLimit?.soft,
      version: VERSION,
    },
    'siberite listening',
  );
}

/** Bytes of values arriving at once, over all connections (at least two of the largest item). */
const MAX_INPUT_BYTES = 128 * 1024 * 1024;

/** `siberite import|export|restore …`: data portability (src/portability/). exitCode, not exit(): stdout must drain. */
async function portability(sub: 'import' | 'export' | 'restore'): Promise<void> {
  const { runPortability } = await import('./portability/cli.js');
  process.exitCode = await runPortability(sub, process.argv.slice(3));
}

const sub = process.argv[2];
if (sub === 'import' || sub === 'export' || sub === 'restore') void portability(sub);
else if (process.argv[2] === 'repair') void repairCommand(process.argv.slice(3)).then((code) => process.exit(code));
else void main();
