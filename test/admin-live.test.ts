import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnHttpUplink, spawnUplink } from './helpers/child.ts';
import { runCli } from './helpers/cli.ts';
import { expectError } from './helpers/http-client.ts';
import { SERVER_KEY } from './helpers/server.ts';
import { jsonOf, startAdminServer } from './helpers/admin.ts';
import type { UplinkView } from '../server/src/http/admin/uplink-routes.ts';

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

test('uplinks/: list, get, drain (202) and disconnect (204) live uplink children; 404 for unknown ids', async (t) => {
  const server = await startAdminServer(t);
  const { sb, admin, url } = server;
  const before = Date.now();
  const [worker, web] = await Promise.all([
    spawnUplink(t, url, SERVER_KEY, { SB_NAME: 'worker' }),
    spawnHttpUplink(t, url, SERVER_KEY, { SB_NAME: 'web' }),
  ]);
  const idOf = (child: typeof worker) =>
    child.lines.find((line) => line.startsWith('ready '))!.replace('ready ', '');
  const workerId = idOf(worker);
  const webId = idOf(web);

  assert.equal(await sb.call('add', 1, 2), 3);
  await assert.rejects(sb.call('fail'), { code: 'SB_ERR_REMOTE_ERROR' });
  const hanging = sb.callWithOptions('hang', [], { timeoutMs: 60_000 });
  hanging.catch(() => {}); // fails when the worker is disconnected below
  await worker.waitFor(/^started hang$/);

  const list = await jsonOf<ListJson<UplinkView>>(await admin('uplinks/'));
  assert.equal(list.num_results, 2);
  const byId = new Map(list.objects.map((uplink) => [uplink.id, uplink]));
  const one = byId.get(workerId)!;
  assert.equal(one.name, 'worker');
  assert.equal(one.key_name, 'test-server');
  assert.match(one.remote_address, /^(::ffff:)?127\.0\.0\.1$/);
  const since = Date.parse(one.connected_since);
  assert.ok(since >= before - 1000 && since <= Date.now(), one.connected_since);
  assert.ok(one.functions.includes('add') && one.functions.includes('hang'));
  assert.deepEqual(one.endpoints, []);
  assert.equal(one.in_flight, 1);
  assert.equal(one.calls_served, 2);
  assert.equal(one.errors, 1);
  assert.equal(one.draining, false);
  const webUplink = byId.get(webId)!;
  assert.equal(webUplink.name, 'web');
  assert.deepEqual(
    webUplink.endpoints.find((e) => e.path === '/users/:id'),
    { path: '/users/:id', methods: ['GET', 'PUT', 'DELETE'] },
  );
  assert.deepEqual(await jsonOf(await admin(`uplinks/${workerId}/`)), one);

  for (const [method, path] of [
    ['GET', 'uplinks/u_nope/'],
    ['DELETE', 'uplinks/u_nope/'],
    ['POST', 'uplinks/u_nope/drain/'],
  ] as const) {
    await expectError(await admin(path, { method }), 404, 'SB_ERR_NO_SUCH_UPLINK');
  }

  // Drain the web uplink: 202 with draining true; it leaves and does not come back.
  const drained = await admin(`uplinks/${webId}/drain/`, { method: 'POST' });
  const drainedJson = await jsonOf<UplinkView>(drained, 202);
  assert.equal(drainedJson.id, webId);
  assert.equal(drainedJson.draining, true);
  await web.exited;
  await expectError(await admin(`uplinks/${webId}/`), 404, 'SB_ERR_NO_SUCH_UPLINK');

  // Disconnect the worker: 204, its call in flight fails, it reconnects under a new id.
  const disconnected = await admin(`uplinks/${workerId}/`, { method: 'DELETE' });
  assert.equal(disconnected.status, 204);
  await assert.rejects(hanging, { code: 'SB_ERR_UPLINK_DISCONNECTED' });
  await worker.waitForCount(/^registered$/, 1);
  const after = await jsonOf<ListJson<UplinkView>>(await admin('uplinks/'));
  assert.equal(after.num_results, 1);
  assert.notEqual(after.objects[0]!.id, workerId);
  assert.equal(after.objects[0]!.name, 'worker');
});

test('switchboard status prints what is connected, through the admin API of a running server', async (t) => {
  const server = await startAdminServer(t);
  const worker = await spawnUplink(t, server.url, SERVER_KEY, { SB_NAME: 'worker' });
  const workerId = worker.lines.find((line) => line.startsWith('ready '))!.replace('ready ', '');
  server.sb.callable('now', () => 1);
  const hanging = server.sb.callWithOptions('hang', [], { timeoutMs: 60_000 });
  hanging.catch(() => {}); // cut off when the server closes
  await worker.waitFor(/^started hang$/);

  const env = { SWITCHBOARD_URL: server.url, SWITCHBOARD_ADMIN_TOKEN: server.token };
  const [text, json, refused, unreachable] = await Promise.all([
    runCli(t, null, ['status'], { env }),
    runCli(t, null, ['status', '--json', '--url', server.url, '--token', server.token], {
      env: { SWITCHBOARD_URL: 'http://127.0.0.1:9', SWITCHBOARD_ADMIN_TOKEN: 'sbt_wrong' },
    }),
    runCli(t, null, ['status'], { env: { ...env, SWITCHBOARD_ADMIN_TOKEN: 'sbt_wrong' } }),
    runCli(t, null, ['status', '--url', 'http://127.0.0.1:9'], { env }),
  ]);

  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /: 1 uplink connected, 1 call in flight to them/);
  assert.match(
    text.out,
    /^ID\s+NAME\s+KEY\s+ADDRESS\s+CONNECTED SINCE\s+IN FLIGHT\s+SERVED\s+ERRORS\s+STATE$/m,
  );
  assert.match(
    text.out,
    new RegExp(
      `^${workerId}\\s+worker\\s+test-server\\s+\\S+\\s+\\d{4}-\\S+Z\\s+1\\s+0\\s+0\\s+serving$`,
      'm',
    ),
  );
  assert.match(text.out, /^ {2}functions: .*\badd\b.*\bhang\b/m);
  assert.match(text.out, /^Served by the server process:\n {2}functions: now$/m);

  // Flags win over the environment; --json gives the API's objects.
  assert.equal(json.code, 0, json.err);
  const parsed = JSON.parse(json.out) as { uplinks: UplinkView[]; functions: unknown[] };
  assert.equal(parsed.uplinks[0]!.id, workerId);
  assert.equal(parsed.uplinks[0]!.in_flight, 1);

  assert.equal(refused.code, 1);
  assert.match(refused.err, /SB_ERR_ADMIN_TOKEN_INVALID/);
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.err, /SB_ERR_CONNECTION_FAILED/);
});
