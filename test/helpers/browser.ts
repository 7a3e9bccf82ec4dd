import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
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

/** A few dashboard polls (every 2 s) plus slack for a busy 2-core machine. */
export const UI_TIMEOUT_MS = 10_000;

/** A wide page signed in to `url`'s dashboard; script errors and failed requests go to `problems`. */
export async function openDashboard(
  browser: Browser,
  url: string,
  token: string,
  problems: string[],
): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  await page.goto(`${url}/_/admin/`);
  await page.locator('#token').fill(token);
  await page.locator('#login-submit').click();
  await page.locator('#dashboard-view').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  return page;
}
