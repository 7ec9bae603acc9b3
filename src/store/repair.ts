// `siberite repair -data DIR`: salvage what can be trusted from a damaged data directory, and say
// exactly what could not be. Run on a stopped server (LevelDB's lock refuses a running one).
import * as path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { type BatchOp, WAL_SEQ_KEY, decodeRecord, decodeSeq, encodeSeq, idFromKey, prefixRange, queueOfItemKey } from './layout.js';
import { removeLog } from './wal.js';
import { type Skipped, salvageLog } from './walRead.js';

export interface RepairReport {
  /** LevelDB itself could not be opened and was rebuilt by LevelDB's repairer. */
  levelRepaired: boolean;
  /** Log records applied to LevelDB (those it lacked). */
  applied: number;
  /** Log records already in LevelDB. */
  alreadyApplied: number;
  /** Byte ranges of the log that held no valid record. */
  skipped: Skipped[];
  /** Sequence numbers missing between the records kept: [first missing, last missing]. */
  missing: Array<[number, number]>;
  /** Item records whose checksum fails: the server drops and reports them when it reaches them. */
  damagedItems: Array<{ queue: string; id: number }>;
  itemsChecked: number;
}

const APPLY_BYTES = 4 * 1024 * 1024;

export async function repairDataDir(dataDir: string): Promise<RepairReport> {
  const report: RepairReport = {
    levelRepaired: false,
    applied: 0,
    alreadyApplied: 0,
    skipped: [],
    missing: [],
    damagedItems: [],
    itemsChecked: 0,
  };
  let db = new ClassicLevel<Buffer, Buffer>(dataDir, { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing: false });
  try {
    await db.open();
  } catch (err) {
    if (/lock/i.test(String((err as { cause?: Error }).cause ?? err))) throw err; // a server runs here
    // Damaged beyond opening (a table or the manifest): LevelDB's own repairer rebuilds it from
    // every table and log it can read.
    await ClassicLevel.repair(dataDir);
    report.levelRepaired = true;
    db = new ClassicLevel<Buffer, Buffer>(dataDir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
  }
  try {
    await applySalvagedLog(db, path.join(dataDir, 'wal'), report);
    await checkItems(db, report);
  } finally {
    await db.close();
  }
  return report;
}

async function applySalvagedLog(db: ClassicLevel<Buffer, Buffer>, walDir: string, report: RepairReport): Promise<void> {
  const { records, skipped } = salvageLog(walDir);
  report.skipped = skipped;
  for (let i = 1; i < records.length; i++) {
    const prev = records[i - 1]!.seq;
    const seq = records[i]!.seq;
    if (seq !== prev + 1) report.missing.push([prev + 1, seq - 1]);
  }
  let appliedSeq = decodeSeq(await db.get(WAL_SEQ_KEY));
  let ops: BatchOp[] = [];
  let bytes = 0;
  const write = async () => {
    ops.push({ type: 'put', key: WAL_SEQ_KEY, value: encodeSeq(appliedSeq) });
    await db.batch(ops, { sync: true });
    ops = [];
    bytes = 0;
  };
  for (const record of records) {
    if (record.seq <= appliedSeq) {
      report.alreadyApplied++;
      continue;
    }
    for (const op of record.ops) {
      ops.push(op);
      bytes += op.key.length + (op.type === 'put' ? op.value.length : 0);
    }
    appliedSeq = record.seq;
    report.applied++;
    if (bytes >= APPLY_BYTES) await write();
  }
  await write();
  // Everything valid is in LevelDB (fsynced): the next start begins a new, clean log.
  removeLog(walDir);
}

async function checkItems(db: ClassicLevel<Buffer, Buffer>, report: RepairReport): Promise<void> {
  for await (const [key, value] of db.iterator(prefixRange('i/'))) {
    report.itemsChecked++;
    const id = idFromKey(key);
    if (decodeRecord(id, value).damaged) report.damagedItems.push({ queue: queueOfItemKey(key), id });
  }
}
