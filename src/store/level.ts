// How the store opens LevelDB, and how it names LevelDB's errors to clients and operators.

export const LEVEL_OPTIONS = {
  keyEncoding: 'buffer',
  valueEncoding: 'buffer',
  createIfMissing: true,
  // Queues write once and read once, and tables are read through mmap, which bypasses the
  // block cache: a small one is enough. A small write buffer keeps resident memory low.
  cacheSize: 512 * 1024,
  writeBufferSize: 2 * 1024 * 1024,
  // LevelDB reads table files through mmap, and mapped pages count as resident memory:
  // few open tables of modest size bound that (an evicted table is unmapped). Most tables
  // are memtables written out and moved down whole, so they are writeBufferSize large.
  // (256 KiB tables mapped 20 MB less while draining 1 M × 1 KiB, but cost a third of the
  // throughput with a 1 M backlog: see docs/benchmarks.md.)
  maxOpenFiles: 74, // LevelDB's minimum: 64 tables + 10 other files
  maxFileSize: 512 * 1024,
} as const;

/** Descriptors LevelDB (maxOpenFiles + its log, manifest, lock) and the log may hold at once. */
export const STORE_DESCRIPTORS = LEVEL_OPTIONS.maxOpenFiles + 16;

/** LevelDB reports an errno only as its text, inside a message that also holds a path. */
const ERRNO_TEXTS: Array<[RegExp, string]> = [
  [/No space left on device/i, 'ENOSPC'],
  [/Too many open files/i, 'EMFILE'],
  [/Disk quota exceeded/i, 'EDQUOT'],
  [/Read-only file system/i, 'EROFS'],
  [/Permission denied/i, 'EACCES'],
  [/Input\/output error/i, 'EIO'],
];

/** The code of an I/O error, for replies and logs: never its message, which may hold a path. */
export function errorCode(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; cause?: { message?: unknown } } | null;
  const text = `${String(e?.message ?? '')} ${String(e?.cause?.message ?? '')}`;
  for (const [pattern, code] of ERRNO_TEXTS) if (pattern.test(text)) return code;
  const code = e?.code;
  return typeof code === 'string' && /^[A-Z_0-9]+$/.test(code) ? code : 'EIO';
}
