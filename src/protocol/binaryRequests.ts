// What each binary opcode accepts and the Command it becomes (docs/protocol.md#binary-protocol):
// one rule per opcode, checked against the header alone (so a refused length is never buffered),
// then applied to the whole body. Keys use exactly the text key syntax (keys.ts).
import { Buffer } from 'node:buffer';
import { type Command, clientError, tooLarge } from './command.js';
import { getKeyList, parseQueueRef, setKeyQueues } from './keys.js';
import { type ReceivedBytes } from './receivedBytes.js';
import { type BinaryTag, Opcode } from './binaryWire.js';
import { RECORD_HEADROOM } from '../store/layout.js';

/** SASL PLAIN carries a user name and a password: more than this is not a credential. */
const MAX_SASL_BYTES = 1024;

/**
 * Turns a request's body into its Command: the extras and key are read, the value (valueLength
 * bytes) is still buffered in `input`. Positional, not an object: this runs once per request.
 */
export type DecodeBody = (
  tag: BinaryTag,
  key: string,
  input: ReceivedBytes,
  valueLength: number,
  flags: number,
  exptime: number,
) => Command;

export interface OpcodeRule {
  /** Why these lengths do not make a request of this opcode (framing is lost then), or null. */
  problem(keyLength: number, extrasLength: number, valueLength: number): string | null;
  /** The answer the header alone decides, its body skipped; undefined: read the body. */
  early?(valueLength: number, maxItemSize: number, tag: BinaryTag): Command | undefined;
  /** The Command of the whole body. */
  decode: DecodeBody;
}

// ---- header checks ----------------------------------------------------------------------------

/** GET*, DELETE*: a key and nothing else. */
function keyOnly(keyLength: number, extrasLength: number, valueLength: number): string | null {
  if (extrasLength !== 0) return 'unexpected extras';
  if (keyLength === 0) return 'missing key';
  return valueLength !== 0 ? 'unexpected value' : null;
}

/** QUIT*, NOOP, VERSION, SASL_LIST_MECHS: no body at all. */
function noBody(keyLength: number, extrasLength: number, valueLength: number): string | null {
  return keyLength + extrasLength + valueLength !== 0 ? 'unexpected body' : null;
}

function setProblem(keyLength: number, extrasLength: number): string | null {
  if (extrasLength !== 8) return 'bad extras length';
  return keyLength === 0 ? 'missing key' : null;
}

function flushProblem(keyLength: number, extrasLength: number, valueLength: number): string | null {
  if (keyLength !== 0) return 'unexpected key';
  if (extrasLength !== 0 && extrasLength !== 4) return 'bad extras length';
  return valueLength !== 0 ? 'unexpected value' : null;
}

function saslProblem(keyLength: number, extrasLength: number, valueLength: number): string | null {
  if (extrasLength !== 0) return 'unexpected extras';
  if (keyLength === 0) return 'missing mechanism';
  return valueLength > MAX_SASL_BYTES ? 'SASL data too long' : null;
}

function statProblem(_keyLength: number, extrasLength: number, valueLength: number): string | null {
  if (extrasLength !== 0) return 'unexpected extras';
  return valueLength !== 0 ? 'unexpected value' : null;
}

// ---- bodies -------------------------------------------------------------------------------------

function decodeGet(tag: BinaryTag, key: string): Command {
  const keys = getKeyList(key);
  if (typeof keys === 'string') return { kind: 'invalid', reply: clientError(keys), tag };
  return { kind: 'get', keys, cas: false, tag };
}

function decodeSet(tag: BinaryTag, key: string, input: ReceivedBytes, valueLength: number, flags: number, exptime: number): Command {
  const queues = setKeyQueues(key);
  if (typeof queues === 'string') {
    input.discard(valueLength);
    return { kind: 'invalid', reply: clientError(queues), tag };
  }
  const record = Buffer.allocUnsafe(RECORD_HEADROOM + valueLength); // the store fills the headroom
  input.readInto(record, RECORD_HEADROOM, valueLength);
  return { kind: 'set', key, queues, flags, exptime, record, noreply: tag.quiet, tag };
}

function decodeDelete(tag: BinaryTag, key: string): Command {
  const ref = parseQueueRef(key);
  if (typeof ref === 'string') return { kind: 'invalid', reply: clientError(ref), tag };
  return { kind: 'delete', ref, noreply: tag.quiet, tag };
}

function decodeSasl(tag: BinaryTag, key: string, input: ReceivedBytes, valueLength: number): Command {
  const data = Buffer.alloc(valueLength);
  input.readInto(data, 0, valueLength);
  return { kind: 'auth', step: tag.opcode === Opcode.SASL_AUTH ? 'start' : 'continue', mechanism: key, data, tag };
}

// ---- the table ----------------------------------------------------------------------------------

const GET: OpcodeRule = { problem: keyOnly, decode: decodeGet };
const SET: OpcodeRule = {
  problem: setProblem,
  // Within the body limit: read and discard the value, and stay open (as text does).
  early: (valueLength, maxItemSize, tag) => (valueLength > maxItemSize ? { kind: 'invalid', reply: tooLarge(), tag } : undefined),
  decode: decodeSet,
};
const DELETE: OpcodeRule = { problem: keyOnly, decode: decodeDelete };
const FLUSH: OpcodeRule = { problem: flushProblem, decode: (tag) => ({ kind: 'flush_all', noreply: tag.quiet, tag }) };
const QUIT: OpcodeRule = { problem: noBody, decode: (tag) => ({ kind: 'quit', tag }) };
const SASL: OpcodeRule = { problem: saslProblem, decode: decodeSasl };

/** Every opcode served, by opcode; any other is answered `unknown command`, its body skipped. */
const SERVED: ReadonlyArray<readonly [number, OpcodeRule]> = [
  [Opcode.GET, GET],
  [Opcode.GETQ, GET],
  [Opcode.GETK, GET],
  [Opcode.GETKQ, GET],
  [Opcode.SET, SET],
  [Opcode.SETQ, SET],
  [Opcode.DELETE, DELETE],
  [Opcode.DELETEQ, DELETE],
  [Opcode.FLUSH, FLUSH],
  [Opcode.FLUSHQ, FLUSH],
  [Opcode.QUIT, QUIT],
  [Opcode.QUITQ, QUIT],
  [Opcode.NOOP, { problem: noBody, decode: (tag) => ({ kind: 'noop', tag }) }],
  [Opcode.VERSION, { problem: noBody, decode: (tag) => ({ kind: 'version', tag }) }],
  [
    Opcode.SASL_LIST_MECHS,
    { problem: noBody, decode: (tag) => ({ kind: 'auth', step: 'mechanisms', mechanism: '', data: Buffer.alloc(0), tag }) },
  ],
  [Opcode.SASL_AUTH, SASL],
  [Opcode.SASL_STEP, SASL],
  // `stats <group>` is not supported: any key means all stats; it is skipped.
  [Opcode.STAT, { problem: statProblem, early: (_v, _m, tag) => ({ kind: 'stats', tag }), decode: (tag) => ({ kind: 'stats', tag }) }],
];

/** SERVED as an array indexed by opcode (a u8): the lookup runs once per request. */
const BY_OPCODE: ReadonlyArray<OpcodeRule | undefined> = (() => {
  const rules = new Array<OpcodeRule | undefined>(256).fill(undefined);
  for (const [opcode, rule] of SERVED) rules[opcode] = rule;
  return rules;
})();

/** The rule of an opcode this server serves, or undefined. */
export function opcodeRule(opcode: number): OpcodeRule | undefined {
  return BY_OPCODE[opcode];
}
