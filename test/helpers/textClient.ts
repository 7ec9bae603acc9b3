// A raw-socket text protocol client that reads whole replies, for exact-byte assertions.
import net from 'node:net';

export class TextClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private ended = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<TextClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host, () => resolve(new TextClient(socket)));
      socket.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private more(): Promise<void> {
    if (this.ended) throw new Error(`connection closed; unread: ${JSON.stringify(this.buf.toString('latin1'))}`);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** True once the server closed the connection. */
  get closed(): boolean {
    return this.ended;
  }

  /** Resolves when the server closes the connection. */
  async waitClosed(): Promise<void> {
    while (!this.ended) await new Promise<void>((resolve) => this.waiters.push(resolve));
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

  close(): void {
    this.socket.destroy();
  }
}

/** `set` command text for a value. */
export function setCmd(key: string, value: string | Buffer, flags = 0, exptime = 0): Buffer {
  const data = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  return Buffer.concat([Buffer.from(`set ${key} ${flags} ${exptime} ${data.length}\r\n`, 'latin1'), data, Buffer.from('\r\n')]);
}
