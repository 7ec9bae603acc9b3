// End-to-end text protocol over real TCP (docs/protocol.md#framing framing, docs/protocol.md#names-and-keys names, docs/protocol.md#adding-items-set set, docs/protocol.md#reading-items-get-and-gets get/gets,
// docs/protocol.md#server-commands other commands): exact reply bytes, and whether the connection stays open or closes.
import { describe, expect, it } from 'vitest';
import { queueNamer, withOwnServer } from './helpers/fixtures.js';
import { useInProcessServer, withOwnInProcessServer } from './helpers/inProcess.js';
import { stat } from './helpers/stats.js';
import { TextClient, setCmd } from './helpers/textClient.js';

const fx = useInProcessServer({ expectCleanExit: true });
const { connect } = fx;
/** A queue name no other test uses. */
const qname = queueNamer('q');

const VERSION_LINE = /^VERSION (\d+)\.(\d+)\.(\d+)\r\n$/;

/** The connection still answers commands. */
async function expectOpen(c: TextClient): Promise<void> {
  expect(await c.call('version\r\n')).toMatch(VERSION_LINE);
}

/** Sends `text`; the server must reply exactly `reply` and then close the connection. */
async function expectReplyThenClose(c: TextClient, text: string | Buffer, reply: string): Promise<void> {
  c.send(text);
  expect(await c.readToClose()).toBe(reply);
  expect(c.closed).toBe(true);
}

describe('docs/protocol.md#framing framing', () => {
  it('accepts lines ended by \\n alone (\\r optional)', async () => {
    const c = await connect();
    const q = qname();
    expect(await c.call(`set ${q} 0 0 2\nab\r\n`)).toBe('STORED\r\n');
    expect(await c.call(`get ${q}\n`)).toBe(`VALUE ${q} 0 2\r\nab\r\nEND\r\n`);
    expect(await c.call('version\n')).toMatch(VERSION_LINE);
  });

  it('accepts tabs and runs of blanks between tokens, and leading/trailing blanks', async () => {
    const c = await connect();
    const q = qname();
    expect(await c.call(` \tset\t\t${q}  5 \t 0   3 \t\r\nabc\r\n`)).toBe('STORED\r\n');
    expect(await c.call(`\t get  \t ${q}\t \r\n`)).toBe(`VALUE ${q} 5 3\r\nabc\r\nEND\r\n`);
  });

  it('reads the command word case-insensitively and names case-sensitively', async () => {
    const c = await connect();
    const q = qname('CaseQ');
    expect(await c.call(setCmd(q, 'upper').toString('latin1').replace(/^set/, 'SET'))).toBe('STORED\r\n');
    expect(await c.call(`GET ${q.toLowerCase()}\r\n`)).toBe('END\r\n');
    expect(await c.call(`gEt ${q}\r\n`)).toBe(`VALUE ${q} 0 5\r\nupper\r\nEND\r\n`);
    expect(await c.call('VeRsIoN\r\n')).toMatch(VERSION_LINE);
  });

  it('answers an empty line with ERROR and stays open', async () => {
    const c = await connect();
    expect(await c.call('\r\n')).toBe('ERROR\r\n');
    expect(await c.call('\n')).toBe('ERROR\r\n');
    expect(await c.call(' \t \r\n')).toBe('ERROR\r\n');
    await expectOpen(c);
  });

  it('answers unknown commands with ERROR unknown command and stays open', async () => {
    const c = await connect();
    for (const line of ['bogus', 'incr q 1', 'decr q 1', 'touch q 10', 'gat 0 q', 'foo bar baz']) {
      expect(await c.call(`${line}\r\n`), line).toBe('ERROR unknown command\r\n');
    }
    await expectOpen(c);
  });

  it('skips the data block of add/replace/append/prepend/cas so the client stays in step', async () => {
    const c = await connect();
    const q = qname();
    c.send(`add ${q} 0 0 3\r\nabc\r\nversion\r\n`);
    expect(await c.readReply()).toBe('ERROR unknown command\r\n');
    expect(await c.readReply()).toMatch(VERSION_LINE);
    for (const cmd of [
      `replace ${q} 0 0 3\r\nabc\r\n`,
      `append ${q} 0 0 3\r\nabc\r\n`,
      `prepend ${q} 0 0 3\r\nabc\r\n`,
      `cas ${q} 0 0 3 1\r\nabc\r\n`,
      `ADD ${q} 0 0 5\r\nget q\r\n`,
    ]) {
      expect(await c.call(cmd), cmd).toBe('ERROR unknown command\r\n');
    }
    await expectOpen(c);
    // Nothing was stored by them.
    expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('closes on a line longer than 8 KiB without \\n, and other connections are unaffected', async () => {
    const other = await connect();
    const q = qname();
    expect(await other.call(setCmd(q, 'keep'))).toBe('STORED\r\n');
    const c = await connect();
    c.send(Buffer.alloc(8 * 1024 + 1, 0x61));
    expect(await c.readToClose()).toBe('CLIENT_ERROR line too long\r\n');
    await expectOpen(other);
    expect(await other.call(`get ${q}\r\n`)).toBe(`VALUE ${q} 0 4\r\nkeep\r\nEND\r\n`);
  });

  it('closes on an over-long line sent in small pieces (never buffers without bound)', async () => {
    const c = await connect();
    const piece = Buffer.alloc(512, 0x20); // blanks: a line that would be empty if it ever ended
    let closed = false;
    void c.waitClosed().then(() => (closed = true));
    for (let i = 0; i < 64 && !closed; i++) {
      c.send(piece);
      await new Promise((r) => setImmediate(r));
    }
    expect(await c.readToClose()).toBe('CLIENT_ERROR line too long\r\n');
  });

  it('accepts a line of up to 8 KiB (the CR LF terminator not counted)', async () => {
    const c = await connect();
    // 8192 bytes of line, ended by LF alone and by CR LF.
    expect(await c.call(`version${' '.repeat(8 * 1024 - 7)}\n`)).toMatch(VERSION_LINE);
    expect(await c.call(`version${' '.repeat(8 * 1024 - 7)}\r\n`)).toMatch(VERSION_LINE);
  });

  it('answers many pipelined commands from one write in request order', async () => {
    const c = await connect();
    const q = qname();
    const n = 200;
    const parts: Buffer[] = [];
    for (let i = 0; i < n; i++) parts.push(setCmd(q, `v${i}`, i));
    parts.push(Buffer.from('version\r\nbogus\r\n\r\n'));
    for (let i = 0; i < n; i++) parts.push(Buffer.from(i % 2 ? `get ${q}\r\n` : `gets ${q}\r\n`));
    parts.push(Buffer.from(`get ${q}\r\nversion\r\n`));
    c.send(Buffer.concat(parts));
    for (let i = 0; i < n; i++) expect(await c.readReply()).toBe('STORED\r\n');
    expect(await c.readReply()).toMatch(VERSION_LINE);
    expect(await c.readReply()).toBe('ERROR unknown command\r\n');
    expect(await c.readReply()).toBe('ERROR\r\n');
    for (let i = 0; i < n; i++) {
      const v = `v${i}`;
      const reply = await c.readReply();
      if (i % 2) expect(reply).toBe(`VALUE ${q} ${i} ${v.length}\r\n${v}\r\nEND\r\n`);
      else expect(reply).toMatch(new RegExp(`^VALUE ${q} ${i} ${v.length} \\d+\\r\\n${v}\\r\\nEND\\r\\n$`));
    }
    expect(await c.readReply()).toBe('END\r\n');
    expect(await c.readReply()).toMatch(VERSION_LINE);
  });

  it('handles a command split into single bytes', async () => {
    const c = await connect();
    const q = qname();
    const bytes = Buffer.concat([setCmd(q, 'a\r\nb'), Buffer.from(`get ${q}\r\n`)]);
    for (let i = 0; i < bytes.length; i++) c.send(bytes.subarray(i, i + 1));
    expect(await c.readReply()).toBe('STORED\r\n');
    expect(await c.readReply()).toBe(`VALUE ${q} 0 4\r\na\r\nb\r\nEND\r\n`);
  });

  it('selects the binary protocol by a first byte 0x80, text otherwise', async () => {
    const bin = await connect();
    const header = Buffer.alloc(24);
    header[0] = 0x80;
    header[1] = 0x0b; // VERSION
    header.writeUInt32BE(0x01020304, 12); // opaque
    bin.send(header);
    const reply = await bin.readBytes(24);
    expect(reply[0]).toBe(0x81);
    expect(reply[1]).toBe(0x0b);
    expect(reply.readUInt16BE(6)).toBe(0); // status OK
    expect(reply.readUInt32BE(12)).toBe(0x01020304);
    const body = await bin.readBytes(reply.readUInt32BE(8));
    expect(body.toString('latin1')).toMatch(/^\d+\.\d+\.\d+/);
    // A 0x80 byte later on a text connection is just a byte of a (bad) line.
    const text = await connect();
    await expectOpen(text);
    expect(await text.call(Buffer.from('\x80\r\n', 'latin1'))).toBe('ERROR unknown command\r\n');
    await expectOpen(text);
  });

  it('survives garbage on one connection without affecting another', async () => {
    const other = await connect();
    const c = await connect();
    const junk = Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 37 + 11) % 256).filter((b) => b !== 0x0a && b !== 0x80));
    c.send(Buffer.concat([Buffer.from('x'), junk, Buffer.from('\r\nversion\r\n')]));
    // Whatever the junk line produced, the server still answers here and on the other connection.
    await expectOpen(other);
    c.close();
    await expectOpen(other);
  });
});

describe('docs/protocol.md#names-and-keys names', () => {
  it('accepts a 200-byte name and refuses 201 bytes', async () => {
    const c = await connect();
    const ok = qname('n').padEnd(200, 'x');
    const bad = qname('n').padEnd(201, 'x');
    expect(await c.call(setCmd(ok, 'v'))).toBe('STORED\r\n');
    expect(await c.call(`get ${ok}\r\n`)).toBe(`VALUE ${ok} 0 1\r\nv\r\nEND\r\n`);
    expect(await c.call(setCmd(bad, 'v'))).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call(`get ${bad}\r\n`)).toBe('CLIENT_ERROR bad queue name\r\n');
    await expectOpen(c);
  });

  it("refuses '/', '+' (outside fanout) and non-printable bytes in names", async () => {
    const c = await connect();
    expect(await c.call(setCmd('a/b', 'v'))).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call('get +x\r\n')).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call('get a+b\r\n')).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call(Buffer.from('get a\x7fb\r\n', 'latin1'))).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call(Buffer.from('get a\x80b\r\n', 'latin1'))).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call(Buffer.from('get a\x01b\r\n', 'latin1'))).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call(setCmd('a\x00b', 'v'))).toBe('CLIENT_ERROR bad queue name\r\n');
    await expectOpen(c);
  });

  it("treats 'q.' as q, and refuses 'q.a.b' and '.c'", async () => {
    const c = await connect();
    const q = qname();
    expect(await c.call(setCmd(`${q}.`, 'dot'))).toBe('STORED\r\n');
    expect(await c.call(`get ${q}./peek\r\n`)).toBe(`VALUE ${q} 0 3\r\ndot\r\nEND\r\n`);
    expect(await c.call(`get ${q}\r\n`)).toBe(`VALUE ${q} 0 3\r\ndot\r\nEND\r\n`);
    expect(await c.call(`get ${q}.a.b\r\n`)).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call(setCmd(`${q}.a.b`, 'x'))).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call('get .c\r\n')).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call(`delete ${q}.a.b\r\n`)).toBe('CLIENT_ERROR bad queue name\r\n');
    expect(await c.call(`flush ${q}.a.b\r\n`)).toBe('CLIENT_ERROR bad queue name\r\n');
    await expectOpen(c);
  });

  it('accepts every printable name character other than / . + (names never reach the file system)', async () => {
    const c = await connect();
    const names = ['~x', '%2F', 'A-Z_a:z0-9', '!#$&*()[]{}<>?,;\'"`|\\=@^', `${qname()}~`];
    for (const name of names) {
      expect(await c.call(setCmd(name, name)), name).toBe('STORED\r\n');
      expect(await c.call(`get ${name}\r\n`), name).toBe(`VALUE ${name} 0 ${name.length}\r\n${name}\r\nEND\r\n`);
    }
  });

  it('limits a whole key to 250 bytes', async () => {
    const c = await connect();
    const q = qname('k').padEnd(200, 'k');
    expect(await c.call(setCmd(q, 'v'))).toBe('STORED\r\n');
    // 200 + 9 × '/peek' + '/t=10' = 250 bytes: allowed, and served.
    const key250 = `${q}${'/peek'.repeat(9)}/t=10`;
    expect(key250.length).toBe(250);
    expect(await c.call(`get ${key250}\r\n`)).toBe(`VALUE ${q} 0 1\r\nv\r\nEND\r\n`);
    // 251 bytes: refused with a CLIENT_ERROR, connection open, nothing taken.
    expect(await c.call(`get ${q}${'/peek'.repeat(9)}/t=100\r\n`)).toMatch(/^CLIENT_ERROR [^\r\n]+\r\n$/);
    expect(await c.call(`get ${q}${'/t=1'.repeat(12)}/t=10\r\n`)).toMatch(/^CLIENT_ERROR [^\r\n]+\r\n$/);
    await expectOpen(c);
    expect(await c.call(`get ${q}\r\n`)).toBe(`VALUE ${q} 0 1\r\nv\r\nEND\r\n`);
    await expectOpen(c);
  });
});

describe('docs/protocol.md#adding-items-set set', () => {
  it('stores a zero-length item as a real item', async () => {
    const c = await connect();
    const q = qname();
    expect(await c.call(`set ${q} 0 0 0\r\n\r\n`)).toBe('STORED\r\n');
    expect(await c.call(`set ${q} 0 0 1\r\nz\r\n`)).toBe('STORED\r\n');
    expect(await c.call(`get ${q}\r\n`)).toBe(`VALUE ${q} 0 0\r\n\r\nEND\r\n`);
    expect(await c.call(`get ${q}\r\n`)).toBe(`VALUE ${q} 0 1\r\nz\r\nEND\r\n`);
    expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('is binary safe: CR LF inside, END inside, and all 256 byte values', async () => {
    const c = await connect();
    const q = qname();
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const tricky = Buffer.from('\r\nEND\r\nVALUE x 0 1\r\n\r\n', 'latin1');
    const data = Buffer.concat([tricky, all, all.reverse()]);
    expect(await c.call(setCmd(q, data))).toBe('STORED\r\n');
    c.send(`get ${q}\r\n`);
    expect(await c.readLine()).toBe(`VALUE ${q} 0 ${data.length}`);
    expect((await c.readBytes(data.length)).equals(data)).toBe(true);
    expect(await c.readBytes(7)).toEqual(Buffer.from('\r\nEND\r\n'));
  });

  it('stores flags with the item and returns them, up to 4294967295', async () => {
    const c = await connect();
    const q = qname();
    for (const flags of [0, 1, 65535, 65536, 2147483648, 4294967295])
      expect(await c.call(setCmd(q, `f${flags}`, flags))).toBe('STORED\r\n');
    for (const flags of [0, 1, 65535, 65536, 2147483648, 4294967295]) {
      const v = `f${flags}`;
      expect(await c.call(`get ${q}\r\n`)).toBe(`VALUE ${q} ${flags} ${v.length}\r\n${v}\r\nEND\r\n`);
    }
  });

  it('reads and discards the data block on bad flags or exptime, then bad command line format; stays open', async () => {
    const c = await connect();
    const q = qname();
    const cases: Array<[string, string]> = [
      ['4294967296', '0'],
      ['-1', '0'],
      ['x', '0'],
      ['1.0', '0'],
      ['0', 'x'],
      ['0', '1.5'],
      ['0', '--1'],
    ];
    for (const [flags, exptime] of cases) {
      // The data looks like a command: if it were parsed as one, replies would go out of step.
      c.send(`set ${q} ${flags} ${exptime} 9\r\nversion\r\n\r\nversion\r\n`);
      expect(await c.readReply(), `${flags} ${exptime}`).toBe('CLIENT_ERROR bad command line format\r\n');
      expect(await c.readReply()).toMatch(VERSION_LINE);
    }
    expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('answers too few tokens with bad command line format and stays open', async () => {
    const c = await connect();
    const q = qname();
    expect(await c.call('set\r\n')).toBe('CLIENT_ERROR bad command line format\r\n');
    expect(await c.call(`set ${q}\r\n`)).toBe('CLIENT_ERROR bad command line format\r\n');
    expect(await c.call(`set ${q} 0 0\r\n`)).toBe('CLIENT_ERROR bad command line format\r\n');
    await expectOpen(c);
  });

  it.each(['-1', 'abc', '3x', '0x3', '+3'])('closes on bad <bytes> %s with bad data chunk', async (bytes) => {
    const c = await connect();
    await expectReplyThenClose(c, `set ${qname()} 0 0 ${bytes}\r\nabc\r\nversion\r\n`, 'CLIENT_ERROR bad data chunk\r\n');
  });

  it.each([
    ['too long', 'abcd\r\n'],
    ['no CR LF', 'abcXY'],
    ['LF only', 'abc\nversion\r\n'],
    ['CR then junk', 'abc\rXversion\r\n'],
  ])('closes when the data block is not followed by CR LF (%s)', async (_name, block) => {
    const c = await connect();
    const q = qname();
    await expectReplyThenClose(c, `set ${q} 0 0 3\r\n${block}`, 'CLIENT_ERROR bad data chunk\r\n');
    // Nothing was stored.
    const d = await connect();
    expect(await d.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('reads and discards a value over 16 MiB, then SERVER_ERROR object too large for cache; stays open', async () => {
    const c = await connect();
    const q = qname();
    const size = 16 * 1024 * 1024 + 1;
    c.send(`set ${q} 0 0 ${size}\r\n`);
    const chunk = Buffer.alloc(1024 * 1024, 0x41);
    for (let sent = 0; sent < size; sent += chunk.length) c.send(chunk.subarray(0, Math.min(chunk.length, size - sent)));
    c.send('\r\nversion\r\n');
    expect(await c.readReply()).toBe('SERVER_ERROR object too large for cache\r\n');
    expect(await c.readReply()).toMatch(VERSION_LINE);
    expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('accepts a value of exactly 16 MiB', async () => {
    const c = await connect();
    const q = qname();
    const size = 16 * 1024 * 1024;
    c.send(`set ${q} 0 0 ${size}\r\n`);
    const chunk = Buffer.alloc(1024 * 1024, 0x42);
    for (let sent = 0; sent < size; sent += chunk.length) c.send(chunk);
    c.send('\r\n');
    expect(await c.readReply()).toBe('STORED\r\n');
    const stats = await c.call('stats\r\n');
    expect(stat(stats, `queue_${q}_bytes`)).toBe(String(size));
    expect(await c.call(`flush ${q}\r\n`)).toBe('END\r\n');
  });

  it('sends no reply at all for noreply', async () => {
    const c = await connect();
    const q = qname();
    c.send(`set ${q} 3 0 1 noreply\r\na\r\nset ${q} 0 0 1 noreply\r\nb\r\n`);
    expect(await c.call('version\r\n')).toMatch(VERSION_LINE);
    expect(await c.call(`get ${q}\r\n`)).toBe(`VALUE ${q} 3 1\r\na\r\nEND\r\n`);
    expect(await c.call(`get ${q}\r\n`)).toBe(`VALUE ${q} 0 1\r\nb\r\nEND\r\n`);
  });

  it('treats a negative exptime as already expired', async () => {
    const c = await connect();
    const q = qname();
    expect(await c.call(setCmd(q, 'gone', 0, -1))).toBe('STORED\r\n');
    expect(await c.call(`get ${q}/peek\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('treats exptime below 1,000,000 as relative seconds and larger as absolute Unix seconds', async () => {
    const c = await connect();
    const q = qname();
    const now = Math.floor(Date.now() / 1000);
    expect(await c.call(setCmd(q, 'abs-past', 0, 1_000_000))).toBe('STORED\r\n'); // 1970: expired
    expect(await c.call(setCmd(q, 'abs-recent-past', 0, now - 5))).toBe('STORED\r\n');
    expect(await c.call(setCmd(q, 'rel-max', 0, 999_999))).toBe('STORED\r\n'); // ~11.6 days from now
    expect(await c.call(setCmd(q, 'abs-future', 0, now + 3600))).toBe('STORED\r\n');
    expect(await c.call(setCmd(q, 'never', 0, 0))).toBe('STORED\r\n');
    expect(await c.call(`get ${q}\r\n`)).toBe(`VALUE ${q} 0 7\r\nrel-max\r\nEND\r\n`);
    expect(await c.call(`get ${q}\r\n`)).toBe(`VALUE ${q} 0 10\r\nabs-future\r\nEND\r\n`);
    expect(await c.call(`get ${q}\r\n`)).toBe(`VALUE ${q} 0 5\r\nnever\r\nEND\r\n`);
    expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('expires a relative exptime after that many seconds (not milliseconds)', async () => {
    const c = await connect();
    const q = qname();
    const t0 = Date.now();
    expect(await c.call(setCmd(q, 'short', 0, 1))).toBe('STORED\r\n');
    expect(await c.call(setCmd(q, 'long', 0, 60))).toBe('STORED\r\n');
    expect(await c.call(`get ${q}/peek\r\n`)).toBe(`VALUE ${q} 0 5\r\nshort\r\nEND\r\n`);
    // Time is the event here: wait until the one-second expiry has passed.
    await new Promise((r) => setTimeout(r, Math.max(0, 1150 - (Date.now() - t0))));
    expect(await c.call(`get ${q}/peek\r\n`)).toBe(`VALUE ${q} 0 4\r\nlong\r\nEND\r\n`);
    expect(await c.call(`get ${q}\r\n`)).toBe(`VALUE ${q} 0 4\r\nlong\r\nEND\r\n`);
  });

  it('keeps a STORED item across kill -9', async () => {
    await withOwnServer(async (start) => {
      const s = await start();
      const c = await TextClient.connect(s.port);
      const n = 50;
      c.send(Buffer.concat(Array.from({ length: n }, (_, i) => setCmd('durable', `item${i}`, i))));
      for (let i = 0; i < n; i++) expect(await c.readReply()).toBe('STORED\r\n');
      await s.kill9();
      c.close();
      const s2 = await start();
      const d = await TextClient.connect(s2.port);
      for (let i = 0; i < n; i++)
        expect(await d.call('get durable\r\n')).toBe(`VALUE durable ${i} ${`item${i}`.length}\r\nitem${i}\r\nEND\r\n`);
      expect(await d.call('get durable\r\n')).toBe('END\r\n');
      d.close();
    });
  });
});

describe('docs/protocol.md#reading-items-get-and-gets get and gets', () => {
  it('answers END for an empty or unknown queue', async () => {
    const c = await connect();
    expect(await c.call(`get ${qname()}\r\n`)).toBe('END\r\n');
    expect(await c.call(`gets ${qname()}\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${qname()}/open\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${qname()}/peek\r\n`)).toBe('END\r\n');
  });

  it('answers get without a key with bad command line format', async () => {
    const c = await connect();
    expect(await c.call('get\r\n')).toBe('CLIENT_ERROR bad command line format\r\n');
    await expectOpen(c);
  });

  it('names the bare queue in VALUE, whatever options were given', async () => {
    const c = await connect();
    const q = qname('work');
    for (let i = 0; i < 3; i++) expect(await c.call(setCmd(q, `${i}${i}`))).toBe('STORED\r\n');
    expect(await c.call(`get ${q}/peek\r\n`)).toBe(`VALUE ${q} 0 2\r\n00\r\nEND\r\n`);
    expect(await c.call(`get ${q}/open\r\n`)).toBe(`VALUE ${q} 0 2\r\n00\r\nEND\r\n`);
    expect(await c.call(`get ${q}/close/open\r\n`)).toBe(`VALUE ${q} 0 2\r\n11\r\nEND\r\n`);
    expect(await c.call(`get ${q}/close\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${q}/t=10\r\n`)).toBe(`VALUE ${q} 0 2\r\n22\r\nEND\r\n`);
  });

  it('gets adds the item id as a fourth field, increasing per item', async () => {
    const c = await connect();
    const q = qname();
    for (const v of ['a', 'b', 'c']) expect(await c.call(setCmd(q, v, 9))).toBe('STORED\r\n');
    const ids: number[] = [];
    for (const v of ['a', 'b']) {
      const reply = await c.call(`gets ${q}\r\n`);
      const m = new RegExp(`^VALUE ${q} 9 1 (\\d+)\\r\\n${v}\\r\\nEND\\r\\n$`).exec(reply);
      expect(m, reply).not.toBeNull();
      ids.push(Number(m![1]));
    }
    const peek = /^VALUE \S+ 9 1 (\d+)\r\nc\r\nEND\r\n$/.exec(await c.call(`GETS ${q}/peek\r\n`));
    expect(peek).not.toBeNull();
    ids.push(Number(peek![1]));
    const again = /^VALUE \S+ 9 1 (\d+)\r\nc\r\nEND\r\n$/.exec(await c.call(`gets ${q}/open\r\n`));
    expect(Number(again![1])).toBe(ids[2]); // the same item has the same id
    expect(ids[0]! < ids[1]! && ids[1]! < ids[2]!).toBe(true);
    expect(await c.call(`get ${q}/close\r\n`)).toBe('END\r\n');
  });

  it('serves several keys in turn with a single END', async () => {
    const c = await connect();
    const a = qname('a');
    const b = qname('b');
    const e = qname('e');
    expect(await c.call(setCmd(a, 'a1', 1))).toBe('STORED\r\n');
    expect(await c.call(setCmd(a, 'a2', 2))).toBe('STORED\r\n');
    expect(await c.call(setCmd(b, 'b1', 3))).toBe('STORED\r\n');
    expect(await c.call(`get ${a} ${e} ${b} ${a} ${a}\r\n`)).toBe(
      `VALUE ${a} 1 2\r\na1\r\nVALUE ${b} 3 2\r\nb1\r\nVALUE ${a} 2 2\r\na2\r\nEND\r\n`,
    );
    expect(await c.call(`get ${a} ${b} ${e}\r\n`)).toBe('END\r\n');
    // gets with several keys: every VALUE line has the id.
    expect(await c.call(setCmd(a, 'x'))).toBe('STORED\r\n');
    expect(await c.call(setCmd(b, 'y'))).toBe('STORED\r\n');
    expect(await c.call(`gets ${a} ${b}\r\n`)).toMatch(
      new RegExp(`^VALUE ${a} 0 1 \\d+\\r\\nx\\r\\nVALUE ${b} 0 1 \\d+\\r\\ny\\r\\nEND\\r\\n$`),
    );
  });

  it('serves several keys with options, each as if requested alone', async () => {
    const c = await connect();
    const a = qname('a');
    const b = qname('b');
    expect(await c.call(setCmd(a, 'a1'))).toBe('STORED\r\n');
    expect(await c.call(setCmd(b, 'b1'))).toBe('STORED\r\n');
    expect(await c.call(setCmd(b, 'b2'))).toBe('STORED\r\n');
    expect(await c.call(`get ${a}/open ${b}/peek ${b}\r\n`)).toBe(
      `VALUE ${a} 0 2\r\na1\r\nVALUE ${b} 0 2\r\nb1\r\nVALUE ${b} 0 2\r\nb1\r\nEND\r\n`,
    );
    expect(await c.call(`get ${a}/close ${b}\r\n`)).toBe(`VALUE ${b} 0 2\r\nb2\r\nEND\r\n`);
    const d = await connect();
    expect(await d.call(`get ${a} ${b}\r\n`)).toBe('END\r\n');
  });

  it('refuses a plain get while this connection holds an open item on that queue; peek is allowed', async () => {
    const c = await connect();
    const q = qname();
    const other = qname();
    expect(await c.call(setCmd(q, 'one'))).toBe('STORED\r\n');
    expect(await c.call(setCmd(q, 'two'))).toBe('STORED\r\n');
    expect(await c.call(setCmd(other, 'o'))).toBe('STORED\r\n');
    expect(await c.call(`get ${q}/open\r\n`)).toBe(`VALUE ${q} 0 3\r\none\r\nEND\r\n`);
    expect(await c.call(`get ${q}\r\n`)).toBe('CLIENT_ERROR Close current item first\r\n');
    expect(await c.call(`get ${q}/t=10\r\n`)).toBe('CLIENT_ERROR Close current item first\r\n');
    expect(await c.call(`get ${q}/peek\r\n`)).toBe(`VALUE ${q} 0 3\r\ntwo\r\nEND\r\n`);
    // Another queue is not affected.
    expect(await c.call(`get ${other}\r\n`)).toBe(`VALUE ${other} 0 1\r\no\r\nEND\r\n`);
    // The refused get took nothing: after close, 'two' is still there.
    expect(await c.call(`get ${q}/close\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${q}\r\n`)).toBe(`VALUE ${q} 0 3\r\ntwo\r\nEND\r\n`);
  });

  it('peek does not remove', async () => {
    const c = await connect();
    const q = qname();
    expect(await c.call(setCmd(q, 'p', 4))).toBe('STORED\r\n');
    for (let i = 0; i < 3; i++) expect(await c.call(`get ${q}/peek\r\n`)).toBe(`VALUE ${q} 4 1\r\np\r\nEND\r\n`);
    const d = await connect();
    expect(await d.call(`get ${q}/peek\r\n`)).toBe(`VALUE ${q} 4 1\r\np\r\nEND\r\n`);
    expect(await d.call(`get ${q}\r\n`)).toBe(`VALUE ${q} 4 1\r\np\r\nEND\r\n`);
    expect(await c.call(`get ${q}/peek\r\n`)).toBe('END\r\n');
  });

  it('refuses unknown options and bad combinations with bad get option, taking nothing', async () => {
    const c = await connect();
    const q = qname();
    expect(await c.call(setCmd(q, 'safe'))).toBe('STORED\r\n');
    for (const opt of [
      '/opne',
      '/OPEN',
      '/abort/open',
      '/open/abort',
      '/abort/close',
      '/abort/peek',
      '/abort/t=10',
      '/peek/open',
      '/open/peek',
      '/peek/close',
      '/t=',
      '/t=x',
      '/t=-5',
      '/t=1.5',
      '/',
      '//open',
      '/t',
    ]) {
      expect(await c.call(`get ${q}${opt}\r\n`), opt).toBe('CLIENT_ERROR bad get option\r\n');
    }
    await expectOpen(c);
    // A typo never became a destructive get.
    expect(await c.call(`get ${q}/peek\r\n`)).toBe(`VALUE ${q} 0 4\r\nsafe\r\nEND\r\n`);
  });

  it('accepts options in any order', async () => {
    const c = await connect();
    const q = qname();
    expect(await c.call(setCmd(q, 'x'))).toBe('STORED\r\n');
    expect(await c.call(setCmd(q, 'y'))).toBe('STORED\r\n');
    expect(await c.call(`get ${q}/t=10/open\r\n`)).toBe(`VALUE ${q} 0 1\r\nx\r\nEND\r\n`);
    expect(await c.call(`get ${q}/open/close\r\n`)).toBe(`VALUE ${q} 0 1\r\ny\r\nEND\r\n`);
    expect(await c.call(`get ${q}/close/t=10\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${q}/peek/t=1\r\n`)).toBe('END\r\n');
  });

  it('runs the get q/close/open loop over every item, then END with nothing left', async () => {
    const c = await connect();
    const q = qname();
    const n = 5;
    for (let i = 0; i < n; i++) expect(await c.call(setCmd(q, `job${i}`))).toBe('STORED\r\n');
    for (let i = 0; i < n; i++) expect(await c.call(`get ${q}/close/open\r\n`)).toBe(`VALUE ${q} 0 4\r\njob${i}\r\nEND\r\n`);
    expect(await c.call(`get ${q}/close/open\r\n`)).toBe('END\r\n');
    const stats = await c.call('stats\r\n');
    expect(stat(stats, `queue_${q}_items`)).toBe('0');
    expect(stat(stats, `queue_${q}_open_transactions`)).toBe('0');
    // And nothing comes back when this connection goes away: everything was confirmed.
    c.close();
    const d = await connect();
    expect(await d.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('/close with nothing open is a no-op answering END', async () => {
    const c = await connect();
    const q = qname();
    expect(await c.call(setCmd(q, 'k'))).toBe('STORED\r\n');
    expect(await c.call(`get ${q}/close\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${q}/abort\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${q}\r\n`)).toBe(`VALUE ${q} 0 1\r\nk\r\nEND\r\n`);
  });
});

describe('docs/protocol.md#server-commands other commands', () => {
  it('delete drops the queue and its items → DELETED, then NOT_FOUND', async () => {
    const c = await connect();
    const q = qname();
    expect(await c.call(setCmd(q, 'x'))).toBe('STORED\r\n');
    expect(await c.call(`delete ${q}\r\n`)).toBe('DELETED\r\n');
    expect(await c.call(`delete ${q}\r\n`)).toBe('NOT_FOUND\r\n');
    expect(stat(await c.call('stats\r\n'), `queue_${q}_items`)).toBeUndefined();
    expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
    expect(await c.call(`delete ${qname('never')}\r\n`)).toBe('NOT_FOUND\r\n');
  });

  it('delete noreply sends nothing', async () => {
    const c = await connect();
    const q = qname();
    expect(await c.call(setCmd(q, 'x'))).toBe('STORED\r\n');
    c.send(`delete ${q} noreply\r\n`);
    await expectOpen(c);
    expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
  });

  it('flush removes every item of a queue → END, the queue stays', async () => {
    const c = await connect();
    const q = qname();
    const keep = qname();
    for (let i = 0; i < 3; i++) expect(await c.call(setCmd(q, `${i}`))).toBe('STORED\r\n');
    expect(await c.call(setCmd(keep, 'k'))).toBe('STORED\r\n');
    expect(await c.call(`flush ${q}\r\n`)).toBe('END\r\n');
    expect(await c.call(`get ${q}\r\n`)).toBe('END\r\n');
    const stats = await c.call('stats\r\n');
    expect(stat(stats, `queue_${q}_items`)).toBe('0');
    expect(stat(stats, `queue_${q}_total_flushes`)).toBe('1');
    expect(await c.call(`get ${keep}\r\n`)).toBe(`VALUE ${keep} 0 1\r\nk\r\nEND\r\n`);
    // A queue keeps working after a flush.
    expect(await c.call(setCmd(q, 'after'))).toBe('STORED\r\n');
    expect(await c.call(`get ${q}\r\n`)).toBe(`VALUE ${q} 0 5\r\nafter\r\nEND\r\n`);
  });

  it('flush_all empties every queue → OK', async () => {
    await withOwnInProcessServer(async (start) => {
      const s = await start();
      const c = await TextClient.connect(s.port);
      expect(await c.call(setCmd('fa', '1'))).toBe('STORED\r\n');
      expect(await c.call(setCmd('fb', '2'))).toBe('STORED\r\n');
      expect(await c.call('flush_all\r\n')).toBe('OK\r\n');
      expect(await c.call('get fa fb\r\n')).toBe('END\r\n');
      const stats = await c.call('stats\r\n');
      expect(stat(stats, 'curr_items')).toBe('0');
      expect(stat(stats, 'queue_fa_items')).toBe('0'); // queues stay
      expect(await c.call(setCmd('fa', '3'))).toBe('STORED\r\n');
      c.send('flush_all noreply\r\n');
      await expectOpen(c);
      expect(await c.call('get fa\r\n')).toBe('END\r\n');
      c.close();
    });
  });

  it('version → VERSION <semver> at least 1.0.0', async () => {
    const c = await connect();
    const m = VERSION_LINE.exec(await c.call('version\r\n'));
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(1);
  });

  it('verbosity <n> → OK; noreply sends nothing', async () => {
    const c = await connect();
    expect(await c.call('verbosity 1\r\n')).toBe('OK\r\n');
    expect(await c.call('verbosity 0\r\n')).toBe('OK\r\n');
    c.send('verbosity 1 noreply\r\n');
    await expectOpen(c);
  });

  it('quit closes the connection with no reply, and later pipelined commands are not run', async () => {
    const c = await connect();
    const q = qname();
    c.send(`quit\r\nset ${q} 0 0 1\r\nx\r\n`);
    expect(await c.readToClose()).toBe('');
    const d = await connect();
    expect(await d.call(`get ${q}\r\n`)).toBe('END\r\n');
    const e = await connect();
    e.send(`version\r\nQUIT\r\n`);
    expect(await e.readToClose()).toMatch(VERSION_LINE);
  });

  it('shutdown without --allow-shutdown → ERROR unknown command', async () => {
    const c = await connect();
    expect(await c.call('shutdown\r\n')).toBe('ERROR unknown command\r\n');
    await expectOpen(c);
  });

  it('stats lists the global keys in order, then per-queue keys, then END', async () => {
    const c = await connect();
    const q = qname('st');
    expect(await c.call(setCmd(q, 'abc'))).toBe('STORED\r\n');
    expect(await c.call(setCmd(q, 'de'))).toBe('STORED\r\n');
    expect(await c.call(`get ${q}/open\r\n`)).toBe(`VALUE ${q} 0 3\r\nabc\r\nEND\r\n`);
    const stats = await c.call('stats\r\n');
    const lines = stats.split('\r\n');
    expect(lines.pop()).toBe('');
    expect(lines.pop()).toBe('END');
    for (const line of lines) expect(line).toMatch(/^STAT \S+ \S*$/);
    const keys = lines.map((l) => l.split(' ')[1]!);
    const global = [
      'uptime',
      'time',
      'version',
      'pid',
      'curr_items',
      'total_items',
      'bytes',
      'curr_connections',
      'total_connections',
      'cmd_get',
      'cmd_set',
      'cmd_peek',
      'get_hits',
      'get_misses',
      'bytes_read',
      'bytes_written',
      'queue_creates',
      'queue_deletes',
      'queue_expires',
    ];
    expect(keys.slice(0, global.length)).toEqual(global);
    expect(stat(stats, 'version')).toMatch(/^siberite-\d+\.\d+\.\d+/);
    expect(Number(stat(stats, 'pid'))).toBe(fx.server.pid);
    expect(Math.abs(Number(stat(stats, 'time')) - Date.now() / 1000)).toBeLessThan(5);
    for (const k of global.filter((k) => k !== 'version')) expect(stat(stats, k), k).toMatch(/^\d+$/);
    const perQueue = [
      'items',
      'bytes',
      'total_items',
      'logsize',
      'expired_items',
      'mem_items',
      'mem_bytes',
      'age',
      'discarded',
      'waiters',
      'open_transactions',
      'transactions',
      'canceled_transactions',
      'total_flushes',
    ];
    for (const k of perQueue) expect(stat(stats, `queue_${q}_${k}`), k).toMatch(/^\d+$/);
    expect(stat(stats, `queue_${q}_items`)).toBe('1');
    expect(stat(stats, `queue_${q}_bytes`)).toBe('2');
    expect(stat(stats, `queue_${q}_total_items`)).toBe('2');
    expect(stat(stats, `queue_${q}_open_transactions`)).toBe('1');
    expect(stat(stats, `queue_${q}_transactions`)).toBe('1');
    expect(stat(stats, `queue_${q}_waiters`)).toBe('0');
    expect(Number(stat(stats, 'curr_connections'))).toBeGreaterThanOrEqual(1);
    expect(await c.call(`get ${q}/close\r\n`)).toBe('END\r\n');
  });

  it('counts cmd_get, cmd_set, cmd_peek, get_hits and get_misses', async () => {
    await withOwnInProcessServer(async (start) => {
      const s = await start();
      const c = await TextClient.connect(s.port);
      expect(await c.call(setCmd('cq', 'a'))).toBe('STORED\r\n');
      expect(await c.call(setCmd('cq', 'b'))).toBe('STORED\r\n');
      expect(await c.call('get cq/peek\r\n')).toBe('VALUE cq 0 1\r\na\r\nEND\r\n');
      expect(await c.call('get cq\r\n')).toBe('VALUE cq 0 1\r\na\r\nEND\r\n');
      expect(await c.call('get cq\r\n')).toBe('VALUE cq 0 1\r\nb\r\nEND\r\n');
      expect(await c.call('get cq\r\n')).toBe('END\r\n');
      const stats = await c.call('stats\r\n');
      expect(stat(stats, 'cmd_set')).toBe('2');
      expect(stat(stats, 'cmd_get')).toBe('3');
      expect(stat(stats, 'cmd_peek')).toBe('1');
      expect(stat(stats, 'get_hits')).toBe('3');
      expect(stat(stats, 'get_misses')).toBe('1');
      expect(stat(stats, 'total_items')).toBe('2');
      expect(stat(stats, 'curr_items')).toBe('0');
      expect(stat(stats, 'queue_creates')).toBe('1');
      c.close();
    });
  });

  it('a queue exists once named by set or get; stats lists it until delete', async () => {
    const c = await connect();
    const g = qname('byget');
    const s = qname('byset');
    expect(stat(await c.call('stats\r\n'), `queue_${g}_items`)).toBeUndefined();
    expect(await c.call(`get ${g}\r\n`)).toBe('END\r\n');
    expect(await c.call(setCmd(s, 'x'))).toBe('STORED\r\n');
    let stats = await c.call('stats\r\n');
    expect(stat(stats, `queue_${g}_items`)).toBe('0');
    expect(stat(stats, `queue_${s}_items`)).toBe('1');
    expect(await c.call(`delete ${g}\r\n`)).toBe('DELETED\r\n');
    stats = await c.call('stats\r\n');
    expect(stat(stats, `queue_${g}_items`)).toBeUndefined();
  });

  it('dump_stats prints one block per queue then END', async () => {
    const c = await connect();
    const q = qname('dump');
    expect(await c.call(setCmd(q, 'x'))).toBe('STORED\r\n');
    const dump = await c.call('dump_stats\r\n');
    expect(dump.endsWith('}\r\nEND\r\n')).toBe(true);
    const block = new RegExp(`queue '${q}' \\{\\r\\n((?:  \\w+=\\S*\\r\\n)+)\\}\\r\\n`).exec(dump);
    expect(block).not.toBeNull();
    expect(block![1]).toContain('  items=1\r\n');
  });
});
