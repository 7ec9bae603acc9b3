// The `siberite` command: flags, logging, PID file, signals. Started by bin/siberite (npm's "bin"
// and "start", the Docker image), which sets the runtime tuning: malloc settings and a node flag,
// defined there only. `node dist/src/cli.js` runs the same server, with more resident memory
// (docs/benchmarks.md#runtime-tuning).
import { mkdirSync, rmSync, writeFileSync, accessSync, constants } from 'node:fs';
import { type Logger, pino } from 'pino';
import yargs from 'yargs';
import { DEFAULT_METRICS_MAX_QUEUES } from './admin/defaults.js';
import { type AdminConfig, type FsyncMode, defaultServerQueueConfig, parseListen, type ServerQueueConfig } from './config.js';
import { MAX_TIMER_MS, loadConfigFile, parseDuration } from './configFile.js';
import { canTrimHeap, limitHeapGrowth } from './memory.js';
import { SiberiteServer } from './server.js';
import { DEFAULT_MAX_INPUT_BYTES, defaultMaxConnections, raiseFileLimit } from './limits.js';
import { repairCommand } from './repairCommand.js';
import { loadAdminToken } from './security/adminToken.js';
import { LogDamageError } from './store/walRead.js';
import { type SecuritySetup, securityFlags, loadSecurityFromFlags, exposureWarnings } from './security/flags.js';
import { VERSION } from './version.js';

/** The server's flags (the security flags are src/security's). */
const FLAGS = {
  listen: { type: 'string', default: '127.0.0.1:22133', describe: 'address to listen on (host:port)' },
  data: { type: 'string', default: './data', describe: 'data directory (LevelDB)' },
  pid: { type: 'string', describe: 'write the process id to this file' },
  config: { type: 'string', describe: 'JSON configuration file (queue options)' },
  fsync: { type: 'string', default: 'never', describe: 'never | always | <ms>' },
  'log-level': { type: 'string', default: 'info', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
  'value-key': {
    type: 'string',
    default: 'queue',
    choices: ['queue', 'full'],
    describe: 'VALUE lines name the queue, or echo the full key',
  },
  'allow-shutdown': { type: 'boolean', default: false, describe: 'accept the shutdown command' },
  'max-connections': {
    type: 'number',
    describe: "refuse connections beyond this (default: the descriptor limit less the store's share)",
  },
  'idle-timeout': { type: 'string', default: '0', describe: 'close connections idle this long (e.g. 300s); 0 = never' },
  'max-input-bytes': {
    type: 'number',
    default: DEFAULT_MAX_INPUT_BYTES,
    describe: 'bytes of values still arriving over all connections; a connection past it is refused',
  },
  admin: { type: 'string', describe: 'admin HTTP server (metrics, probes, dashboard) on host:port; off unless given' },
  'admin-token-file': {
    type: 'string',
    describe: 'file holding the bearer token the admin port requires off loopback (mode 600)',
  },
  'metrics-max-queues': {
    type: 'number',
    default: DEFAULT_METRICS_MAX_QUEUES,
    describe: 'per-queue metric series: the deepest N, the rest as queue="_other"',
  },
  version: { type: 'boolean', describe: 'print the version and exit' },
} as const;

function fail(message: string): never {
  process.stderr.write(`siberite: ${message}\n`);
  process.exit(2);
}

/** `produce()`, or the command fails with the message of what it threw. */
function orFail<T>(produce: () => T): T {
  try {
    return produce();
  } catch (err) {
    fail((err as Error).message);
  }
}

/** `-admin host:port` (same forms as -listen) and `-metrics-max-queues N`. */
function parseAdmin(value: string, maxQueues: number): AdminConfig {
  if (!Number.isInteger(maxQueues) || maxQueues < 0 || maxQueues > 100_000)
    throw new Error(`bad -metrics-max-queues "${maxQueues}" (want an integer from 0 to 100000)`);
  try {
    return { ...parseListen(value), metricsMaxQueues: maxQueues };
  } catch {
    throw new Error(`bad -admin address "${value}" (want host:port)`);
  }
}

function parseFsync(value: string): FsyncMode {
  if (value === 'never' || value === 'always') return value;
  return parseDuration(value, '-fsync', { max: MAX_TIMER_MS });
}

function parseFlags(args: string[]) {
  return (
    yargs(args)
      .scriptName('siberite')
      .usage('$0 -listen host:port -data dir [options]')
      // Single-dash long flags, as Siberite users type them: `-listen` is one flag.
      .parserConfiguration({ 'short-option-groups': false, 'camel-case-expansion': false })
      .version(false)
      .options(FLAGS)
      .options(securityFlags)
      .strict()
      .help('help')
      .fail((msg, err) => fail((msg || err?.message || 'bad arguments').replace(/\s*\n\s*/g, ' ')))
      .parseSync()
  );
}

type Flags = ReturnType<typeof parseFlags>;

/** What the flags say of the server's address, durability, limits and admin port, checked. */
interface Settings {
  listen: { host: string; port: number };
  fsync: FsyncMode;
  idleTimeoutMs: number;
  admin: AdminConfig | undefined;
  maxConnections: number | undefined;
  maxInputBytes: number;
}

function checkSettings(argv: Flags): Settings {
  const parsed = orFail(() => {
    const listen = parseListen(argv.listen);
    const fsync = parseFsync(argv.fsync);
    const admin = argv.admin === undefined ? undefined : parseAdmin(argv.admin, argv['metrics-max-queues']);
    if (admin && argv['admin-token-file'] !== undefined) admin.token = loadAdminToken(argv['admin-token-file']);
    const idleTimeoutMs = parseDuration(argv['idle-timeout'], '-idle-timeout', { min: 0, max: MAX_TIMER_MS });
    return { listen, fsync, admin, idleTimeoutMs };
  });
  const maxConnections = argv['max-connections'];
  if (maxConnections !== undefined && !(Number.isInteger(maxConnections) && maxConnections > 0))
    fail('-max-connections must be a whole number > 0');
  const maxInputBytes = argv['max-input-bytes'];
  if (!(Number.isInteger(maxInputBytes) && maxInputBytes > 0)) fail('-max-input-bytes must be a whole number > 0');
  return { ...parsed, maxConnections, maxInputBytes };
}

function checkDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true });
    accessSync(dataDir, constants.R_OK | constants.W_OK);
  } catch (err) {
    fail(`data directory ${dataDir} is not usable: ${(err as Error).message}`);
  }
}

/** Stopping and reloading the running server: signals, and the shutdown and reload commands. */
class ServerControl {
  server: SiberiteServer | undefined;
  private stopping = false;

  constructor(
    private readonly log: Logger,
    private readonly pidFile: string | undefined,
    private readonly configPath: string | undefined,
    private readonly security: SecuritySetup,
  ) {}

  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info({ reason }, 'shutting down');
    try {
      await this.server!.stop();
      if (this.pidFile) rmSync(this.pidFile, { force: true });
      this.log.info('stopped');
      this.log.flush();
      process.exit(0);
    } catch (err) {
      this.log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  }

  /** Reloads the auth file, certificates and queue configuration: the first error, or null. */
  async reload(): Promise<string | null> {
    const securityError = this.security.security?.reload() ?? null;
    if (!this.configPath) return securityError;
    return this.server!.reloadConfigFile(this.configPath) ?? securityError;
  }
}

/** Why the server did not start, said so an operator knows what to do; the command fails. */
function startFailed(err: unknown, dataDir: string, log: Logger): never {
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

/** Everything checked and loaded before the server starts. */
interface Startup {
  argv: Flags;
  settings: Settings;
  fileLimit: ReturnType<typeof raiseFileLimit>;
  maxConnections: number;
  log: Logger;
  queueConfig: ServerQueueConfig;
  securitySetup: SecuritySetup;
  dataDir: string;
}

/** Checks the flags and loads what they name, in the order an operator's mistakes are reported. */
function prepare(argv: Flags): Startup {
  const settings = checkSettings(argv);
  const fileLimit = raiseFileLimit();
  const maxConnections = settings.maxConnections ?? defaultMaxConnections(fileLimit);
  const log = pino({ level: argv['log-level'], base: { pid: process.pid } });
  const configPath = argv.config;
  const queueConfig = configPath ? orFail(() => loadConfigFile(configPath)) : defaultServerQueueConfig();
  // Security hook (src/security): -auth-file, -auth-timeout, -tls-listen/-cert/-key/-ca.
  const securitySetup = orFail(() => loadSecurityFromFlags(argv, log));
  const dataDir = argv.data;
  checkDataDir(dataDir);
  return { argv, settings, fileLimit, maxConnections, log, queueConfig, securitySetup, dataDir };
}

function startServer(startup: Startup, control: ServerControl): Promise<SiberiteServer> {
  const { argv, settings, log, dataDir } = startup;
  return SiberiteServer.start({
    host: settings.listen.host,
    port: settings.listen.port,
    dataDir,
    fsync: settings.fsync,
    valueKey: argv['value-key'] as 'queue' | 'full',
    allowShutdown: argv['allow-shutdown'],
    queueConfig: startup.queueConfig,
    maxConnections: startup.maxConnections,
    idleTimeoutMs: settings.idleTimeoutMs,
    maxInputBytes: settings.maxInputBytes,
    admin: settings.admin,
    log,
    reload: () => control.reload(),
    onShutdown: () => void control.stop('shutdown command'),
    ...startup.securitySetup,
  }).catch((err: unknown) => startFailed(err, dataDir, log));
}

/** The warnings an exposed server deserves, then the line that says it listens. */
function announce(server: SiberiteServer, startup: Startup): void {
  const { log, securitySetup } = startup;
  const addr = server.address();
  const adminAddr = server.admin?.address();
  const tlsAddr = server.tlsAddress();
  for (const warning of exposureWarnings(addr.address, tlsAddr?.address, securitySetup)) log.warn(warning);
  log.info(
    {
      listen: `${addr.address}:${addr.port}`,
      admin: adminAddr && `${adminAddr.address}:${adminAddr.port}`,
      ...(tlsAddr && { tls: `${tlsAddr.address}:${tlsAddr.port}` }),
      auth: securitySetup.security?.authEnabled ?? false,
      data: startup.dataDir,
      queues: server.manager.queues.size,
      recovered: server.manager.store.recovered,
      heapTrim: canTrimHeap,
      fsync: startup.settings.fsync,
      maxConnections: startup.maxConnections,
      fileLimit: startup.fileLimit?.soft,
      version: VERSION,
    },
    'siberite listening',
  );
}

async function main(): Promise<void> {
  const argv = parseFlags(process.argv.slice(2));
  if (argv.version) {
    process.stdout.write(`siberite ${VERSION}\n`);
    return;
  }
  const startup = prepare(argv);
  const control = new ServerControl(startup.log, argv.pid, argv.config, startup.securitySetup);
  const server = await startServer(startup, control);
  control.server = server;
  // Only once loaded: with a small growing factor, start-up with 100,000 queues spent most of
  // its time collecting garbage.
  limitHeapGrowth();
  if (argv.pid) writeFileSync(argv.pid, `${process.pid}\n`);
  // Before the line that says the server listens: a SIGTERM right after it stops gracefully.
  process.on('SIGTERM', () => void control.stop('SIGTERM'));
  process.on('SIGINT', () => void control.stop('SIGINT'));
  process.on('SIGHUP', () => void control.reload());
  announce(server, startup);
}

/** `siberite import|export|restore …`: data portability (src/portability/). exitCode, not exit(): stdout must drain. */
async function portability(sub: 'import' | 'export' | 'restore'): Promise<void> {
  const { runPortability } = await import('./portability/cli.js');
  process.exitCode = await runPortability(sub, process.argv.slice(3));
}

const sub = process.argv[2];
if (sub === 'import' || sub === 'export' || sub === 'restore') void portability(sub);
else if (sub === 'repair') void repairCommand(process.argv.slice(3)).then((code) => process.exit(code));
else void main();
