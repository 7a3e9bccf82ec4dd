import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { inCi } from './ci.ts';

/** Debian's chromium (`npm run setup:test`); `SWITCHBOARD_CHROMIUM` points elsewhere. */
export const CHROMIUM_PATH = process.env.SWITCHBOARD_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Launches the system's headless chromium through playwright-core (which never downloads a
 * browser of its own), closed when the test ends. Without chromium the test is skipped with a
 * hint, except in CI, where it fails: CI installs chromium, so a missing one is a broken setup.
 */
export async function launchChromium(t: TestContext): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM_PATH)) {
    const message = `chromium not found at ${CHROMIUM_PATH}; install it with \`npm run setup:test\` (or set SWITCHBOARD_CHROMIUM)`;
    if (inCi()) throw new Error(`${message}; CI must run the browser tests`);
    t.skip(message);
    return undefined;
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    // Playwright's default, said out loud: chromium's sandbox cannot start as root (CI is
    // root); the page under test is our own, served from 127.0.0.1.
    chromiumSandbox: false,
    args: ['--disable-dev-shm-usage', '--disable-gpu'],
    timeout: 30_000,
  });
  t.after(() => browser.close());
  return browser;
}
