import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect } from '@switchboard/uplink';
import { launchChromium } from './helpers/browser.ts';
import { runCli } from './helpers/cli.ts';
import { SERVER_KEY, startServer } from './helpers/server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
/** A few polls (every 2 s) plus slack for a busy 2-core machine. */
const UI_TIMEOUT_MS = 10_000;
/** A phone held upright (iPhone 12 to 15). */
const PHONE = { width: 390, height: 844 };

/** The page's globals the test reads (this project's tsconfig has no DOM types). */
interface PageGlobals {
  document: { documentElement: { scrollWidth: number; clientWidth: number } };
}

test('the dashboard fits a 390 px wide phone: no sideways scrolling, with long names in every table', async (t) => {
  const browser = await launchChromium(t);
  if (browser === undefined) return;
  const { sb, url, dataDir } = await startServer(t);
  // Long unbroken names, as real ones are: they must wrap, not widen the page.
  const key = sb.keys.create('gpu-box-in-the-basement-behind-the-nat', 'server');
  sb.keys.create('scoped-key-for-the-image-pipeline', 'server', {
    functions: 'images.thumbnails.*',
    endpoints: '/images/thumbnails/*',
  });
  const uplink = await connect({ url, key: key.key, name: 'render-worker-eu-west-1-a7f3c2' });
  t.after(() => uplink.close());
  uplink.callable('images.thumbnails.generateForAlbumWithWatermark', (n: number) => n);
  uplink.callable('fail', () => {
    throw new Error('a long error message that a narrow screen has to wrap somewhere sensible');
  });
  uplink.httpEndpoint(
    '/images/thumbnails/:albumId/:photoId/variants',
    { methods: ['GET'] },
    () => 'ok',
  );
  await uplink.synced();
  const call = (name: string, args: unknown[]) =>
    fetch(`${url}/_/call/${name}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(args),
    });
  await call('images.thumbnails.generateForAlbumWithWatermark', [1]);
  assert.equal((await call('fail', [])).status, 500);

  const created = await runCli(t, dataDir, ['tokens', 'create', 'phone']);
  const token = /\bsbt_[A-Za-z0-9_-]+/.exec(created.out)?.[0] ?? assert.fail(created.out);
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1 });
  const page = await context.newPage();
  await page.goto(`${url}/_/admin/`);
  const width = () =>
    page.evaluate(() => {
      const { documentElement } = (globalThis as unknown as PageGlobals).document;
      return { scroll: documentElement.scrollWidth, client: documentElement.clientWidth };
    });
  assert.ok((await width()).scroll <= PHONE.width, 'the sign-in form fits');

  await page.locator('#token').fill(token);
  await page.locator('#login-submit').click();
  await page.locator('#dashboard-view').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  await page
    .locator('#functions tr[data-name="images.thumbnails.generateForAlbumWithWatermark"]')
    .waitFor({ timeout: UI_TIMEOUT_MS });
  await page
    .locator('#errors tbody tr', { hasText: 'SB_ERR_REMOTE_ERROR' })
    .first()
    .waitFor({ timeout: UI_TIMEOUT_MS });

  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-390.png'), fullPage: true });
  const { scroll, client } = await width();
  assert.ok(scroll <= PHONE.width, `the page is ${scroll} px wide in a ${client} px viewport`);
});
