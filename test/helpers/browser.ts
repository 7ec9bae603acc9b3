// Debian's chromium, headless, driven by playwright-core, for the dashboard tests. Each launch
// gets a fresh profile directory (removed on close) and no background network traffic.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface BrowserHandle {
  /** A context on a fresh profile directory (playwright's form of --user-data-dir). */
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<BrowserHandle> {
  const profile = mkdtempSync(join(tmpdir(), 'siberite-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    viewport: { width: 1440, height: 1000 },
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
