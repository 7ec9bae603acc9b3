// The reply reader: turns the byte stream of one text-protocol connection into whole replies, in
// request order, whatever the TCP chunking — a reply split over many chunks, or many replies (and
// a value's bytes, which may contain "\r\n") coalesced into one chunk. Pure: no socket here, so
// the unit tests feed it chunks directly (test/client/reader.test.ts).
//
// The text protocol does not say what kind of reply is coming, so the reader is told, for each
// request sent, which shape to expect: one line (`set`, `delete`, …), a get reply (`VALUE` blocks
// then `END`) or a stats reply (`STAT` lines then `END`). An error line ends any of them.

export type ReplyShape = 'line' | 'values' | 'stats';

export interface Value {
  /** The name the server put in the VALUE line (the bare queue, or the whole key with -value-key full). */
  key: string;
  flags: number;
  data: Buffer;
}

export type Reply =
  | { kind: 'line'; line: string }
  | { kind: 'values'; values: Value[] }
  | { kind: 'stats'; stats: Record<string, string> }
  /** ERROR…, CLIENT_ERROR … or SERVER_ERROR …, verbatim. */
  | { kind: 'error'; line: string };

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** The server's own limit is 8 KiB; a longer line means the stream is not what we think. */
const MAX_LINE = 16 * 1024;

function isErrorLine(line: string): boolean {
  return line === 'ERROR' || line.startsWith('ERROR ') || line.startsWith('CLIENT_ERROR') || line.startsWith('SERVER_ERROR');
}

export class ReplyReader {
  /** Shapes of the replies still to come, oldest first. */
  private readonly expected: ReplyShape[] = [];
  /** Unparsed bytes while looking for a line end (small: at most one line plus what follows). */
  private pending: Buffer = Buffer.alloc(0);
  /** While reading a value's data block: the chunks so far, so a large value is copied once. */
  private blockChunks: Buffer[] = [];
  private blockHave = 0;
  /** The value whose data block is being read (needs data.length + 2 bytes for its "\r\n"). */
  private block: { key: string; flags: number; need: number } | null = null;
  private values: Value[] = [];
  private stats: Record<string, string> = {};

  constructor(private readonly onReply: (reply: Reply) => void) {}

  /** Announces the shape of the reply to the request just sent. */
  expect(shape: ReplyShape): void {
    this.expected.push(shape);
  }

  /** Replies announced and not yet complete. */
  get outstanding(): number {
    return this.expected.length;
  }

  /** Feeds bytes as they arrive; calls onReply for each reply completed. Throws ProtocolError. */
  feed(chunk: Buffer): void {
    let buf = chunk;
    for (;;) {
      if (this.block) {
        buf = this.feedBlock(buf);
        if (this.block) return; // all consumed, still short
        continue;
      }
      if (buf.length === 0) return;
      const joined = this.pending.length === 0 ? buf : Buffer.concat([this.pending, buf]);
      const nl = joined.indexOf(0x0a, Math.max(0, this.pending.length - 1));
      if (nl < 0) {
        if (joined.length > MAX_LINE) throw new ProtocolError(`reply line longer than ${MAX_LINE} bytes`);
        this.pending = joined;
        return;
      }
      const end = nl > 0 && joined[nl - 1] === 0x0d ? nl - 1 : nl;
      const line = joined.toString('latin1', 0, end);
      this.pending = Buffer.alloc(0);
      buf = joined.subarray(nl + 1);
      this.line(line);
    }
  }

  /** Takes what it needs of `buf` for the current data block; returns the rest. */
  private feedBlock(buf: Buffer): Buffer {
    const block = this.block!;
    const take = Math.min(buf.length, block.need + 2 - this.blockHave);
    if (take > 0) {
      this.blockChunks.push(buf.subarray(0, take));
      this.blockHave += take;
    }
    if (this.blockHave < block.need + 2) return buf.subarray(take);
    const whole = this.blockChunks.length === 1 ? this.blockChunks[0]! : Buffer.concat(this.blockChunks, this.blockHave);
    if (whole[block.need] !== 0x0d || whole[block.need + 1] !== 0x0a) throw new ProtocolError('data block not ended by \\r\\n');
    // A copy, so the value does not pin the socket's (possibly large) receive chunk.
    this.values.push({ key: block.key, flags: block.flags, data: Buffer.from(whole.subarray(0, block.need)) });
    this.block = null;
    this.blockChunks = [];
    this.blockHave = 0;
    return buf.subarray(take);
  }

  private line(line: string): void {
    const shape = this.expected[0];
    if (shape === undefined) throw new ProtocolError(`unexpected reply ${JSON.stringify(line.slice(0, 80))}`);
    if (isErrorLine(line)) {
      // An error ends the reply whatever came before it (a get that failed on its second key).
      this.finish({ kind: 'error', line });
      return;
    }
    if (shape === 'line') {
      this.finish({ kind: 'line', line });
      return;
    }
    if (line === 'END') {
      this.finish(shape === 'values' ? { kind: 'values', values: this.values } : { kind: 'stats', stats: this.stats });
      return;
    }
    if (shape === 'values' && line.startsWith('VALUE ')) {
      this.startBlock(line);
      return;
    }
    if (shape === 'stats' && line.startsWith('STAT ')) {
      const sp = line.indexOf(' ', 5);
      if (sp < 0) this.stats[line.slice(5)] = '';
      else this.stats[line.slice(5, sp)] = line.slice(sp + 1);
      return;
    }
    throw new ProtocolError(`unexpected line ${JSON.stringify(line.slice(0, 80))} in a ${shape} reply`);
  }

  /** `VALUE <key> <flags> <bytes>[ <cas>]` */
  private startBlock(line: string): void {
    const parts = line.split(' ');
    const flags = Number(parts[2]);
    const bytes = Number(parts[3]);
    if (parts.length < 4 || parts.length > 5 || !Number.isInteger(flags) || flags < 0 || !Number.isInteger(bytes) || bytes < 0) {
      throw new ProtocolError(`bad VALUE line ${JSON.stringify(line.slice(0, 80))}`);
    }
    this.block = { key: parts[1]!, flags, need: bytes };
  }

  private finish(reply: Reply): void {
    this.expected.shift();
    this.values = [];
    this.stats = {};
    this.onReply(reply);
  }
}
