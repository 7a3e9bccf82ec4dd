import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Locator } from 'playwright-core';
import { connect } from '@switchboard/uplink';
import { UI_TIMEOUT_MS, launchChromium, openDashboard } from './helpers/browser.ts';
import { startNode } from './helpers/cluster.ts';
import { startNats } from './helpers/nats.ts';
import { SERVER_KEY, startServer } from './helpers/server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
/** A phone held upright, as in dashboard-narrow.test.ts. */
const PHONE = { width: 390, height: 844 };

/** The page's globals the test reads (this project's tsconfig has no DOM types). */
interface PageGlobals {
  document: { documentElement: { scrollWidth: number } };
}

/** Waits until `cell` shows exactly `text` (the page updates it at its next poll). */
async function waitForText(cell: Locator, text: string): Promise<void> {
  const exact = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  await cell.filter({ hasText: exact }).waitFor({ timeout: UI_TIMEOUT_MS });
}

/** The chips of a cell as `text/tone` ("node a/node"), sorted. */
async function chipsOf(cell: Locator): Promise<string[]> {
  const chips = await cell.locator('.chip').all();
  const described = await Promise.all(
    chips.map(async (chip) => {
      const tone = ((await chip.getAttribute('class')) ?? '').replace(/^chip\s*/, '');
      return `${await chip.textContent()}/${tone}`;
    }),
  );
  return described.sort();
}

test('the dashboard of a clustered server shows the other servers, what each serves, calls to them, and NATS lost', async (t) => {
  const nats = await startNats(t);
  if (nats === undefined) return;
  const browser = await launchChromium(t);
  if (browser === undefined) return;
  const [a, b] = await Promise.all([
    startNode(t, nats.url, 'a', false),
    startNode(t, nats.url, 'b', false),
  ]);

  // An uplink on a; the dashboard under test is b's.
  const uplink = await connect({ url: a.url, key: SERVER_KEY, name: 'gpu-worker' });
  t.after(() => uplink.close());
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  uplink.callable('gpu.add', (x: number, y: number) => x + y);
  uplink.callable('gpu.hold', async () => {
    await held;
    return 'released';
  });
  uplink.httpEndpoint('/gpu/:n', { methods: ['GET'] }, (req) => ({ n: req.params.n }));
  await uplink.synced();

  const problems: string[] = [];
  const page = await openDashboard(browser, b.url, b.token, problems);
  const section = page.locator('#cluster-section');
  await section.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  const state = section.locator('.cluster-state');
  await state.filter({ hasText: 'NATS connected' }).waitFor({ timeout: UI_TIMEOUT_MS });
  assert.match((await state.textContent()) ?? '', /^This server is node b NATS connected /);

  // Node a, with what it serves: the uplink's functions and endpoint, and its own `whoami`,
  // `sched.run`, `/limited`, `/me` and `/visit` (the fixture's in-process ones).
  const nodeA = page.locator('#cluster tr[data-node="a"]');
  const [name, functions, endpoints, inFlight, calls, errors] = [0, 1, 2, 3, 4, 5].map((n) =>
    nodeA.locator('td').nth(n),
  ) as [Locator, Locator, Locator, Locator, Locator, Locator];
  await functions.locator('.chip', { hasText: 'gpu.hold' }).waitFor({ timeout: UI_TIMEOUT_MS });
  assert.equal(await name.textContent(), 'a');
  assert.deepEqual(await chipsOf(functions), [
    'gpu.add/fn',
    'gpu.hold/fn',
    'sched.run/fn',
    'whoami/fn',
  ]);
  assert.deepEqual(await chipsOf(endpoints), [
    '/gpu/:n/path',
    '/limited/path',
    '/me/path',
    '/visit/path',
  ]);
  assert.equal(await page.locator('#cluster tbody tr').count(), 1, 'only the other server');
  assert.match((await state.textContent()) ?? '', /1 other server in the cluster/);

  // The functions and endpoints lists say which node serves what; the uplink is not b's own.
  const providers = (table: string, key: string) =>
    page.locator(`#${table} tr[data-name="${key}"] td`).nth(1);
  await providers('functions', 'gpu.add').waitFor({ timeout: UI_TIMEOUT_MS });
  assert.deepEqual(await chipsOf(providers('functions', 'gpu.add')), ['node a/node']);
  assert.deepEqual(await chipsOf(providers('functions', 'whoami')), [
    'app/provider',
    'node a/node',
  ]);
  assert.deepEqual(await chipsOf(providers('endpoints', '/gpu/:n')), ['node a/node']);
  assert.equal(await page.locator('#uplinks tbody tr').count(), 0);

  // A call through b to the uplink on a is in flight to a, then counted as served by it.
  assert.equal(await inFlight.textContent(), '0');
  const pending = fetch(`${b.url}/_/call/gpu.hold`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json' },
    body: '[]',
  });
  await waitForText(inFlight, '1');
  release();
  const answer = await pending;
  assert.equal(answer.status, 200);
  assert.equal(await answer.json(), 'released');
  await waitForText(calls, '1');
  assert.equal(await inFlight.textContent(), '0');
  assert.equal(await errors.textContent(), '0');
  const api = (await (
    await fetch(`${b.url}/_/admin/api/v1/cluster/`, {
      headers: { authorization: `Token ${b.token}` },
    })
  ).json()) as { peers: Array<{ node: string; calls_served: number; errors: number }> };
  assert.deepEqual(
    api.peers.map(({ node, calls_served, errors: failed }) => ({ node, calls_served, failed })),
    [{ node: 'a', calls_served: 1, failed: 0 }],
  );

  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-cluster.png'), fullPage: true });
  // On a phone the card fits too: its table scrolls inside it, the page not sideways.
  await page.setViewportSize(PHONE);
  const scrollWidth = await page.evaluate(
    () => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth,
  );
  assert.ok(scrollWidth <= PHONE.width, `the page is ${scrollWidth} px wide on a phone`);
  await page.setViewportSize({ width: 1440, height: 1000 });

  // NATS gone: b says it is degraded, and a leaves its lists.
  await nats.stop();
  await state.filter({ hasText: 'degraded' }).waitFor({ timeout: UI_TIMEOUT_MS });
  assert.match((await section.getAttribute('class')) ?? '', /\bis-degraded\b/);
  assert.match((await state.textContent()) ?? '', /^This server is node b degraded NATS is not/);
  await nodeA.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
  await page
    .locator('#functions tr[data-name="gpu.add"]')
    .waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
  assert.equal(await section.locator('.empty').textContent(), 'No other server is reachable.');
  assert.equal(await section.locator('.empty').isVisible(), true);
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-cluster-degraded.png') });
  assert.deepEqual(problems, []);
});

test('the dashboard of a server on its own shows no cluster card and no node chips', async (t) => {
  const browser = await launchChromium(t);
  if (browser === undefined) return;
  const { sb, url } = await startServer(t);
  const { token } = sb.app.switchboard.adminTokens.create('dashboard-alone');
  const uplink = await connect({ url, key: SERVER_KEY, name: 'solo' });
  t.after(() => uplink.close());
  uplink.callable('solo.add', (x: number, y: number) => x + y);
  await uplink.synced();

  const cluster = await fetch(`${url}/_/admin/api/v1/cluster/`, {
    headers: { authorization: `Token ${token}` },
  });
  assert.deepEqual(await cluster.json(), { clustered: false });

  const problems: string[] = [];
  const page = await openDashboard(browser, url, token, problems);
  // The row appears at the end of a poll's render, which has then drawn (or hidden) the card.
  const row = page.locator('#functions tr[data-name="solo.add"]');
  await row.waitFor({ timeout: UI_TIMEOUT_MS });
  await page.locator('#updated').filter({ hasText: 'Updated' }).waitFor({ timeout: UI_TIMEOUT_MS });
  assert.equal(await page.locator('#cluster-section').isVisible(), false);
  assert.equal(await page.locator('#cluster tbody tr').count(), 0);
  assert.deepEqual(await chipsOf(row.locator('td').nth(1)), ['solo/provider']);
  assert.equal(await page.locator('.chip.node').count(), 0);
  assert.deepEqual(problems, []);
});
