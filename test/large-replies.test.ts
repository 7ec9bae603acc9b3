// No command stalls the server (docs/durability.md "Limits"): with many queues, `stats`,
// `dump_stats` and `flush_all` work in slices, so another client's request is answered while
// they are still being produced.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessServer, startInProcess } from './helpers/inProcess.js';
import { TextClient } from './helpers/textClient.js';

const QUEUES = Number(process.env.LR_QUEUES ?? 20_000);
let server: InProcessServer;

beforeAll(async () => {
  server = await startInProcess();
  // One pipelined write per 1,000 sets: 20,000 queues of one item each.
  const c = await TextClient.connect(server.port);
  for (let i = 0; i < QUEUES; i += 1000) {
    let batch = '';
    for (let k = i; k < i + 1000; k++) batch += `set q${k} 0 0 1\r\nx\r\n`;
    c.send(batch);
    for (let k = i; k < i + 1000; k++) expect(await c.readLine()).toBe('STORED');
  }
  c.close();
}, 120_000);
afterAll(async () => {
  await server.stop();
  server.cleanup();
});

/**
 * Sends `command` on one connection and, right after, `get probe` on another; returns the order
 * in which their first bytes arrive, and the whole long reply.
 */
async function race(command: string): Promise<{ order: string[]; reply: string }> {
  const order: string[] = [];
  const long = net.connect(server.port, '127.0.0.1');
  await new Promise<void>((resolve) => long.once('connect', () => resolve()));
  const probe = await TextClient.connect(server.port);
  let reply = '';
  const done = new Promise<void>((resolve) => {
    long.on('data', (d) => {
      if (reply === '') order.push('long');
      reply += d.toString('latin1');
      if (/(^|\r\n)(END|OK)\r\n$/.test(reply)) resolve();
    });
  });
  long.write(`${command}\r\n`);
  // The long command is read first; the probe follows while it is being produced.
  await new Promise((r) => setTimeout(r, 5));
  const probed = probe.call('get probe\r\n').then(() => order.push('probe'));
  await Promise.all([done, probed]);
  long.destroy();
  probe.close();
  return { order, reply };
}

describe(`with ${QUEUES} queues`, () => {
  it('stats answers another client in between its slices, and is whole', async () => {
    const { order, reply } = await race('stats');
    expect(order).toEqual(['probe', 'long']);
    expect(reply.match(/^STAT queue_q\d+_items 1\r$/gm)).toHaveLength(QUEUES);
    expect(reply.endsWith('END\r\n')).toBe(true);
  }, 60_000);

  it('dump_stats too', async () => {
    const { order, reply } = await race('dump_stats');
    expect(order).toEqual(['probe', 'long']);
    expect(reply.match(/^queue 'q\d+' \{\r$/gm)).toHaveLength(QUEUES);
  }, 60_000);

  it('flush_all too, and empties every queue', async () => {
    const { order, reply } = await race('flush_all');
    expect(order).toEqual(['probe', 'long']);
    expect(reply).toBe('OK\r\n');
    const c = await TextClient.connect(server.port);
    expect(await c.call('get q19999\r\n')).toBe('END\r\n');
    expect(await c.call('get q0\r\n')).toBe('END\r\n');
    c.close();
  }, 60_000);
});
