// The dashboard (GET /) in real headless Chromium against a real server: it loads without a
// console error, shows a queue created over the memcache port, follows its depth, draws charts,
// and pages and filters the table. Writes docs/images/dashboard.png when SIBERITE_SCREENSHOT
// is set (the README's screenshot).
import { resolve } from 'node:path';
import { type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminHandle, startAdminServer } from './helpers/admin.js';
import { type BrowserHandle, launchChromium } from './helpers/browser.js';
import { Clients } from './helpers/fixtures.js';
import { type TextClient, setCmd } from './helpers/textClient.js';

let server: AdminHandle;
let chromium: BrowserHandle;
let page: Page;
const problems: string[] = [];
const clients = new Clients();

beforeAll(async () => {
  server = await startAdminServer();
  chromium = await launchChromium();
  page = await chromium.context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));
}, 60_000);

afterAll(async () => {
  clients.closeAll();
  await chromium?.close();
  if (server) {
    expect(await server.stop()).toBe(0);
    server.cleanup();
  }
});

async function fill(c: TextClient, queue: string, count: number): Promise<void> {
  c.send(Buffer.concat(Array.from({ length: count }, (_, i) => setCmd(queue, `value-${i}`))));
  for (let i = 0; i < count; i++) expect(await c.readLine()).toBe('STORED');
}

/** The depth the table shows for `queue` (data-items of its row), once it appears. */
function depthCell(queue: string) {
  return page.locator(`tr[data-queue="${queue}"] td[data-items]`);
}

/** Pixels of the dashboard's series colours on a chart's canvas. Runs in the page. */
function seriesPixels(el: HTMLCanvasElement): number {
  // Read through a copy made for reading, so Chromium does not warn about slow readbacks.
  const copy = document.createElement('canvas');
  copy.width = el.width;
  copy.height = el.height;
  const ctx = copy.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(el, 0, 0);
  const { data } = ctx.getImageData(0, 0, el.width, el.height);
  const palette = [0x3b6fe0, 0x1f9d63, 0xd99a1e, 0xd8453b, 0x8a55d6, 0x2aa5b8];
  const near = (v: number, c: number, shift: number) => Math.abs(v - ((c >> shift) & 0xff)) < 40;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
    if (palette.some((c) => near(r, c, 16) && near(g, c, 8) && near(b, c, 0))) n++;
  }
  return n;
}

describe('dashboard', () => {
  it('loads with no console errors, shows a new queue and follows its depth', async () => {
    const c = await clients.connect(server.port);
    await fill(c, 'orders', 3);
    const reply = await page.goto(`http://127.0.0.1:${server.adminPort}/`);
    expect(reply?.status()).toBe(200);
    await expect.poll(() => depthCell('orders').getAttribute('data-items'), { timeout: 10_000 }).toBe('3');
    await fill(c, 'orders', 4);
    await expect.poll(() => depthCell('orders').getAttribute('data-items'), { timeout: 10_000 }).toBe('7');
    expect(await page.locator('#store').textContent()).toBe('store writable');
    expect(await page.locator('#ready').textContent()).toBe('ready');
    expect(problems).toEqual([]);
  });

  it('draws the charts with points', async () => {
    // Samples come every two seconds: wait for at least two in the throughput chart.
    await expect
      .poll(async () => Number(await page.locator('#chart-rates').getAttribute('data-points')), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(2);
    for (const id of ['rates', 'depth', 'conns', 'process']) {
      const chart = page.locator(`#chart-${id}`);
      await expect.poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
      expect(await chart.locator('canvas').count(), id).toBe(1);
      // A line was drawn: the canvas holds pixels of a series colour (uPlot draws on the next frame).
      await expect
        .poll(() => chart.locator('canvas').evaluate(seriesPixels), { timeout: 5000, message: `${id}: series pixels` })
        .toBeGreaterThan(20);
    }
    await expect.poll(() => page.locator('#chart-depth .u-legend').textContent(), { timeout: 10_000 }).toContain('orders');
    expect(problems).toEqual([]);
  });

  it('filters, sorts and pages the table', async () => {
    const c = await clients.connect(server.port);
    c.send(Buffer.concat(Array.from({ length: 120 }, (_, i) => setCmd(`page${String(i).padStart(3, '0')}`, 'x'))));
    for (let i = 0; i < 120; i++) expect(await c.readLine()).toBe('STORED');
    await page.fill('#filter', 'page');
    await expect.poll(() => page.locator('#range').textContent(), { timeout: 10_000 }).toBe('1–50 of 120');
    await page.click('th[data-sort="name"]');
    await expect.poll(() => page.locator('#queues tbody tr').first().getAttribute('data-queue'), { timeout: 10_000 }).toBe('page000');
    await page.click('#next');
    await expect.poll(() => page.locator('#range').textContent(), { timeout: 10_000 }).toBe('51–100 of 120');
    expect(await page.locator('#queues tbody tr').first().getAttribute('data-queue')).toBe('page050');
    await page.fill('#filter', 'no-such-queue');
    await expect.poll(() => page.locator('#queues tbody').textContent(), { timeout: 10_000 }).toBe('No queue matches the filter.');
    expect(problems).toEqual([]);
  });

  // Only for docs/images/dashboard.png: a few seconds of traffic over queues of several shapes.
  it.runIf(process.env['SIBERITE_SCREENSHOT'])(
    'takes the screenshot for the docs',
    async () => {
      const producer = await clients.connect(server.port);
      const consumer = await clients.connect(server.port);
      const holder = await clients.connect(server.port);
      await fill(producer, 'emails', 240);
      await fill(producer, 'thumbnails', 90);
      await fill(producer, 'payments', 12);
      expect(await holder.call('get payments/open\r\n')).toContain('VALUE');
      expect(await consumer.call('get payments.audit\r\n')).toContain('VALUE');
      let running = true;
      const traffic = (async () => {
        for (let round = 0; running && round < 1000; round++) {
          await fill(producer, 'orders', 10 + Math.round(8 * Math.sin(round / 6)));
          await fill(producer, 'webhooks', 3);
          consumer.send(Buffer.concat(Array.from({ length: 7 }, () => Buffer.from('get orders\r\n'))));
          for (let i = 0; i < 7; i++) await consumer.readReply();
          consumer.send(Buffer.from('get webhooks\r\nget emails\r\n'));
          await consumer.readReply();
          await consumer.readReply();
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      await page.fill('#filter', '');
      await page.click('th[data-sort="items"]'); // back to deepest first (name sort was last)
      await expect.poll(() => page.locator('#queues tbody tr').first().getAttribute('data-queue'), { timeout: 10_000 }).toBe('orders');
      await page.waitForTimeout(14_000); // charts fill with traffic; the rows get their in/out rates
      await page.screenshot({ path: resolve(import.meta.dirname, '../docs/images/dashboard.png') });
      running = false;
      await traffic;
    },
    60_000,
  );
});
