// A raw-socket memcache binary protocol client (docs/protocol.md#binary-protocol), for exact-packet assertions: builds
// request packets, splits the byte stream into response packets by their headers.
import type net from 'node:net';
import { openSocket, SocketReader } from './socketReader.js';

export const Op = {
  GET: 0x00,
  SET: 0x01,
  ADD: 0x02,
  REPLACE: 0x03,
  DELETE: 0x04,
  INCREMENT: 0x05,
  QUIT: 0x07,
  FLUSH: 0x08,
  GETQ: 0x09,
  NOOP: 0x0a,
  VERSION: 0x0b,
  GETK: 0x0c,
  GETKQ: 0x0d,
  APPEND: 0x0e,
  STAT: 0x10,
  SETQ: 0x11,
  DELETEQ: 0x14,
  QUITQ: 0x17,
  FLUSHQ: 0x18,
} as const;

export const St = {
  OK: 0x0000,
  KEY_NOT_FOUND: 0x0001,
  VALUE_TOO_LARGE: 0x0003,
  INVALID_ARGUMENTS: 0x0004,
  NOT_STORED: 0x0005,
  UNKNOWN_COMMAND: 0x0081,
} as const;

export interface Request {
  opcode: number;
  key?: string | Buffer;
  extras?: Buffer;
  value?: string | Buffer;
  opaque?: number;
  /** Header overrides, to build broken packets. */
  magic?: number;
  keyLength?: number;
  extrasLength?: number;
  bodyLength?: number;
}

export interface Response {
  magic: number;
  opcode: number;
  keyLength: number;
  extrasLength: number;
  dataType: number;
  status: number;
  bodyLength: number;
  opaque: number;
  cas: bigint;
  extras: Buffer;
  key: string;
  value: Buffer;
}

const HEADER = 24;

function bytes(v: string | Buffer | undefined): Buffer {
  if (v === undefined) return Buffer.alloc(0);
  return typeof v === 'string' ? Buffer.from(v, 'latin1') : v;
}

/** One request packet: header, extras, key, value. */
export function packet(r: Request): Buffer {
  const key = bytes(r.key);
  const extras = r.extras ?? Buffer.alloc(0);
  const value = bytes(r.value);
  const h = Buffer.alloc(HEADER);
  h[0] = r.magic ?? 0x80;
  h[1] = r.opcode;
  h.writeUInt16BE(r.keyLength ?? key.length, 2);
  h[4] = r.extrasLength ?? extras.length;
  h.writeUInt32BE(r.bodyLength ?? extras.length + key.length + value.length, 8);
  h.writeUInt32BE((r.opaque ?? 0) >>> 0, 12);
  return Buffer.concat([h, extras, key, value]);
}

/** SET/SETQ extras: flags and exptime. */
export function setExtras(flags = 0, exptime = 0): Buffer {
  const e = Buffer.alloc(8);
  e.writeUInt32BE(flags >>> 0, 0);
  e.writeUInt32BE(exptime >>> 0, 4);
  return e;
}

export function setPacket(
  key: string,
  value: string | Buffer,
  opts: { flags?: number; exptime?: number; opaque?: number; quiet?: boolean } = {},
): Buffer {
  return packet({
    opcode: opts.quiet ? Op.SETQ : Op.SET,
    key,
    extras: setExtras(opts.flags, opts.exptime),
    value,
    opaque: opts.opaque ?? 0,
  });
}

export function getPacket(key: string, opcode: number = Op.GET, opaque = 0): Buffer {
  return packet({ opcode, key, opaque });
}

/** Splits off one whole response packet from the front of `buf`, or null. */
export function parseResponse(buf: Buffer): { response: Response; rest: Buffer } | null {
  if (buf.length < HEADER) return null;
  const bodyLength = buf.readUInt32BE(8);
  if (buf.length < HEADER + bodyLength) return null;
  const keyLength = buf.readUInt16BE(2);
  const extrasLength = buf[4]!;
  const body = buf.subarray(HEADER, HEADER + bodyLength);
  return {
    response: {
      magic: buf[0]!,
      opcode: buf[1]!,
      keyLength,
      extrasLength,
      dataType: buf[5]!,
      status: buf.readUInt16BE(6),
      bodyLength,
      opaque: buf.readUInt32BE(12),
      cas: buf.readBigUInt64BE(16),
      extras: Buffer.from(body.subarray(0, extrasLength)),
      key: body.toString('latin1', extrasLength, extrasLength + keyLength),
      value: Buffer.from(body.subarray(extrasLength + keyLength)),
    },
    rest: buf.subarray(HEADER + bodyLength),
  };
}

export class BinaryClient extends SocketReader {
  private nextOpaque = 0x1000;

  private constructor(socket: net.Socket) {
    super(socket);
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<BinaryClient> {
    return new BinaryClient(await openSocket(port, host, true));
  }

  protected describeUnread(): string {
    return `unread bytes: ${this.buf.toString('hex')}`;
  }

  /** A fresh opaque, different for every request of this client. */
  opaque(): number {
    this.nextOpaque = (this.nextOpaque + 0x10001) >>> 0;
    return this.nextOpaque;
  }

  /** Bytes received and not yet read. */
  get pending(): number {
    return this.buf.length;
  }

  send(data: Buffer | Buffer[]): void {
    this.socket.write(Array.isArray(data) ? Buffer.concat(data) : data);
  }

  /** The next whole response packet. */
  async read(): Promise<Response> {
    for (;;) {
      const p = parseResponse(this.buf);
      if (p) {
        this.buf = p.rest;
        return p.response;
      }
      await this.more();
    }
  }

  /** Reads `n` responses. */
  async readN(n: number): Promise<Response[]> {
    const out: Response[] = [];
    for (let i = 0; i < n; i++) out.push(await this.read());
    return out;
  }

  /** Reads responses up to and including the first one with `opcode` (at most `max`). */
  async readThrough(opcode: number, max = 10_000): Promise<Response[]> {
    const out: Response[] = [];
    for (let i = 0; i < max; i++) {
      const r = await this.read();
      out.push(r);
      if (r.opcode === opcode) return out;
    }
    throw new Error(`no ${opcode.toString(16)} reply within ${max} packets`);
  }

  /** Sends one request with a fresh opaque (unless given) and reads one reply, whose opaque must match. */
  async call(r: Request): Promise<Response> {
    const opaque = r.opaque ?? this.opaque();
    this.send(packet({ ...r, opaque }));
    const res = await this.read();
    if (res.opaque !== opaque >>> 0) {
      throw new Error(`reply opaque ${res.opaque.toString(16)} does not match request opaque ${opaque.toString(16)}`);
    }
    return res;
  }

  set(key: string, value: string | Buffer, flags = 0, exptime = 0): Promise<Response> {
    return this.call({ opcode: Op.SET, key, extras: setExtras(flags, exptime), value });
  }

  get(key: string, opcode: number = Op.GET): Promise<Response> {
    return this.call({ opcode, key });
  }

  /** STAT: every packet until the empty one, as a map (the terminator is checked). */
  async stats(): Promise<{ stats: Map<string, string>; packets: Response[] }> {
    const opaque = this.opaque();
    this.send(packet({ opcode: Op.STAT, opaque }));
    const packets: Response[] = [];
    const stats = new Map<string, string>();
    for (let i = 0; i < 100_000; i++) {
      const r = await this.read();
      packets.push(r);
      if (r.keyLength === 0 && r.bodyLength === 0) return { stats, packets };
      stats.set(r.key, r.value.toString());
    }
    throw new Error('STAT reply never ended');
  }

  /** Every whole packet that arrives until the server closes; then the leftover bytes. */
  async readToClose(): Promise<{ responses: Response[]; rest: Buffer }> {
    await this.waitClosed();
    const responses: Response[] = [];
    for (;;) {
      const p = parseResponse(this.buf);
      if (!p) break;
      responses.push(p.response);
      this.buf = p.rest;
    }
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    return { responses, rest };
  }
}

/** The 4-byte flags of a GET hit. */
export function flagsOf(r: Response): number {
  if (r.extras.length !== 4) throw new Error(`expected 4 bytes of extras, got ${r.extras.length}`);
  return r.extras.readUInt32BE(0);
}
