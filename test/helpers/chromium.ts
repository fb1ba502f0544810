/**
 * Headless Chromium from Debian's `chromium` package (scripts/ensure-deps.sh
 * installs it for the tests), driven by playwright-core. No browser is ever
 * downloaded: the executable is the system's, each launch gets a fresh
 * user-data-dir, and every background service that could reach the network
 * is switched off.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function haveChromium(): boolean {
  return existsSync(CHROMIUM);
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A browser with a fresh profile; `viewport` in CSS pixels. */
export async function launchChromium(viewport = { width: 1000, height: 900 }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'ccm-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
