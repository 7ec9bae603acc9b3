// The node floor of the comparison bench (bench/lib/nodeFloor.ts), started as compare.ts starts it
// (compareProcs' floorCommand, so dist/ must be built): it answers set/get/version like a Kestrel
// queue, whole values across split reads, pipelined requests in order, ERROR to anything else,
// closes a connection past its bounds, and a short flood.c run against it has no errors (skipped
// when cc is missing).
import { rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { rawCommand } from '../bench/lib/commands.js';
import { buildFlood, runFlood } from '../bench/lib/compareFlood.js';
import { missingPrograms } from '../bench/lib/compareMachine.js';
import { floorCommand, HOST, startServer, type ServerUnderTest } from '../bench/lib/compareProcs.js';
import { makeTempDir } from '../bench/lib/server.js';

const noCc = missingPrograms(['cc']).length > 0;

/** A connected socket and everything it has received so far. */
async function connect(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const socket = createConnection({ host: HOST, port });
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return { socket, received: () => text, closed };
}

/** Writes `data` and resolves once the kernel has it. */
function send(socket: Socket, data: string): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));
}

/** Resolves when `received()` matches `until`, polling on each 'data' event. */
function replyOf(socket: Socket, received: () => string, until: RegExp): Promise<string> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!until.test(received())) return;
      socket.off('data', check);
      resolve(received());
    };
    socket.on('data', check);
    check();
  });
}

describe('node floor (bench/lib/nodeFloor.ts)', () => {
  let floor: ServerUnderTest;
  let scratch = '';

  beforeAll(async () => {
    floor = (await startServer('floor', floorCommand, 20_000)).server;
  });

  afterAll(async () => {
    await floor?.child.stop(5000);
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  });

  const ask = (command: string, until: RegExp = /\r\n$/): Promise<string> => rawCommand(HOST, floor.port, command, until, 5000);

  it('answers version (the bench readiness probe)', async () => {
    expect(await ask('version\r\n')).toBe('VERSION floor\r\n');
  });

  it('set then get returns the value; the next get, on the empty queue, gives END', async () => {
    expect(await ask('set one 0 0 5\r\nhello\r\n')).toBe('STORED\r\n');
    expect(await ask('get one\r\n', /END\r\n$/)).toBe('VALUE one 0 5\r\nhello\r\nEND\r\n');
    expect(await ask('get one/t=100\r\n')).toBe('END\r\n');
    expect(await ask('get never-set\r\n')).toBe('END\r\n');
  });

  it('strips options after a slash in get and hands out the oldest item first', async () => {
    await ask('set fifo 0 0 1\r\na\r\n');
    await ask('set fifo 0 0 1\r\nb\r\n');
    expect(await ask('get fifo/t=10/open\r\n', /END\r\n$/)).toBe('VALUE fifo 0 1\r\na\r\nEND\r\n');
    expect(await ask('get fifo\r\n', /END\r\n$/)).toBe('VALUE fifo 0 1\r\nb\r\nEND\r\n');
  });

  it('stores a value split across two TCP writes whole', async () => {
    const c = await connect(floor.port);
    await send(c.socket, 'set split 0 0 10\r\nabcd');
    // A round trip on another connection: by then the server has read the first part on its own.
    expect(await ask('version\r\n')).toBe('VERSION floor\r\n');
    await send(c.socket, 'efghij\r\n');
    expect(await replyOf(c.socket, c.received, /\r\n$/)).toBe('STORED\r\n');
    c.socket.destroy();
    expect(await ask('get split\r\n', /END\r\n$/)).toBe('VALUE split 0 10\r\nabcdefghij\r\nEND\r\n');
  });

  it('answers a pipelined burst of 3 sets and 3 gets, sent in one write, with 6 replies in order', async () => {
    const burst = 'set pipe 0 0 1\r\n1\r\nset pipe 0 0 2\r\n22\r\nset pipe 0 0 3\r\n333\r\nget pipe\r\nget pipe\r\nget pipe\r\n';
    const reply = await ask(burst, /(END\r\n.*){3}$/s);
    expect(reply).toBe(
      'STORED\r\nSTORED\r\nSTORED\r\n' + 'VALUE pipe 0 1\r\n1\r\nEND\r\nVALUE pipe 0 2\r\n22\r\nEND\r\nVALUE pipe 0 3\r\n333\r\nEND\r\n',
    );
  });

  it('answers ERROR to an unknown command and goes on serving the connection', async () => {
    expect(await ask('stats\r\nversion\r\n', /VERSION floor\r\n$/)).toBe('ERROR\r\nVERSION floor\r\n');
  });

  it('closes the connection on a value over 1 MiB and on a line over 64 KiB', async () => {
    const big = await connect(floor.port);
    await send(big.socket, `set big 0 0 ${1024 * 1024 + 1}\r\n`);
    await big.closed;
    const long = await connect(floor.port);
    await send(long.socket, 'x'.repeat(64 * 1024 + 10));
    await long.closed;
    expect(big.received() + long.received()).toBe('');
  });

  it.skipIf(noCc)(`flood.c runs 0.5 s at 4 connections with no errors${noCc ? ' (skipped: cc not installed)' : ''}`, async () => {
    scratch = makeTempDir('siberite-floor-test-');
    const flood = buildFlood(scratch).binary;
    const r = await runFlood(flood, { port: floor.port, redis: false, conns: 4, seconds: 0.5, queues: 3, size: 64, prefix: 'fl' });
    expect(r.opsPerSec).toBeGreaterThan(0);
    expect(r.errors).toBe(0);
  });
});
