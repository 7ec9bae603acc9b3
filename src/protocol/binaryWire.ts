// The memcache binary protocol's wire vocabulary (docs/protocol.md#binary-protocol), shared by
// request decoding (binaryRequests.ts) and reply encoding (binaryReplies.ts).
//
// Request header (all big-endian):
//   0 magic 0x80 | 1 opcode | 2 key length u16 | 4 extras length u8 | 5 data type | 6 vbucket u16
//   8 total body length u32 | 12 opaque u32 | 16 cas u64
// Body: extras, then key, then value. A response has magic 0x81 and a status u16 where the
// vbucket was, and echoes the request's opcode and opaque.

export const REQUEST_MAGIC = 0x80;
export const RESPONSE_MAGIC = 0x81;
export const HEADER_BYTES = 24;
/** Extras a request may carry at most (SET: flags + expiration). */
export const MAX_EXTRAS_BYTES = 8;

export const Opcode = {
  GET: 0x00,
  SET: 0x01,
  DELETE: 0x04,
  QUIT: 0x07,
  FLUSH: 0x08,
  GETQ: 0x09,
  NOOP: 0x0a,
  VERSION: 0x0b,
  GETK: 0x0c,
  GETKQ: 0x0d,
  STAT: 0x10,
  SETQ: 0x11,
  DELETEQ: 0x14,
  QUITQ: 0x17,
  FLUSHQ: 0x18,
  // SASL, as memcached (src/security answers them).
  SASL_LIST_MECHS: 0x20,
  SASL_AUTH: 0x21,
  SASL_STEP: 0x22,
} as const;

export const Status = {
  NO_ERROR: 0x0000,
  KEY_NOT_FOUND: 0x0001,
  KEY_EXISTS: 0x0002,
  VALUE_TOO_LARGE: 0x0003,
  INVALID_ARGUMENTS: 0x0004,
  ITEM_NOT_STORED: 0x0005,
  AUTH_ERROR: 0x0020,
  ACCESS_DENIED: 0x0024, // memcached's EACCESS
  UNKNOWN_COMMAND: 0x0081,
  OUT_OF_MEMORY: 0x0082,
  NOT_SUPPORTED: 0x0083,
  INTERNAL_ERROR: 0x0084,
  BUSY: 0x0085,
} as const;

/** What encoding needs to know about the request a Command came from (stored in `Command.tag`). */
export interface BinaryTag {
  opcode: number;
  opaque: number;
  /** A quiet opcode: GETQ/GETKQ suppress misses; SETQ, DELETEQ, FLUSHQ, QUITQ suppress success. */
  quiet: boolean;
  /** GETK/GETKQ: the response carries the key. */
  withKey: boolean;
  /** The request key, latin1 (echoed by GETK/GETKQ, exactly as sent). */
  key: string;
}

/** The tag of a request with this opcode and opaque (its key is filled in once read). */
export function requestTag(opcode: number, opaque: number): BinaryTag {
  const quiet =
    opcode === Opcode.GETQ ||
    opcode === Opcode.GETKQ ||
    opcode === Opcode.SETQ ||
    opcode === Opcode.DELETEQ ||
    opcode === Opcode.QUITQ ||
    opcode === Opcode.FLUSHQ;
  const withKey = opcode === Opcode.GETK || opcode === Opcode.GETKQ;
  return { opcode, opaque, quiet, withKey, key: '' };
}

export function isGetOpcode(op: number): boolean {
  return op === Opcode.GET || op === Opcode.GETQ || op === Opcode.GETK || op === Opcode.GETKQ;
}
