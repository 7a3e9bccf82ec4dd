import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from './helpers/server.ts';

test('/healthz answers while the process is up; /readyz while the store answers', async (t) => {
  const { url } = await startServer(t);
  const health = await fetch(`${url}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const ready = await fetch(`${url}/readyz`);
  assert.equal(ready.status, 200);
  assert.equal(ready.headers.get('cache-control'), 'no-store');
  assert.deepEqual(await ready.json(), { status: 'ready' });
});
