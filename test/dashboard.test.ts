import assert from 'node:assert/strict';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Locator, Page } from 'playwright-core';
import { DASHBOARD_CSP } from '../server/src/http/admin/dashboard-routes.ts';
import { launchChromium } from './helpers/browser.ts';
import { spawnScript, type Child } from './helpers/child.ts';
import { runCli } from './helpers/cli.ts';
import { SERVER_KEY, startServer } from './helpers/server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const PAGE_FOLDER = path.join(ROOT, 'server/dashboard');
/** A few polls (every 2 s) plus slack for a busy 2-core machine. */
const UI_TIMEOUT_MS = 10_000;

/** An admin token made the way an operator makes one: the CLI against the data folder. */
async function createAdminToken(t: TestContext, dataDir: string, name: string): Promise<string> {
  const run = await runCli(t, dataDir, ['tokens', 'create', name]);
  assert.equal(run.code, 0, run.err);
  const token = /\bsbt_[A-Za-z0-9_-]+/.exec(run.out)?.[0];
  assert.ok(token, `no token in the CLI's output:\n${run.out}`);
  return token;
}

async function spawnDashboardUplink(
  t: TestContext,
  url: string,
  env: { name: string; key: string },
): Promise<{ child: Child; id: string }> {
  const child = spawnScript(t, 'test/fixtures/dashboard-uplink.ts', {
    SB_URL: url,
    SB_KEY: env.key,
    SB_NAME: env.name,
  });
  const id = (await child.waitFor(/^ready /)).slice('ready '.length);
  return { child, id };
}

/** Resolves when the child exits; fails the test if it has not within `timeoutMs`. */
async function exitOf(child: Child, timeoutMs = UI_TIMEOUT_MS) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`child ${child.pid} did not exit`)), timeoutMs);
  });
  try {
    return await Promise.race([child.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** What the test reads from the page's globals (this project's tsconfig has no DOM types). */
interface PageGlobals {
  marker?: string;
  sessionStorage: { getItem(key: string): string | null; length: number };
  localStorage: { length: number };
}

/** Waits until `cell` shows exactly `count` (the page updates it at its next poll). */
async function waitForCount(cell: Locator, count: number): Promise<void> {
  await cell.filter({ hasText: new RegExp(`^${count}$`) }).waitFor({ timeout: UI_TIMEOUT_MS });
}

/** Clicks a button that asks for confirmation, accepting the dialog. */
async function clickConfirmed(page: Page, button: Locator): Promise<string> {
  const dialog = page.waitForEvent('dialog').then(async (shown) => {
    const message = shown.message();
    await shown.accept();
    return message;
  });
  await button.click();
  return dialog;
}

test('the dashboard page and its assets are served with a strict CSP; /_/admin redirects', async (t) => {
  const { url } = await startServer(t);
  const page = await fetch(`${url}/_/admin/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.equal(page.headers.get('content-security-policy'), DASHBOARD_CSP);
  assert.match(DASHBOARD_CSP, /script-src 'self'(;|$)/);
  assert.doesNotMatch(DASHBOARD_CSP, /unsafe-inline|unsafe-eval/);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(page.headers.get('x-frame-options'), 'DENY');
  assert.match(await page.text(), /<script type="module" src="assets\/app\.js"><\/script>/);

  const script = await fetch(`${url}/_/admin/assets/app.js`);
  assert.equal(script.status, 200);
  assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.equal(script.headers.get('content-security-policy'), DASHBOARD_CSP);
  const style = await fetch(`${url}/_/admin/assets/style.css`);
  assert.match(style.headers.get('content-type') ?? '', /^text\/css/);

  for (const name of ['nope.js', '..%2Fdashboard-routes.ts', '__proto__', 'index.html']) {
    const missing = await fetch(`${url}/_/admin/assets/${name}`);
    assert.equal(missing.status, 404, name);
    assert.equal(((await missing.json()) as { code: string }).code, 'SB_ERR_HTTP_NOT_FOUND');
  }

  const bare = await fetch(`${url}/_/admin`, { redirect: 'manual' });
  assert.equal(bare.status, 308);
  assert.equal(bare.headers.get('location'), '/_/admin/');
});

test('the page never turns data into markup and has no inline script or style', async () => {
  const files = await readdir(PAGE_FOLDER);
  for (const file of files.filter((name) => name.endsWith('.js'))) {
    const source = await readFile(path.join(PAGE_FOLDER, file), 'utf8');
    assert.doesNotMatch(source, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, file);
    assert.doesNotMatch(source, /localStorage/, `${file}: the token belongs in sessionStorage`);
  }
  const html = await readFile(path.join(PAGE_FOLDER, 'index.html'), 'utf8');
  for (const tag of html.match(/<script\b[^>]*>/g) ?? []) assert.match(tag, /\bsrc=/);
  assert.doesNotMatch(html, /<style\b|\sstyle=|\son[a-z]+=/i);
  // Every file the page loads is one the server serves.
  const served = await readFile(
    path.join(ROOT, 'server/src/http/admin/dashboard-routes.ts'),
    'utf8',
  );
  for (const [, asset] of html.matchAll(/"assets\/([^"]+)"/g)) {
    assert.ok(served.includes(`'${asset}'`), `${asset} is not in the served list`);
  }
});

test('dashboard in headless chromium: login, live uplinks and counts, drain, disconnect, revoke', async (t) => {
  const browser = await launchChromium(t);
  if (browser === undefined) return;
  const { sb, url, dataDir } = await startServer(t);
  const alphaKey = sb.keys.create('alpha-key', 'server');
  const betaKey = sb.keys.create('beta-key', 'server');
  sb.keys.create('gpu-key', 'server', { functions: 'gpu.*', endpoints: '/gpu/*' });
  const [token, spareToken, alpha, beta, gamma] = await Promise.all([
    createAdminToken(t, dataDir, 'dashboard-test'),
    createAdminToken(t, dataDir, 'dashboard-spare'),
    spawnDashboardUplink(t, url, { name: 'alpha', key: alphaKey.key }),
    spawnDashboardUplink(t, url, { name: 'beta', key: betaKey.key }),
    spawnDashboardUplink(t, url, { name: 'gamma', key: betaKey.key }),
  ]);

  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // Expected failures: the wrong token's 401 and the refused revoke's 400. A CSP violation or
    // a script error is not expected.
    if (message.type() === 'error' && !/status of 40[01]/.test(message.text()))
      problems.push(`console: ${message.text()}`);
  });
  let loads = 0;
  page.on('load', () => loads++);

  // Sign in: a wrong token is refused with its code, the right one opens the dashboard.
  await page.goto(`${url}/_/admin/`);
  await page.locator('#token').fill('sbt_not-a-real-token');
  await page.locator('#login-submit').click();
  const loginError = page.locator('#login-error');
  await loginError.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  assert.match(
    (await loginError.textContent()) ?? '',
    /not accepted \(SB_ERR_ADMIN_TOKEN_INVALID\)/,
  );
  assert.equal(await page.locator('#dashboard-view').isVisible(), false);

  await page.locator('#token').fill(token);
  await page.locator('#login-submit').click();
  await page.locator('#dashboard-view').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  const stored = await page.evaluate(() => {
    const { sessionStorage, localStorage } = globalThis as unknown as PageGlobals;
    return {
      session: sessionStorage.getItem('switchboard.adminToken'),
      local: localStorage.length,
    };
  });
  assert.deepEqual(stored, { session: token, local: 0 });

  // The uplinks, their functions and endpoint.
  const uplinkRow = (id: string) => page.locator(`#uplinks tr[data-uplink-id="${id}"]`);
  for (const { id } of [alpha, beta, gamma]) {
    await uplinkRow(id).waitFor({ timeout: UI_TIMEOUT_MS });
  }
  const alphaRow = uplinkRow(alpha.id);
  assert.match((await alphaRow.textContent()) ?? '', /alpha/);
  assert.match((await alphaRow.textContent()) ?? '', /alpha-key/);
  assert.match((await alphaRow.locator('td').nth(4).textContent()) ?? '', /add.*fail/);
  assert.equal(await alphaRow.locator('td').nth(5).textContent(), '/greet/:who');
  const addRow = page.locator('#functions tr[data-name="add"]');
  await addRow.waitFor({ timeout: UI_TIMEOUT_MS });
  const providers = await addRow.locator('td').nth(1).locator('.chip').allTextContents();
  assert.deepEqual(providers.sort(), ['alpha', 'beta', 'gamma']);
  await page.locator('#endpoints tr[data-name="/greet/:who"]').waitFor({ timeout: UI_TIMEOUT_MS });
  assert.equal(await page.locator('#status').textContent(), 'live');

  // Calls made elsewhere show up without a reload.
  await page.evaluate(() => {
    (globalThis as unknown as PageGlobals).marker = 'same page';
  });
  const countOf = async (row: Locator) => Number(await row.locator('td.count').textContent());
  const before = await countOf(addRow);
  const CALLS = 7;
  for (let i = 0; i < CALLS; i++) {
    const answer = await post(`${url}/_/call/add`, [i, 1]);
    assert.equal(await answer.json(), i + 1);
  }
  assert.equal((await post(`${url}/_/call/fail`, [])).status, 500);
  assert.equal(await (await fetch(`${url}/_/api/greet/ada`)).text(), 'hello ada');
  await waitForCount(addRow.locator('td.count'), before + CALLS);
  await page
    .locator('#errors tbody tr', { hasText: 'SB_ERR_REMOTE_ERROR' })
    .first()
    .waitFor({ timeout: UI_TIMEOUT_MS });
  await waitForCount(page.locator('#endpoints tr[data-name="/greet/:who"] td.count'), 1);
  assert.equal(
    await page.evaluate(() => (globalThis as unknown as PageGlobals).marker),
    'same page',
  );
  assert.equal(loads, 1, 'the page was reloaded');

  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });

  // Drain beta (it finishes and leaves for good) and disconnect gamma (it comes back).
  const drainButton = page.getByRole('button', { name: 'Drain uplink beta' });
  const drainMessage = await clickConfirmed(page, drainButton);
  assert.match(drainMessage, /Drain uplink "beta"/);
  assert.equal((await exitOf(beta.child)).code, 0);
  assert.ok(beta.child.lines.includes('closed SB_ERR_UPLINK_DRAINED'), beta.child.lines.join('\n'));
  await uplinkRow(beta.id).waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });

  const gammaConnects = gamma.child.lines.filter((line) => line === 'status connected').length;
  await clickConfirmed(page, uplinkRow(gamma.id).locator('button.disconnect'));
  await uplinkRow(gamma.id).waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
  await gamma.child.waitForCount(/^status connected$/, gammaConnects + 1);
  const newGamma = page.locator('#uplinks tbody tr', { hasText: 'gamma' });
  await newGamma.waitFor({ timeout: UI_TIMEOUT_MS });
  assert.notEqual(await newGamma.getAttribute('data-uplink-id'), gamma.id);
  assert.equal(gamma.child.process.exitCode, null, 'a disconnected uplink reconnects');

  // The keys view shows what each server key may register.
  await page
    .locator('#keys tr', { hasText: 'gpu-key' })
    .getByText('functions: gpu.* · endpoints: /gpu/*')
    .waitFor({ timeout: UI_TIMEOUT_MS });
  assert.match(
    await page.locator('#keys tr', { hasText: 'beta-key' }).innerText(),
    /all \(unscoped\)/,
  );

  // Revoke alpha's key: its uplink is closed and cannot come back.
  const keyRow = page.locator('#keys tr', { hasText: 'alpha-key' });
  await clickConfirmed(page, keyRow.locator('button.revoke'));
  assert.equal((await exitOf(alpha.child)).code, 0);
  assert.ok(alpha.child.lines.includes('closed SB_ERR_AUTH_BAD_KEY'), alpha.child.lines.join('\n'));
  await uplinkRow(alpha.id).waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
  await keyRow.locator('.chip.revoked').waitFor({ timeout: UI_TIMEOUT_MS });
  assert.equal(await keyRow.locator('button.revoke').isVisible(), false);

  // A refused action shows the API's message and code; the page carries on.
  const provisioned = page.locator('#keys tr', { hasText: 'test-server' });
  await clickConfirmed(page, provisioned.locator('button.revoke'));
  await page
    .locator('#flash.error', { hasText: 'SB_ERR_ADMIN_BAD_REQUEST' })
    .waitFor({ timeout: UI_TIMEOUT_MS });
  assert.equal(await provisioned.locator('.chip.active').count(), 1);

  assert.deepEqual(problems, []);

  // The admin token is revoked while the page is open: the next poll signs the page out.
  const revoked = await runCli(t, dataDir, ['tokens', 'revoke', 'dashboard-test']);
  assert.equal(revoked.code, 0, revoked.err);
  await page.locator('#login-view').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  assert.match(
    (await loginError.textContent()) ?? '',
    /no longer accepted \(SB_ERR_ADMIN_TOKEN_INVALID\)/,
  );
  assert.equal(
    await page.evaluate(() => (globalThis as unknown as PageGlobals).sessionStorage.length),
    0,
  );
  await page.locator('#token').fill(spareToken);
  await page.locator('#login-submit').click();
  await page.locator('#status', { hasText: 'live' }).waitFor({ timeout: UI_TIMEOUT_MS });

  // The server stops answering: the page says so and keeps trying.
  await sb.close();
  await page.locator('#disconnected').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  assert.equal(await page.locator('#status').textContent(), 'disconnected');
  assert.match((await page.locator('#disconnected').textContent()) ?? '', /Retrying/);

  // Log out forgets the token.
  await page.locator('#logout').click();
  await page.locator('#login-view').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  assert.equal(
    await page.evaluate(() => (globalThis as unknown as PageGlobals).sessionStorage.length),
    0,
  );
  assert.equal(loads, 1, 'the page was reloaded');
  // Polls of a closed server fail to load, as they should; nothing else may appear.
  assert.deepEqual(
    problems.filter((problem) => !/net::ERR_CONNECTION_REFUSED/.test(problem)),
    [],
  );
});
