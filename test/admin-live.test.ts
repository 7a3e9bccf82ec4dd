import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnHttpUplink, spawnUplink } from './helpers/child.ts';
import { expectError } from './helpers/http-client.ts';
import { SERVER_KEY } from './helpers/server.ts';
import { jsonOf, startAdminServer } from './helpers/admin.ts';

interface Stats {
  count: number;
  errors: number;
  in_flight: number;
  last_error: { code: string; message: string; at: string } | null;
  avg_ms: number | null;
  p99_ms: number | null;
}

interface FunctionJson {
  name: string;
  allow_clients: boolean;
  providers: string[];
  stats: Stats;
}

interface EndpointJson {
  path: string;
  methods: string[];
  providers: string[];
  stats: Stats;
}

interface ErrorJson {
  at: string;
  code: string;
  message: string;
  function: string | null;
  endpoint: string | null;
  uplink: string | null;
}

interface ListJson<T> {
  objects: T[];
  num_results: number;
  page: number;
  total_pages: number;
}

test('functions/, endpoints/ and errors/ show providers and live call statistics', async (t) => {
  const server = await startAdminServer(t);
  const { sb, admin, url } = server;
  const [child, http] = await Promise.all([
    spawnUplink(t, url, SERVER_KEY),
    spawnHttpUplink(t, url, SERVER_KEY),
  ]);
  const childId = child.lines.find((line) => line.startsWith('ready '))!.replace('ready ', '');
  const httpId = http.lines.find((line) => line.startsWith('ready '))!.replace('ready ', '');
  sb.callable('now', () => 1);

  for (let i = 0; i < 3; i++) assert.equal(await sb.call('add', i, 1), i + 1);
  await assert.rejects(sb.call('fail'), { code: 'SB_ERR_REMOTE_ERROR' });
  const hanging = sb.callWithOptions('hang', [], { timeoutMs: 60_000 });
  hanging.catch(() => {}); // cancelled when the test ends
  await child.waitFor(/^started hang$/);
  assert.equal((await fetch(`${url}/_/api/users/7`)).status, 200);
  assert.equal((await fetch(`${url}/_/api/throws`)).status, 500);

  const functions = await jsonOf<ListJson<FunctionJson>>(await admin('functions/'));
  const fn = (name: string) => functions.objects.find((f) => f.name === name)!;
  const names = functions.objects.map((f) => f.name);
  assert.deepEqual(names, [...names].sort(), 'sorted by name');
  assert.deepEqual(fn('add').providers, [childId]);
  assert.equal(fn('add').allow_clients, true);
  assert.equal(fn('echo').allow_clients, false);
  assert.equal(fn('add').stats.count, 3);
  assert.equal(fn('add').stats.errors, 0);
  assert.equal(fn('add').stats.last_error, null);
  assert.equal(typeof fn('add').stats.avg_ms, 'number');
  assert.equal(typeof fn('add').stats.p99_ms, 'number');
  assert.deepEqual(
    { ...fn('fail').stats, last_error: fn('fail').stats.last_error?.code },
    { ...fn('fail').stats, count: 1, errors: 1, last_error: 'SB_ERR_REMOTE_ERROR' },
  );
  assert.equal(fn('hang').stats.in_flight, 1);
  assert.equal(fn('hang').stats.avg_ms, null);
  assert.deepEqual(fn('now').providers, ['app']);
  assert.equal(fn('now').stats.count, 0);
  assert.deepEqual(fn('sb.users.list').providers, ['app'], 'built-ins are listed too');

  const endpoints = await jsonOf<ListJson<EndpointJson>>(await admin('endpoints/'));
  const ep = (path: string) => endpoints.objects.find((e) => e.path === path)!;
  assert.deepEqual(ep('/users/:id').methods, ['GET', 'PUT', 'DELETE']);
  assert.deepEqual(ep('/users/:id').providers, [httpId]);
  assert.equal(ep('/users/:id').stats.count, 1);
  assert.equal(ep('/throws').stats.errors, 1);
  assert.equal(ep('/throws').stats.last_error?.code, 'SB_ERR_REMOTE_ERROR');
  assert.equal(ep('/text').stats.count, 0);

  const errors = await jsonOf<ListJson<ErrorJson>>(await admin('errors/'));
  assert.equal(errors.num_results, 2);
  const [newest, older] = errors.objects;
  assert.deepEqual(
    { ...newest!, at: typeof newest!.at, message: typeof newest!.message },
    {
      at: 'string',
      code: 'SB_ERR_REMOTE_ERROR',
      message: 'string',
      function: null,
      endpoint: '/throws',
      uplink: httpId,
    },
  );
  assert.equal(older!.function, 'fail');
  assert.equal(older!.endpoint, null);
  assert.equal(older!.uplink, childId);
  assert.ok(Date.parse(newest!.at) >= Date.parse(older!.at), 'newest first');

  await expectError(await admin('functions/?page=2'), 404, 'SB_ERR_HTTP_NOT_FOUND');
  await expectError(await admin('errors/?page=x'), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
});
