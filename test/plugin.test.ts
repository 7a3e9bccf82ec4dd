import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { switchboardPlugin } from '@switchboard/server';
import { connect } from '@switchboard/uplink';
import { SERVER_KEY, makeDataDir } from './helpers/server.ts';

test('the server mounts as a Fastify plugin next to the host app routes', async (t) => {
  const app = Fastify();
  app.get('/health', () => ({ ok: true }));
  await app.register(switchboardPlugin, {
    dataDir: await makeDataDir(t),
    keys: [{ name: 'k', key: SERVER_KEY, kind: 'server' }],
  });
  t.after(() => app.close());
  const url = await app.listen({ host: '127.0.0.1', port: 0 });

  const uplink = await connect({ url, key: SERVER_KEY });
  t.after(() => uplink.close());
  uplink.callable('shout', (s: string) => s.toUpperCase());
  await uplink.synced();

  assert.equal(await app.switchboard.call('shout', 'hi'), 'HI');
  assert.deepEqual(await (await fetch(`${url}/health`)).json(), { ok: true });
  const response = await fetch(`${url}/_/call/shout`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json' },
    body: '["yo"]',
  });
  assert.equal(await response.json(), 'YO');
});
