// The `siberite import | export | restore` subcommands: flags, progress, summary, exit status
// (0 done, 2 refused with a one-line reason, 1 an unexpected failure).
import { createReadStream } from 'node:fs';
import { type Readable } from 'node:stream';
import yargs from 'yargs';
import { limitHeapGrowth } from '../memory.js';
import { openDataDir } from '../store/portable.js';
import { VERSION } from '../version.js';
import { PortabilityError } from './errors.js';
import { exportBackup } from './exportBackup.js';
import { fetchExport, readAdminToken } from './exportHttp.js';
import { importGo } from './importGo.js';
import { Progress } from './progress.js';
import { restoreBackup } from './restore.js';
import { exportSummary, importSummary, restoreSummary } from './summary.js';

export const PORTABILITY_COMMANDS = ['import', 'export', 'restore'] as const;
export type PortabilityCommand = (typeof PORTABILITY_COMMANDS)[number];

const USAGE: Record<PortabilityCommand, string> = {
  import: 'siberite import -from OLD_DIR -data DIR [-merge]   (a stopped Go Siberite 0.6 directory → a stopped DIR)',
  export: 'siberite export (-data DIR | -admin HOST:PORT [-admin-token-file FILE]) [-queue NAME …] > backup.jsonl',
  restore: 'siberite restore -data DIR [-merge] [-in backup.jsonl] < backup.jsonl',
};

function parse(command: PortabilityCommand, args: string[]) {
  return yargs(args)
    .scriptName(`siberite ${command}`)
    .usage(USAGE[command])
    .parserConfiguration({ 'short-option-groups': false, 'camel-case-expansion': false })
    .version(false)
    .option('data', { type: 'string', describe: 'data directory of this server (stopped)' })
    .option('from', { type: 'string', describe: 'import: the Go Siberite data directory (read only)' })
    .option('merge', { type: 'boolean', default: false, describe: 'append after the items of queues that already exist' })
    .option('queue', { type: 'string', array: true, describe: 'export: only these queues' })
    .option('admin', { type: 'string', describe: "export: a running server's admin address host:port" })
    .option('admin-token-file', {
      type: 'string',
      describe: "export -admin: file holding the admin port's bearer token (needed off loopback)",
    })
    .option('in', { type: 'string', describe: 'restore: read the backup from this file instead of stdin' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress (the summary is still printed)' })
    .strict()
    .help('help')
    .fail((msg, err) => {
      throw new PortabilityError(`${(msg || err?.message || 'bad arguments').replace(/\s*\n\s*/g, ' ')}\nusage: ${USAGE[command]}`);
    })
    .parseSync();
}

function need(value: string | undefined, flag: string, command: PortabilityCommand): string {
  if (!value) throw new PortabilityError(`${command} needs -${flag}\nusage: ${USAGE[command]}`);
  return value;
}

/** Ctrl-C or a stop abandons an import or restore cleanly (the target left as it was). */
function interruptSignal(): AbortSignal {
  const interrupt = new AbortController();
  const stop = () => interrupt.abort();
  process.once('SIGINT', stop).once('SIGTERM', stop);
  return interrupt.signal;
}

/** Runs one subcommand; returns the exit status. */
export async function runPortability(command: PortabilityCommand, args: string[]): Promise<number> {
  limitHeapGrowth(); // as the server: garbage strings of a long run are collected sooner
  try {
    const argv = parse(command, args);
    const progress = new Progress(command, process.stderr, { quiet: argv.quiet });
    const started = Date.now();
    if (command === 'import') {
      const from = need(argv.from, 'from', command);
      const data = need(argv.data, 'data', command);
      const result = await importGo({ from, data, merge: argv.merge, progress, signal: interruptSignal() });
      progress.finish();
      process.stdout.write(`${importSummary(result, from, data, Date.now() - started)}\n`);
    } else if (command === 'restore') {
      const data = need(argv.data, 'data', command);
      const input: Readable = argv.in ? createReadStream(argv.in) : process.stdin;
      const result = await restoreBackup(input, data, { merge: argv.merge, progress, signal: interruptSignal() });
      progress.finish();
      process.stdout.write(`${restoreSummary(result, data, Date.now() - started)}\n`);
    } else {
      const queues = argv.queue ?? [];
      if (argv.admin) {
        if (argv.data) throw new PortabilityError('export takes -data or -admin, not both');
        const tokenFile = argv['admin-token-file'];
        const counts = await fetchExport(
          argv.admin,
          queues,
          process.stdout,
          tokenFile === undefined ? undefined : readAdminToken(tokenFile),
        );
        process.stderr.write(`${exportSummary(counts, `server at ${argv.admin}`, Date.now() - started)}\n`);
      } else {
        const data = need(argv.data, 'data', command);
        const db = await openDataDir(data, false, 'export from the server with -admin HOST:PORT, or stop it first');
        try {
          const counts = await exportBackup(db, process.stdout, {
            queues,
            source: { kind: 'data-dir', path: data, server: `siberite ${VERSION}` },
            onStart: (items) => progress.setTotal(items),
            onProgress: (items, bytes) => progress.set(items, bytes),
          });
          progress.finish();
          process.stderr.write(`${exportSummary(counts, data, Date.now() - started)}\n`);
        } finally {
          await db.close();
        }
      }
    }
    return 0;
  } catch (err) {
    const nl = process.stderr.isTTY ? '\n' : ''; // off the progress bar's line
    if (err instanceof PortabilityError) {
      process.stderr.write(`${nl}siberite ${command}: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`${nl}siberite ${command} failed: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}
