// The memcache text protocol as Kestrel defined it: command lines, data blocks, replies.
import { Buffer } from 'node:buffer';
import {
  type Command,
  type ErrorReply,
  type Framing,
  type Reply,
  type ValueOut,
  clientError,
  tooLarge,
  unknownCommand,
} from './command.js';
import { copyBytes, latin1 } from './bytes.js';
import { type ReplyWriter } from './output.js';
import { RECORD_HEADROOM } from '../store/layout.js';
import { BAD_NAME, getKeyList, parseDecimal, parseQueueRef, parseSignedDecimal, setKeyQueues } from './keys.js';

export const MAX_LINE_BYTES = 8 * 1024;

const EMPTY = Buffer.alloc(0);
const CRLF = Buffer.from('\r\n');
const END = Buffer.from('END\r\n');
const VALUE_ = Buffer.from('VALUE ');
const SPACE = 0x20;
const FIXED: Partial<Record<Reply['kind'], Buffer>> = {
  stored: Buffer.from('STORED\r\n'),
  not_stored: Buffer.from('NOT_STORED\r\n'),
  deleted: Buffer.from('DELETED\r\n'),
  not_found: Buffer.from('NOT_FOUND\r\n'),
  end: END,
  ok: Buffer.from('OK\r\n'),
};

/**
 * memcache storage commands a queue has no use for: their data block is skipped, then
 * `ERROR unknown command`, so a client that sent one stays in step. (incr, decr, touch … carry
 * no data block and are simply unknown.)
 */
const UNSUPPORTED_STORAGE = new Set(['add', 'replace', 'append', 'prepend', 'cas']);

const badFormat = () => clientError('bad command line format');
const badDataChunk = () => clientError('bad data chunk', 'bad_data', true);
const lineTooLong = () => clientError('line too long', 'line_too_long', true);

/**
 * A data block being received: copied straight into its record when it is all there at once,
 * else kept as the chunks it arrives in (memory only for what has arrived).
 */
interface DataBlock {
  remaining: number; // payload bytes still to come
  total: number;
  record: Buffer | null;
  parts: Buffer[] | null;
  /** Set when the block is read only to be skipped, then this is the answer. */
  error?: ErrorReply;
  command?: Extract<Command, { kind: 'set' }>;
  /** The two bytes after the payload must be CR LF; how many of them have been checked. */
  crlfSeen: number;
}

export interface TextFramingOptions {
  maxItemSize: number;
}

export class TextFraming implements Framing {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private block: DataBlock | null = null;
  /** After a framing error nothing more is parsed: the connection is closing. */
  private dead = false;

  constructor(private readonly options: TextFramingOptions) {}

  get buffered(): number {
    const block = this.block;
    // A value arriving in pieces is held in `parts`, outside the buffer.
    const held = block && !block.error && block.parts ? block.total - block.remaining : 0;
    return this.buf.length - this.pos + held;
  }

  push(chunk: Buffer): void {
    if (this.dead) return;
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
      this.pos = 0;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
      this.pos = 0;
    }
  }

  next(): Command | null {
    while (!this.dead) {
      if (this.block) {
        const done = this.readBlock(this.block);
        if (done === null) return null;
        return done;
      }
      const buf = this.buf;
      const start = this.pos;
      const nl = buf.indexOf(10, start);
      if (nl < 0) {
        const pending = buf.length - start;
        // A full-length line may have its CR here while its LF is still on the way.
        const crOnly = pending === MAX_LINE_BYTES + 1 && buf[buf.length - 1] === 13;
        if (pending > MAX_LINE_BYTES && !crOnly) return this.fail(lineTooLong());
        return null;
      }
      const end = nl > start && buf[nl - 1] === 13 ? nl - 1 : nl;
      if (end - start > MAX_LINE_BYTES) return this.fail(lineTooLong());
      this.pos = nl + 1;
      const command = this.parseLine(tokenize(buf, start, end));
      if (command) return command;
      // A set whose data block is still to come: loop to read it.
    }
    return null;
  }

  private fail(reply: ErrorReply): Command {
    this.dead = true;
    this.buf = EMPTY;
    this.pos = 0;
    this.block = null;
    return { kind: 'invalid', reply };
  }

  /** Returns the command, or null when the line opened a data block still to be read. */
  private parseLine(t: string[]): Command | null {
    if (t.length === 0) return { kind: 'invalid', reply: { kind: 'error', type: 'ERROR', code: 'empty' } };
    const word = t[0]!.toLowerCase();
    // The two words of nearly every line are tried before the table: a lookup costs more.
    if (word === 'get') return parseGet(t, false);
    if (word === 'set') return this.parseSet(t);
    const parse = LINE_COMMANDS.get(word);
    if (parse !== undefined) return parse(t);
    if (UNSUPPORTED_STORAGE.has(word)) {
      // Skip the data block so the client stays in step, then refuse the command.
      const bytes = t.length >= 5 ? parseDecimal(t[4]!) : undefined;
      if (bytes !== undefined) return this.skipBlock(bytes, unknownCommand());
    }
    return invalid(unknownCommand());
  }

  private parseSet(t: string[]): Command | null {
    if (t.length < 5 || t.length > 6) return invalid(badFormat());
    const bytes = parseDecimal(t[4]!);
    if (bytes === undefined) return this.fail(badDataChunk());
    if (bytes > this.options.maxItemSize) return this.skipBlock(bytes, tooLarge());
    const flags = parseDecimal(t[2]!);
    const exptime = parseSignedDecimal(t[3]!);
    if (flags === undefined || flags > 0xffffffff || exptime === undefined) return this.skipBlock(bytes, badFormat());
    const queues = setKeyQueues(t[1]!);
    if (typeof queues === 'string') return this.skipBlock(bytes, clientError(queues));
    const command = {
      kind: 'set' as const,
      key: t[1]!,
      queues,
      flags,
      exptime,
      record: EMPTY,
      noreply: t[5] === 'noreply',
    };
    this.block = { remaining: bytes, total: bytes, record: null, parts: null, command, crlfSeen: 0 };
    return null;
  }

  private skipBlock(bytes: number, error: ErrorReply): Command | null {
    this.block = { remaining: bytes, total: bytes, record: null, parts: null, error, crlfSeen: 0 };
    return null;
  }

  /** Consumes as much of the block as is buffered; the finished command, or null for more. */
  private readBlock(block: DataBlock): Command | null {
    const buf = this.buf;
    let pos = this.pos;
    if (block.remaining > 0) {
      const take = Math.min(block.remaining, buf.length - pos);
      if (!block.error && take > 0) {
        if (take === block.total) {
          block.record = Buffer.allocUnsafe(RECORD_HEADROOM + take);
          copyBytes(buf, pos, pos + take, block.record, RECORD_HEADROOM);
        } else {
          (block.parts ??= []).push(buf.subarray(pos, pos + take));
        }
      }
      block.remaining -= take;
      pos += take;
    }
    while (block.remaining === 0 && block.crlfSeen < 2 && pos < buf.length) {
      if (buf[pos] !== (block.crlfSeen === 0 ? 13 : 10)) return this.fail(badDataChunk());
      block.crlfSeen++;
      pos++;
    }
    this.pos = pos;
    if (pos >= buf.length) {
      // Every byte is accounted for; drop the reference so socket chunks can be freed.
      this.buf = EMPTY;
      this.pos = 0;
    }
    if (block.crlfSeen < 2) return null;
    this.block = null;
    if (block.error) return invalid(block.error);
    const command = block.command!;
    command.record = block.record ?? joinParts(block);
    return command;
  }

  encode(reply: Reply, command: Command, out: ReplyWriter): void {
    if ('noreply' in command && command.noreply) return; // memcache's noreply: no line at all
    const fixed = FIXED[reply.kind];
    if (fixed) return out.bytes(fixed);
    switch (reply.kind) {
      case 'value':
        valueBlock(out, reply);
        return out.bytes(END);
      case 'values':
        for (const v of reply.values) valueBlock(out, v);
        return out.bytes(END);
      case 'line':
        return out.latin1(`${reply.text}\r\n`);
      case 'version':
        return out.latin1(`VERSION ${reply.version}\r\n`);
      case 'stats': {
        let s = '';
        for (const [k, v] of reply.stats) s += `STAT ${k} ${v}\r\n`;
        return out.latin1(reply.more ? s : `${s}END\r\n`);
      }
      case 'lines':
        return out.latin1(reply.lines.map((l) => `${l}\r\n`).join('') + (reply.more ? '' : 'END\r\n'));
      case 'encoded':
        for (const part of reply.parts) out.bytes(part);
        return;
      case 'error':
        return out.latin1(reply.message ? `${reply.type} ${reply.message}\r\n` : `${reply.type}\r\n`);
      default:
        return;
    }
  }
}

/** `VALUE <key> <flags> <bytes> [<cas>]`, then the data. */
function valueBlock(out: ReplyWriter, v: ValueOut): void {
  out.bytes(VALUE_);
  out.latin1(v.key);
  out.byte(SPACE);
  out.decimal(v.flags);
  out.byte(SPACE);
  out.decimal(v.data.length);
  if (v.cas !== undefined) {
    out.byte(SPACE);
    out.decimal(v.cas);
  }
  out.bytes(CRLF);
  out.bytes(v.data);
  out.bytes(CRLF);
}

/** The record of a block that arrived in pieces (or is empty). */
function joinParts(block: DataBlock): Buffer {
  const record = Buffer.allocUnsafe(RECORD_HEADROOM + block.total);
  let at = RECORD_HEADROOM;
  for (const part of block.parts ?? []) at += part.copy(record, at);
  return record;
}

function invalid(reply: ErrorReply): Command {
  return { kind: 'invalid', reply };
}

/** A queue named by a command that takes no cursor, or undefined. */
function queueOnly(token: string): string | undefined {
  const ref = parseQueueRef(token);
  return typeof ref === 'string' || ref.cursor !== undefined ? undefined : ref.queue;
}

/** `delete <queue>[.<cursor>] [<time>] [noreply]` */
function parseDelete(t: string[]): Command {
  if (t.length < 2 || t.length > 4) return invalid(badFormat());
  const ref = parseQueueRef(t[1]!);
  return typeof ref === 'string' ? invalid(clientError(ref)) : { kind: 'delete', ref, noreply: t[t.length - 1] === 'noreply' };
}

/** `flush <queue>[.<cursor>] [noreply]` */
function parseFlush(t: string[]): Command {
  if (t.length < 2 || t.length > 3) return invalid(badFormat());
  const ref = parseQueueRef(t[1]!);
  return typeof ref === 'string' ? invalid(clientError(ref)) : { kind: 'flush', ref, noreply: t[2] === 'noreply' };
}

/** `flush_expired <queue>` */
function parseFlushExpired(t: string[]): Command {
  if (t.length !== 2) return invalid(badFormat());
  const queue = queueOnly(t[1]!);
  return queue === undefined ? invalid(clientError(BAD_NAME)) : { kind: 'flush_expired', queue };
}

/** `verbosity <level> [noreply]` (accepted, and ignored) */
function parseVerbosity(t: string[]): Command {
  if (t.length < 2 || t.length > 3 || parseDecimal(t[1]!) === undefined) return invalid(badFormat());
  return { kind: 'verbosity', noreply: t[2] === 'noreply' };
}

/** `status [<new status>]` */
function parseStatus(t: string[]): Command {
  if (t.length > 2) return invalid(badFormat());
  return t.length === 2 ? { kind: 'status', value: t[1]! } : { kind: 'status' };
}

/** `monitor <queue> <seconds> [<max items>]` */
function parseMonitor(t: string[]): Command {
  if (t.length < 3 || t.length > 4) return invalid(badFormat());
  const queue = queueOnly(t[1]!);
  const seconds = parseDecimal(t[2]!);
  const max = t.length === 4 ? parseDecimal(t[3]!) : undefined;
  if (queue === undefined) return invalid(clientError(BAD_NAME));
  if (seconds === undefined || (t.length === 4 && max === undefined)) return invalid(badFormat());
  return max === undefined ? { kind: 'monitor', queue, seconds } : { kind: 'monitor', queue, seconds, max };
}

/** `confirm <queue> <count>` */
function parseConfirm(t: string[]): Command {
  if (t.length !== 3) return invalid(badFormat());
  const queue = queueOnly(t[1]!);
  const count = parseDecimal(t[2]!);
  if (queue === undefined) return invalid(clientError(BAD_NAME));
  if (count === undefined) return invalid(badFormat());
  return { kind: 'confirm', queue, count };
}

/** The command words with no data block, and how each line is read (`set` opens a block). */
const LINE_COMMANDS: ReadonlyMap<string, (t: string[]) => Command> = new Map<string, (t: string[]) => Command>([
  ['get', (t) => parseGet(t, false)],
  ['gets', (t) => parseGet(t, true)],
  ['delete', parseDelete],
  ['flush', parseFlush],
  ['flush_all', (t) => (t.length > 3 ? invalid(badFormat()) : { kind: 'flush_all', noreply: t[t.length - 1] === 'noreply' })],
  ['flush_expired', parseFlushExpired],
  ['flush_all_expired', (t) => (t.length === 1 ? { kind: 'flush_all_expired' } : invalid(badFormat()))],
  ['stats', () => ({ kind: 'stats' })],
  ['dump_stats', () => ({ kind: 'dump_stats' })],
  ['version', () => ({ kind: 'version' })],
  ['verbosity', parseVerbosity],
  ['status', parseStatus],
  ['monitor', parseMonitor],
  ['confirm', parseConfirm],
  ['reload', () => ({ kind: 'reload' })],
  ['shutdown', () => ({ kind: 'shutdown' })],
  ['quit', () => ({ kind: 'quit' })],
]);

function parseGet(t: string[], cas: boolean): Command {
  if (t.length < 2) return invalid(badFormat());
  if (t.length === 2) {
    const keys = getKeyList(t[1]!);
    return typeof keys === 'string' ? invalid(clientError(keys)) : { kind: 'get', keys, cas };
  }
  const keys = [];
  for (let i = 1; i < t.length; i++) {
    const list = getKeyList(t[i]!);
    if (typeof list === 'string') return invalid(clientError(list));
    keys.push(list[0]!);
  }
  return { kind: 'get', keys, cas };
}

/** Splits buf[start, end) at runs of spaces and tabs. */
export function tokenize(buf: Buffer, start: number, end: number): string[] {
  const out: string[] = [];
  let i = start;
  while (i < end) {
    let c = buf[i]!;
    while (i < end && (c === 32 || c === 9)) c = buf[++i]!;
    if (i >= end) break;
    const s = i;
    while (i < end && c !== 32 && c !== 9) c = buf[++i]!;
    out.push(latin1(buf, s, i));
  }
  return out;
}
