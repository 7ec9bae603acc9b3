// Start-up: apply the write-ahead log records that LevelDB lacks.
import { type ClassicLevel } from 'classic-level';
import { type BatchOp, WAL_SEQ_KEY, decodeSeq, encodeSeq } from './layout.js';
import { type TornTail, readLog } from './walRead.js';

/** Start-up replays the log into LevelDB in writes of about this many bytes. */
const REPLAY_BYTES = 4 * 1024 * 1024;

/**
 * Applies the log records LevelDB lacks (those after the sequence number it records), fsynced
 * before the log files may go. Returns where LevelDB now stands and the last record seen. A
 * damaged log throws before anything is applied only if the damage comes first; records before
 * the damage are applied either way, which is safe: they were acknowledged, in order.
 */
export async function replayLog(
  db: ClassicLevel<Buffer, Buffer>,
  dir: string,
  onTornTail?: (tail: TornTail) => void,
): Promise<{ appliedSeq: number; lastSeq: number; recovered: number }> {
  let appliedSeq = decodeSeq(await db.get(WAL_SEQ_KEY));
  let lastSeq = appliedSeq;
  let recovered = 0;
  let ops: BatchOp[] = [];
  let bytes = 0;
  const write = async (sync: boolean) => {
    ops.push({ type: 'put', key: WAL_SEQ_KEY, value: encodeSeq(appliedSeq) });
    await db.batch(ops, { sync });
    ops = [];
    bytes = 0;
  };
  for (const record of readLog(dir, onTornTail)) {
    lastSeq = Math.max(lastSeq, record.seq);
    if (record.seq <= appliedSeq) continue;
    for (const op of record.ops) {
      ops.push(op);
      bytes += op.key.length + (op.type === 'put' ? op.value.length : 0);
    }
    appliedSeq = record.seq;
    recovered++;
    if (bytes >= REPLAY_BYTES) await write(false);
  }
  if (recovered > 0) await write(true);
  return { appliedSeq, lastSeq, recovered };
}
