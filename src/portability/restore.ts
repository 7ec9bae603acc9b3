// Restore: reads a backup (docs/migration.md) line by line into a stopped data directory.
// Every line is checked as it comes (its CRC, its place in the sequence); the trailer's counts
// and SHA-256 at the end. Nothing becomes visible before the whole backup has passed: queue
// metas and cursors are committed last, and a refused backup leaves the directory as it was.
import { type Readable } from 'node:stream';
import { BAD_NAME, isValidName } from '../protocol/keys.js';
import { type PortableItem, PortableWriter, type QueueSink } from '../store/portable.js';
import { type BackupCounts, FORMAT, FORMAT_VERSION, type Line, newHash, parseLine, readLines, zeroCounts } from './backupFormat.js';
import { PortabilityError, lineError } from './errors.js';
import { type Progress } from './progress.js';

export interface RestoreOptions {
  merge: boolean;
  progress?: Progress;
  /** Abandons the restore (nothing written stays). */
  signal?: AbortSignal;
}

export interface RestoreResult {
  counts: BackupCounts;
  queues: Array<{ name: string; items: number; bytes: number; cursors: number; merged: boolean }>;
  /** What was left out, and why (cursors that already exist in the target, with -merge). */
  skipped: string[];
  created: string;
}

type Rec = Record<string, unknown>;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** One queue section being read: its declared counts and what has arrived so far. */
interface Section {
  name: string;
  line: number;
  declared: { items: number; cursors: number; retries: number };
  sink: QueueSink;
  merged: boolean;
  items: number;
  bytes: number;
  cursors: Set<string>;
  /** Cursors whose retries are dropped (they already exist in the target). */
  kept: Set<string>;
  retries: number;
  phase: 'items' | 'cursors' | 'retries';
}

export async function restoreBackup(input: Readable, dir: string, options: RestoreOptions): Promise<RestoreResult> {
  const writer = await PortableWriter.open(dir, options.signal);
  // An interrupt also ends a wait for input (a terminal, a stalled pipe).
  options.signal?.addEventListener('abort', () => input.destroy(new PortabilityError('interrupted: nothing was written')));
  try {
    const result = await readBackup(input, writer, options);
    await writer.commit();
    return result;
  } catch (err) {
    await writer.abort();
    throw err;
  } finally {
    await writer.close();
  }
}

async function readBackup(input: Readable, writer: PortableWriter, options: RestoreOptions): Promise<RestoreResult> {
  const reader = new BackupReader(writer, options);
  for await (const line of readLines(input)) await reader.read(line);
  return reader.finish();
}

/** One restore's reading state: the running hash and counts, the header, the open queue section. */
class BackupReader {
  private readonly hash = newHash();
  private readonly counts = zeroCounts();
  private readonly result: RestoreResult = { counts: this.counts, queues: [], skipped: [], created: '' };
  private header: Rec | undefined;
  private section: Section | undefined;
  private trailerAt = 0;
  private lastLine = 0;

  constructor(
    private readonly writer: PortableWriter,
    private readonly options: RestoreOptions,
  ) {}

  async read({ no, text, raw }: Line): Promise<void> {
    this.lastLine = no;
    if (this.trailerAt) throw lineError(no, `data after the trailer (line ${this.trailerAt})`);
    const rec = parseLine(text, no);
    if (!this.header) return this.readHeader(rec, no, raw);
    if (rec.type === 'trailer') return this.readTrailer(rec, no, this.header);
    // The trailer's SHA-256 covers every line before it, the header included.
    this.hash.update(raw);
    if (rec.type === 'queue') return this.openSection(rec, no);
    const section = this.sectionOf(rec, no);
    switch (rec.type) {
      case 'item':
        return this.readItem(rec, no, section);
      case 'cursor':
        return this.readCursor(rec, no, section);
      case 'retry':
        return this.readRetry(rec, no, section);
      default:
        throw lineError(no, `unknown record type ${JSON.stringify(rec.type)}`);
    }
  }

  finish(): RestoreResult {
    if (!this.header) throw new PortabilityError('the input is empty: not a Siberite backup');
    if (!this.trailerAt) throw lineError(this.lastLine, `truncated: the backup ends after this line, without its trailer`);
    return this.result;
  }

  private readHeader(rec: Rec, no: number, raw: Buffer): void {
    if (rec.type !== 'header' || rec.format !== FORMAT)
      throw lineError(no, `not a Siberite backup (the first line must be its ${FORMAT} header)`);
    if (rec.version !== FORMAT_VERSION)
      throw lineError(no, `backup format version ${String(rec.version)} is not supported (this server reads version ${FORMAT_VERSION})`);
    this.header = rec;
    this.result.created = String(rec.created);
    const planned = (rec.counts as Partial<BackupCounts> | undefined)?.items;
    if (typeof planned === 'number') this.options.progress?.setTotal(planned);
    this.hash.update(raw);
  }

  private readTrailer(rec: Rec, no: number, header: Rec): void {
    this.closeSection(no);
    checkTrailer(rec, no, this.counts, header, this.hash.digest('hex'));
    this.trailerAt = no;
  }

  private async openSection(rec: Rec, no: number): Promise<void> {
    this.closeSection(no);
    this.section = await beginSection(rec, no, this.writer, this.options.merge);
    this.counts.queues++;
  }

  /** The section ends at the next queue record or the trailer: its declared counts must have all arrived. */
  private closeSection(no: number): void {
    const s = this.section;
    if (!s) return;
    const got = { items: s.items, cursors: s.cursors.size, retries: s.retries };
    for (const k of ['items', 'cursors', 'retries'] as const) {
      if (got[k] !== s.declared[k])
        throw lineError(no, `queue ${s.name} (line ${s.line}) declares ${s.declared[k]} ${k} but ${got[k]} came before this line`);
    }
    this.result.queues.push({ name: s.name, items: s.items, bytes: s.bytes, cursors: s.cursors.size - s.kept.size, merged: s.merged });
    this.section = undefined;
  }

  /** The open section, which a record of a queue must belong to. */
  private sectionOf(rec: Rec, no: number): Section {
    const s = this.section;
    if (!s) throw lineError(no, `a ${String(rec.type)} record before any queue record`);
    if (rec.queue !== s.name)
      throw lineError(no, `record of queue ${JSON.stringify(rec.queue)} inside the section of queue ${s.name} (line ${s.line})`);
    return s;
  }

  private async readItem(rec: Rec, no: number, s: Section): Promise<void> {
    if (s.phase !== 'items') throw lineError(no, 'an item after the cursors of its queue');
    const item = itemOf(rec, no);
    await s.sink.addItem(item);
    s.items++;
    s.bytes += item.data.length;
    this.counts.items++;
    this.counts.bytes += item.data.length;
    this.options.progress?.add(1, item.data.length);
  }

  private readCursor(rec: Rec, no: number, s: Section): void {
    if (s.phase === 'retries') throw lineError(no, 'a cursor after the retry entries of its queue');
    s.phase = 'cursors';
    restoreCursor(rec, no, s, this.result);
    this.counts.cursors++;
  }

  private async readRetry(rec: Rec, no: number, s: Section): Promise<void> {
    s.phase = 'retries';
    const cursor = rec.cursor;
    if (typeof cursor !== 'string' || !s.cursors.has(cursor))
      throw lineError(no, `retry entry of a cursor not declared in this queue: ${JSON.stringify(cursor)}`);
    const item = itemOf(rec, no);
    if (!s.kept.has(cursor)) await s.sink.addRetry(cursor, item);
    s.retries++;
    this.counts.retries++;
  }
}

async function beginSection(rec: Rec, no: number, writer: PortableWriter, merge: boolean): Promise<Section> {
  const name = rec.name;
  if (typeof name !== 'string' || !isValidName(name)) throw lineError(no, `${BAD_NAME} ${JSON.stringify(name)}`);
  if (!isCount(rec.items) || !isCount(rec.cursors) || !isCount(rec.retries)) throw lineError(no, 'queue record without its counts');
  const merged = writer.exists(name);
  let sink: QueueSink;
  try {
    sink = await writer.beginQueue(name, merge);
  } catch (err) {
    throw err instanceof PortabilityError ? lineError(no, err.message) : err;
  }
  return {
    name,
    line: no,
    declared: { items: rec.items, cursors: rec.cursors, retries: rec.retries },
    sink,
    merged,
    items: 0,
    bytes: 0,
    cursors: new Set(),
    kept: new Set(),
    retries: 0,
    phase: 'items',
  };
}

function restoreCursor(rec: Rec, no: number, s: Section, result: RestoreResult): void {
  const name = rec.name;
  if (typeof name !== 'string' || !isValidName(name)) throw lineError(no, `bad cursor name ${JSON.stringify(name)}`);
  if (s.cursors.has(name)) throw lineError(no, `cursor ${s.name}.${name} appears twice`);
  const { skip, ahead } = rec;
  if (!isCount(skip) || !isCount(ahead)) throw lineError(no, 'cursor record without skip and ahead counts');
  if (skip > s.items || (ahead > 0 && skip !== s.items))
    throw lineError(no, `cursor ${s.name}.${name}: skip ${skip} / ahead ${ahead} do not fit the ${s.items} items of its queue`);
  s.cursors.add(name);
  if (s.sink.existingCursors.has(name)) {
    s.kept.add(name);
    result.skipped.push(`cursor ${s.name}.${name}: already exists in the target, left as it is (its retry entries in the backup too)`);
    return;
  }
  // Items of this section are consecutive from firstId: the skip-th one is firstId + skip.
  s.sink.setCursor(name, s.sink.firstId + skip + ahead);
}

function itemOf(rec: Rec, no: number): PortableItem {
  const { flags, expiry, added, value } = rec;
  if (!isCount(flags) || flags > 0xffff_ffff) throw lineError(no, 'bad or missing flags');
  if (!isTime(expiry)) throw lineError(no, 'bad or missing expiry');
  if (!isTime(added)) throw lineError(no, 'bad or missing added time');
  if (typeof value !== 'string' || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
    throw lineError(no, 'bad or missing base64 value');
  return { flags, expiry, addTime: added, data: Buffer.from(value, 'base64') };
}

function checkTrailer(rec: Rec, no: number, counts: BackupCounts, header: Rec, digest: string): void {
  if (rec.sha256 !== digest)
    throw lineError(no, 'the SHA-256 of the lines before the trailer does not match: lines were altered, lost or reordered');
  const declared = rec.counts as Partial<BackupCounts> | undefined;
  const planned = header.counts as Partial<BackupCounts> | undefined;
  for (const k of ['queues', 'items', 'bytes', 'cursors', 'retries'] as const) {
    if (declared?.[k] !== counts[k]) throw lineError(no, `the trailer counts ${String(declared?.[k])} ${k}, the backup holds ${counts[k]}`);
    if (k !== 'bytes' && planned?.[k] !== counts[k])
      throw lineError(no, `the header counts ${String(planned?.[k])} ${k}, the backup holds ${counts[k]}`);
  }
}
