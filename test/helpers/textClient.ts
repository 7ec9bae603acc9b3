// A raw-socket text protocol client that reads whole replies, for exact-byte assertions.
import type net from 'node:net';
import { openSocket, SocketReader } from './socketReader.js';

export class TextClient extends SocketReader {
  private constructor(socket: net.Socket) {
    super(socket);
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<TextClient> {
    return new TextClient(await openSocket(port, host));
  }

  protected describeUnread(): string {
    return `unread: ${JSON.stringify(this.buf.toString('latin1'))}`;
  }

  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** One line without its CRLF. */
  async readLine(): Promise<string> {
    for (;;) {
      const nl = this.buf.indexOf('\r\n');
      if (nl >= 0) {
        const line = this.buf.toString('latin1', 0, nl);
        this.buf = this.buf.subarray(nl + 2);
        return line;
      }
      await this.more();
    }
  }

  async readBytes(n: number): Promise<Buffer> {
    while (this.buf.length < n) await this.more();
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** One whole reply as text: a line, or VALUE/STAT blocks through END. */
  async readReply(): Promise<string> {
    let out = '';
    for (;;) {
      const line = await this.readLine();
      out += `${line}\r\n`;
      if (line.startsWith('VALUE ')) {
        const bytes = Number(line.split(' ')[3]);
        out += (await this.readBytes(bytes + 2)).toString('latin1');
        continue;
      }
      if (line.startsWith('STAT ') || line.startsWith('queue ') || line.startsWith('  ') || line === '}') continue;
      return out;
    }
  }

  /** Sends `text` and reads one reply. */
  async call(text: string | Buffer): Promise<string> {
    this.send(text);
    return this.readReply();
  }

  /** Everything that arrives until the server closes the connection. */
  async readToClose(): Promise<string> {
    await this.waitClosed();
    const s = this.buf.toString('latin1');
    this.buf = Buffer.alloc(0);
    return s;
  }
}

/** `set` command text for a value. */
export function setCmd(key: string, value: string | Buffer, flags = 0, exptime = 0): Buffer {
  const data = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  return Buffer.concat([Buffer.from(`set ${key} ${flags} ${exptime} ${data.length}\r\n`, 'latin1'), data, Buffer.from('\r\n')]);
}

/** The exact reply to a get that returns one item (data as latin1 text). */
export function value(queue: string, data: string | Buffer, flags = 0): string {
  const text = typeof data === 'string' ? data : data.toString('latin1');
  return `VALUE ${queue} ${flags} ${text.length}\r\n${text}\r\nEND\r\n`;
}

/** The reply to a get of an empty queue. */
export const END = 'END\r\n';

/** The refusal of a read while the connection holds its limit of open items (docs/protocol.md#reliable-reads). */
export const CLOSE_FIRST = 'CLIENT_ERROR Close current item first\r\n';
