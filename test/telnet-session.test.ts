// The README's telnet session, byte for byte.
import { expect, it } from 'vitest';
import { useInProcessServer } from './helpers/inProcess.js';
import { TextClient } from './helpers/textClient.js';

const fx = useInProcessServer();

it('answers the README telnet session exactly', async () => {
  const c = await TextClient.connect(fx.server.port);
  expect(await c.call('set work 0 0 10\r\n1234567890\r\n')).toBe('STORED\r\n');
  expect(await c.call('set work 0 0 2\r\n12\r\n')).toBe('STORED\r\n');
  expect(await c.call('get work\r\n')).toBe('VALUE work 0 10\r\n1234567890\r\nEND\r\n');
  expect(await c.call('get work/open\r\n')).toBe('VALUE work 0 2\r\n12\r\nEND\r\n');
  expect(await c.call('get work/close\r\n')).toBe('END\r\n');
  const stats = await c.call('stats\r\n');
  expect(stats).toMatch(/^STAT uptime \d+\r\n/);
  expect(stats).toContain('STAT queue_work_items 0\r\n');
  expect(stats).toContain('STAT queue_work_open_transactions 0\r\n');
  expect(stats.endsWith('END\r\n')).toBe(true);
  c.close();
});
