import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DASHBOARD_CSP } from '../server/src/admin/dashboard-routes.ts';
import { startServer } from './helpers/server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PAGE_FOLDER = path.join(ROOT, 'server/src/admin/dashboard');

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
  const served = await readFile(path.join(ROOT, 'server/src/admin/dashboard-routes.ts'), 'utf8');
  for (const [, asset] of html.matchAll(/"assets\/([^"]+)"/g)) {
    assert.ok(served.includes(`'${asset}'`), `${asset} is not in the served list`);
  }
});
