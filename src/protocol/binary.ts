// The memcache binary protocol (docs/protocol.md#binary-protocol): 24-byte request headers in,
// Commands out; Replies in, response packets out. Pure: no sockets, no queues. The wire
// vocabulary is in binaryWire.ts, what each opcode accepts in binaryRequests.ts, reply packets in
// binaryReplies.ts; this file frames packets out of the byte stream.
import { type Command, clientError, type ErrorReply, type Framing, type Reply, tooLarge, unknownCommand } from './command.js';
import { type ReplyWriter } from './output.js';
import { MAX_KEY_BYTES, BAD_NAME } from './keys.js';
import { ReceivedBytes } from './receivedBytes.js';
import { type BinaryTag, HEADER_BYTES, MAX_EXTRAS_BYTES, REQUEST_MAGIC, requestTag } from './binaryWire.js';
import { type OpcodeRule, opcodeRule } from './binaryRequests.js';
import { encodeBinaryReply } from './binaryReplies.js';

interface Options {
  /** Largest value a SET may carry (bytes); read at every packet, so it may change. */
  readonly maxItemSize: number;
}

export class BinaryFraming implements Framing {
  private readonly input = new ReceivedBytes(MAX_KEY_BYTES + HEADER_BYTES);
  /** Framing lost: nothing more is parsed. */
  private dead = false;

  /** The header of the packet whose body is awaited (`pending` null: none). */
  private pending: BinaryTag | null = null;
  private pendingRule: OpcodeRule | null = null;
  private hKeyLength = 0;
  private hExtrasLength = 0;
  private hBodyLength = 0;

  constructor(private readonly options: Options) {}

  /** Largest body accepted at all: a maximal value plus the longest key and extras. */
  private get maxBody(): number {
    return this.options.maxItemSize + MAX_KEY_BYTES + MAX_EXTRAS_BYTES;
  }

  get buffered(): number {
    return this.input.length;
  }

  push(chunk: Buffer): void {
    if (!this.dead) this.input.push(chunk);
  }

  next(): Command | null {
    if (this.dead) return null;
    let tag = this.pending;
    if (tag === null) {
      if (this.input.length === 0) return null;
      if (this.input.firstByte() !== REQUEST_MAGIC) return this.badMagic();
      if (this.input.length < HEADER_BYTES) return null;
      const early = this.readHeader();
      if (early !== null) return early;
      tag = this.pending!;
    }
    if (this.input.length < this.hBodyLength) return null;
    this.pending = null;
    return this.readBody(tag, this.pendingRule!);
  }

  encode(reply: Reply, command: Command, out: ReplyWriter): void {
    encodeBinaryReply(reply, command, out);
  }

  /**
   * Reads and checks the 24-byte header (which is buffered). Returns a Command when the packet
   * is decided by its header alone (errors, bodies to skip); otherwise remembers the header and
   * returns null so the body is awaited.
   */
  private readHeader(): Command | null {
    const input = this.input;
    const h = input.peek(HEADER_BYTES);
    const at = input.peekAt;
    const keyLength = h.readUInt16BE(at + 2);
    const extrasLength = h[at + 4]!;
    const bodyLength = h.readUInt32BE(at + 8);
    const tag = requestTag(h[at + 1]!, h.readUInt32BE(at + 12));
    input.consume(HEADER_BYTES);

    // Decided from the header alone: never buffer (or allocate) a declared length we refuse.
    if (bodyLength > this.maxBody) return this.fatal({ ...tooLarge(), close: true }, tag);
    if (keyLength + extrasLength > bodyLength) return this.fatal(clientError('bad packet length', 'bad_format', true), tag);
    const rule = opcodeRule(tag.opcode);
    if (rule === undefined) return this.skipBody(bodyLength, { kind: 'invalid', reply: unknownCommand(), tag });
    const valueLength = bodyLength - keyLength - extrasLength;
    const problem = rule.problem(keyLength, extrasLength, valueLength);
    if (problem !== null) return this.fatal(clientError(`bad packet: ${problem}`, 'bad_format', true), tag);
    const early = rule.early?.(valueLength, this.options.maxItemSize, tag);
    if (early !== undefined) return this.skipBody(bodyLength, early);
    // Too long to be a name: say so without buffering it.
    if (keyLength > MAX_KEY_BYTES) return this.skipBody(bodyLength, { kind: 'invalid', reply: clientError(BAD_NAME), tag });

    this.pending = tag;
    this.pendingRule = rule;
    this.hKeyLength = keyLength;
    this.hExtrasLength = extrasLength;
    this.hBodyLength = bodyLength;
    return null;
  }

  /** The whole body of the remembered header is buffered: turn it into a Command. */
  private readBody(tag: BinaryTag, rule: OpcodeRule): Command {
    const input = this.input;
    const keyLength = this.hKeyLength;
    const extrasLength = this.hExtrasLength;
    let flags = 0;
    let exptime = 0;
    if (extrasLength > 0) {
      const e = input.peek(extrasLength);
      if (extrasLength === 8) {
        flags = e.readUInt32BE(input.peekAt);
        exptime = e.readUInt32BE(input.peekAt + 4);
      }
      input.consume(extrasLength);
    }
    const key = keyLength > 0 ? input.readLatin1(keyLength) : '';
    tag.key = key;
    const valueLength = this.hBodyLength - keyLength - extrasLength;
    return rule.decode(tag, key, input, valueLength, flags, exptime);
  }

  /** Answers `command` at once; the packet's body is dropped, now and as it arrives. */
  private skipBody(bodyLength: number, command: Command): Command {
    this.input.discard(bodyLength);
    return command;
  }

  /** Framing is lost: drop everything, parse nothing more, answer `reply` (which closes). */
  private fatal(reply: ErrorReply, tag: BinaryTag): Command {
    this.dead = true;
    this.input.clear();
    this.pending = null;
    this.pendingRule = null;
    return { kind: 'invalid', reply, tag };
  }

  private badMagic(): Command {
    // Echo what there is of a header; the bytes are not a request, so this is best effort.
    let opcode = 0;
    let opaque = 0;
    if (this.input.length >= HEADER_BYTES) {
      const h = this.input.peek(HEADER_BYTES);
      opcode = h[this.input.peekAt + 1]!;
      opaque = h.readUInt32BE(this.input.peekAt + 12);
    }
    const tag: BinaryTag = { opcode, opaque, quiet: false, withKey: false, key: '' };
    return this.fatal(clientError('bad packet: bad magic', 'bad_format', true), tag);
  }
}
