// `siberite repair -data DIR`: the command-line face of store/repair.ts. Prints what it kept and
// exactly what it skipped; exits 0 when the directory is ready to serve again.
import yargs from 'yargs';
import { repairDataDir } from './store/repair.js';

export async function repairCommand(args: string[]): Promise<number> {
  const argv = yargs(args)
    .scriptName('siberite repair')
    .usage('$0 -data dir  (the server must be stopped)')
    .parserConfiguration({ 'short-option-groups': false, 'camel-case-expansion': false })
    .version(false)
    .option('data', { type: 'string', demandOption: true, describe: 'data directory to repair' })
    .strict()
    .help('help')
    .parseSync();
  const dataDir = argv.data;
  let report;
  try {
    report = await repairDataDir(dataDir);
  } catch (err) {
    const e = err as Error & { cause?: Error };
    const reason = e.cause?.message ?? e.message;
    process.stderr.write(
      /lock/i.test(reason)
        ? `siberite repair: ${dataDir} is in use by a running server: stop it first\n`
        : `siberite repair: cannot repair ${dataDir}: ${reason}\n`,
    );
    return 2;
  }
  const out: string[] = [];
  if (report.levelRepaired) out.push('LevelDB could not be opened: rebuilt by its repairer from every readable table and log');
  out.push(`write-ahead log: ${report.applied} records applied, ${report.alreadyApplied} already in LevelDB`);
  for (const s of report.skipped) out.push(`  skipped ${s.bytes} bytes at ${s.file} offset ${s.offset} (${s.reason})`);
  for (const [from, to] of report.missing) out.push(`  records ${from}${to > from ? `–${to}` : ''} missing: their changes are lost`);
  out.push(`items checked: ${report.itemsChecked}, damaged: ${report.damagedItems.length}`);
  for (const d of report.damagedItems.slice(0, 100))
    out.push(`  damaged item ${d.id} in queue ${JSON.stringify(d.queue)} (the server drops and reports it)`);
  if (report.damagedItems.length > 100) out.push(`  … and ${report.damagedItems.length - 100} more`);
  const lost = report.skipped.length + report.missing.length + report.damagedItems.length;
  out.push(
    lost === 0 ? 'nothing was lost; the server can start' : 'repaired; what is listed above was not recoverable; the server can start',
  );
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
