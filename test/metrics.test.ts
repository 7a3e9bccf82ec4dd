import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import Fastify from 'fastify';
import { getCallContext, resolveOptions, switchboardPlugin } from '@switchboard/server';
import { spawnScript } from './helpers/child.ts';
import { SERVER_KEY, makeDataDir, startServer, until } from './helpers/server.ts';
import { launchLoop, serveLoop } from './helpers/tasks.ts';

/** One sample line of the Prometheus text: metric name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the exposition text (format 0.0.4) into samples; fails on a malformed line. */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match !== null, `malformed metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1]!] = pair[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const raw = match[3]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    // Prometheus reads NaN in any case (prom-client writes `Nan` for an empty event-loop window).
    assert.ok(!Number.isNaN(value) || raw.toLowerCase() === 'nan', `bad value in ${line}`);
    samples.push({ name: match[1]!, labels, value });
  }
  return samples;
}

/** The value of the one sample named `name` whose labels include `labels`. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  assert.equal(found.length, 1, `${name} ${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0]!.value;
}

async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(`${url}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseMetrics(await response.text());
}

function rpc(url: string, name: string, args: unknown[]): Promise<Response> {
  return fetch(`${url}/_/call/${name}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(args),
  });
}

async function startUplink(t: TestContext, url: string) {
  const child = spawnScript(t, 'test/fixtures/logging-uplink.ts', {
    SB_URL: url,
    SB_KEY: SERVER_KEY,
  });
  await child.waitFor(/^ready /);
  return child;
}

test('/metrics after N ok and M failing calls through a real uplink process', async (t) => {
  const { sb, url } = await startServer(t);
  const child = await startUplink(t, url);
  sb.httpEndpoint('/items/:id', { methods: ['GET'] }, (request) => ({ id: request.params.id }));
  sb.httpEndpoint(
    '/limited',
    { methods: ['POST'], rateLimit: { max: 1, windowMs: 60_000 }, maxBodyBytes: 10 },
    () => 'ok',
  );

  const N = 7;
  const M = 3;
  for (let i = 0; i < N; i++) {
    const response = await rpc(url, 'add', [i, 1]);
    assert.equal(response.status, 200);
    assert.equal(await response.json(), i + 1);
  }
  for (let i = 0; i < M; i++) {
    const response = await rpc(url, 'fail', []);
    assert.equal(response.status, 500);
    assert.equal(((await response.json()) as { code: string }).code, 'SB_ERR_REMOTE_ERROR');
  }
  await assert.rejects(sb.callWithOptions('nope', []), { code: 'SB_ERR_NO_SUCH_FUNCTION' });
  for (const id of ['1', '2']) assert.equal((await fetch(`${url}/_/api/items/${id}`)).status, 200);
  assert.equal((await fetch(`${url}/_/api/missing`)).status, 404);
  const post = (body: string) => fetch(`${url}/_/api/limited`, { method: 'POST', body });
  assert.equal((await post('{}')).status, 200);
  assert.equal((await post('{}')).status, 429); // refused before any call: still this endpoint
  assert.equal((await post('x'.repeat(100))).status, 413); // refused while reading the body
  assert.equal((await fetch(`${url}/nowhere/at/all`)).status, 404);

  const samples = await scrape(url);
  assert.equal(valueOf(samples, 'switchboard_calls_total', { function: 'add', outcome: 'ok' }), N);
  assert.equal(
    valueOf(samples, 'switchboard_calls_total', { function: 'add', outcome: 'error' }),
    0,
  );
  assert.equal(
    valueOf(samples, 'switchboard_calls_total', { function: 'fail', outcome: 'error' }),
    M,
  );
  assert.equal(valueOf(samples, 'switchboard_calls_total', { function: 'fail', outcome: 'ok' }), 0);
  assert.equal(
    valueOf(samples, 'switchboard_calls_refused_total', { code: 'SB_ERR_NO_SUCH_FUNCTION' }),
    1,
  );

  // The latency histogram: count, +Inf bucket and cumulative buckets agree.
  const histogram = 'switchboard_call_duration_seconds';
  assert.equal(valueOf(samples, `${histogram}_count`, { function: 'add' }), N);
  assert.equal(valueOf(samples, `${histogram}_count`, { function: 'fail' }), M);
  assert.equal(valueOf(samples, `${histogram}_bucket`, { function: 'add', le: '+Inf' }), N);
  assert.ok(valueOf(samples, `${histogram}_sum`, { function: 'add' }) >= 0);
  const buckets = samples.filter(
    (s) => s.name === `${histogram}_bucket` && s.labels.function === 'add',
  );
  assert.ok(buckets.length > 5);
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value);

  // HTTP responses by route pattern, never by raw URL.
  const http = 'switchboard_http_requests_total';
  assert.equal(valueOf(samples, http, { route: '/_/call/:name', status: '200' }), N);
  assert.equal(valueOf(samples, http, { route: '/_/call/:name', status: '500' }), M);
  assert.equal(valueOf(samples, http, { route: '/_/api/items/:id', status: '200' }), 2);
  assert.equal(valueOf(samples, http, { route: '/_/api/*', status: '404' }), 1);
  for (const status of ['200', '429', '413'])
    assert.equal(valueOf(samples, http, { route: '/_/api/limited', status }), 1, status);
  assert.equal(valueOf(samples, http, { route: '(unmatched)', status: '404' }), 1);
  assert.ok(!samples.some((s) => s.name === http && s.labels.route?.includes('/items/1')));

  assert.equal(valueOf(samples, 'switchboard_uplinks_connected'), 1);
  assert.equal(valueOf(samples, 'switchboard_calls_in_flight'), 0);
  assert.ok(valueOf(samples, 'switchboard_uplink_received_bytes_total') > 0);
  assert.ok(valueOf(samples, 'switchboard_uplink_sent_bytes_total') > 0);
  // Node's default process metrics.
  assert.ok(valueOf(samples, 'process_cpu_user_seconds_total') >= 0);
  assert.ok(samples.some((s) => s.name === 'nodejs_heap_size_used_bytes'));

  // The uplink goes away: the gauge follows, the counters stay.
  child.process.kill('SIGTERM');
  await child.exited;
  await until(() => sb.app.switchboard.hub.uplinks().length === 0, 10_000, 'the uplink to leave');
  const after = await scrape(url);
  assert.equal(valueOf(after, 'switchboard_uplinks_connected'), 0);
  assert.equal(valueOf(after, 'switchboard_calls_total', { function: 'add', outcome: 'ok' }), N);
  // The first scrape itself is counted now.
  assert.equal(valueOf(after, http, { route: '/metrics', status: '200' }), 1);
});

test('/metrics is for loopback clients, or anyone with the metrics token; can be turned off', async (t) => {
  const token = 'metrics-token-0123456789';
  const { url } = await startServer(t, { metricsToken: token });
  const proxied = { 'x-forwarded-for': '203.0.113.9' };

  const refused = await fetch(`${url}/metrics`, { headers: proxied });
  assert.equal(refused.status, 403);
  assert.equal(((await refused.json()) as { code: string }).code, 'SB_ERR_METRICS_FORBIDDEN');
  const forwarded = await fetch(`${url}/metrics`, { headers: { forwarded: 'for=203.0.113.9' } });
  assert.equal(forwarded.status, 403);
  const wrong = await fetch(`${url}/metrics`, {
    headers: { ...proxied, authorization: 'Bearer not-the-token-at-all' },
  });
  assert.equal(wrong.status, 403);
  const withToken = await fetch(`${url}/metrics`, {
    headers: { ...proxied, authorization: `Bearer ${token}` },
  });
  assert.equal(withToken.status, 200);
  assert.match(await withToken.text(), /switchboard_uplinks_connected 0/);

  const { url: offUrl } = await startServer(t, { metrics: false });
  const off = await fetch(`${offUrl}/metrics`);
  assert.equal(off.status, 404);
  assert.equal(((await off.json()) as { code: string }).code, 'SB_ERR_HTTP_NOT_FOUND');

  assert.throws(() => resolveOptions({ metricsToken: 'short' }), {
    code: 'SB_ERR_OPTIONS_INVALID',
  });
  assert.equal(resolveOptions({}, { SWITCHBOARD_METRICS: 'false' }).metrics, false);
  assert.equal(resolveOptions({}, {}).metrics, true);
  assert.equal(resolveOptions({}, { SWITCHBOARD_METRICS_TOKEN: token }).metricsToken, token);
  assert.throws(() => resolveOptions({}, { SWITCHBOARD_METRICS: 'maybe' }), {
    code: 'SB_ERR_OPTIONS_INVALID',
  });
});

test('several servers in one process keep their own metrics', async (t) => {
  const first = await startServer(t);
  const second = await startServer(t);
  first.sb.callable('ping', () => 'pong');
  second.sb.callable('ping', () => 'pong');
  await first.sb.call('ping');
  await first.sb.call('ping');
  await second.sb.call('ping');
  const calls = { function: 'ping', outcome: 'ok' };
  assert.equal(valueOf(await scrape(first.url), 'switchboard_calls_total', calls), 2);
  assert.equal(valueOf(await scrape(second.url), 'switchboard_calls_total', calls), 1);
});

test('mounted as a plugin: metrics and request ids cover the Switchboard routes, ids from the host', async (t) => {
  let next = 0;
  const app = Fastify({ genReqId: () => `host-${++next}` });
  app.get('/host', () => ({ ok: true }));
  await app.register(switchboardPlugin, {
    dataDir: await makeDataDir(t),
    keys: [{ name: 'k', key: SERVER_KEY, kind: 'server' }],
  });
  t.after(() => app.close());
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  app.switchboard.callable('whichId', () => getCallContext().requestId ?? null, {
    allowClients: true,
  });

  const host = await fetch(`${url}/host`);
  assert.equal(host.headers.get('x-request-id'), null); // the host's own routes are its business
  const call = await fetch(`${url}/_/call/whichId`, { method: 'POST' });
  const id = call.headers.get('x-request-id');
  assert.match(id ?? '', /^host-\d+$/);
  assert.equal(await call.json(), id);

  const samples = await scrape(url);
  assert.equal(
    valueOf(samples, 'switchboard_http_requests_total', { route: '/_/call/:name', status: '200' }),
    1,
  );
  assert.ok(!samples.some((s) => s.labels.route === '/host'));
  assert.equal(
    valueOf(samples, 'switchboard_calls_total', { function: 'whichId', outcome: 'ok' }),
    1,
  );
});

test('task metrics: tasks on record by status (kept across restarts), running here, durations since start', async (t) => {
  const first = await startServer(t);
  const { sb } = first;
  serveLoop(sb);
  sb.callable('ops.double', (n: number) => n * 2);
  sb.callable('ops.fail', () => {
    throw new Error('broken on purpose');
  });
  const statuses = ['queued', 'running', 'completed', 'failed', 'killed'];
  const durations = ['completed', 'failed', 'killed'];
  let samples = await scrape(first.url);
  for (const status of statuses) assert.equal(valueOf(samples, 'switchboard_tasks', { status }), 0);
  assert.equal(valueOf(samples, 'switchboard_tasks_running'), 0);
  for (const status of durations) {
    assert.equal(valueOf(samples, 'switchboard_task_duration_seconds_count', { status }), 0);
    assert.equal(valueOf(samples, 'switchboard_task_duration_seconds_sum', { status }), 0);
  }

  await sb.launch('ops.double', 2).result();
  await sb.launch('ops.double', 3).result();
  await assert.rejects(sb.launch('ops.fail').result());
  const loop = await launchLoop(sb);
  samples = await scrape(first.url);
  const tasks = (status: string) => valueOf(samples, 'switchboard_tasks', { status });
  const count = (status: string) =>
    valueOf(samples, 'switchboard_task_duration_seconds_count', { status });
  const seconds = (status: string) =>
    valueOf(samples, 'switchboard_task_duration_seconds_sum', { status });
  assert.deepEqual(statuses.map(tasks), [0, 1, 2, 1, 0]);
  assert.equal(valueOf(samples, 'switchboard_tasks_running'), 1);
  assert.deepEqual(durations.map(count), [2, 1, 0]);
  assert.ok(seconds('completed') >= 0 && seconds('completed') < 60, String(seconds('completed')));

  await loop.kill();
  samples = await scrape(first.url);
  assert.deepEqual(statuses.map(tasks), [0, 0, 2, 1, 1]);
  assert.equal(valueOf(samples, 'switchboard_tasks_running'), 0);
  assert.deepEqual(durations.map(count), [2, 1, 1]);
  assert.ok(seconds('killed') > 0, 'the loop ran a while before its kill');

  // The records stay with the data folder; what ended "since start" starts again from zero.
  await sb.close();
  const second = await startServer(t, { dataDir: first.dataDir });
  samples = await scrape(second.url);
  assert.deepEqual(statuses.map(tasks), [0, 0, 2, 1, 1]);
  assert.deepEqual(durations.map(count), [0, 0, 0]);
});
