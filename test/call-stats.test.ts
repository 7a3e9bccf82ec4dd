import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SwitchboardError } from '@switchboard/server';
import { HttpResponse } from '@switchboard/server';
import { CallStats } from '../server/src/observe/call-stats.ts';
import { CallTally, LATENCY_WINDOW, percentile } from '../server/src/observe/call-tally.ts';
import { spawnUplink } from './helpers/child.ts';
import { SERVER_KEY, startServer } from './helpers/server.ts';

test('call statistics per function and provider, through a real uplink process', async (t) => {
  const { sb, url } = await startServer(t);
  const stats = sb.stats;
  const child = await spawnUplink(t, url, SERVER_KEY);
  const providerId = (await child.waitFor(/^ready /)).split(' ')[1]!;

  for (let i = 0; i < 5; i++) assert.equal(await sb.call('add', i, 1), i + 1);
  for (let i = 0; i < 3; i++) {
    await assert.rejects(sb.call('fail'), (error: SwitchboardError) => {
      assert.equal(error.code, 'SB_ERR_REMOTE_ERROR');
      return true;
    });
  }
  await assert.rejects(sb.callWithOptions('hang', [], { timeoutMs: 100 }), {
    code: 'SB_ERR_CALL_TIMEOUT',
  });

  const add = stats.forFunction('add');
  assert.equal(add.count, 5);
  assert.equal(add.errors, 0);
  assert.equal(add.inFlight, 0);
  assert.equal(add.lastError, null);
  assert.ok(typeof add.avgMs === 'number' && add.avgMs >= 0);
  assert.ok(typeof add.p99Ms === 'number' && add.p99Ms >= 0);

  const fail = stats.forFunction('fail');
  assert.equal(fail.count, 3);
  assert.equal(fail.errors, 3);
  assert.equal(fail.lastError?.code, 'SB_ERR_REMOTE_ERROR');
  assert.match(fail.lastError?.message ?? '', /boom/);
  assert.ok(!Number.isNaN(Date.parse(fail.lastError?.at ?? '')));

  assert.equal(stats.forFunction('hang').lastError?.code, 'SB_ERR_CALL_TIMEOUT');

  const provider = stats.forProvider(providerId);
  assert.equal(provider.count, 9);
  assert.equal(provider.errors, 4);

  // In flight while it runs, and not after.
  const slow = sb.call('slow', 200);
  assert.equal(stats.forFunction('slow').inFlight, 1);
  assert.equal(stats.forProvider(providerId).inFlight, 1);
  assert.equal(stats.inFlight, 1);
  await slow;
  assert.equal(stats.forFunction('slow').inFlight, 0);
  assert.equal(stats.forFunction('slow').count, 1);
  assert.equal(stats.inFlight, 0);

  const recent = stats.recentErrors();
  assert.equal(recent.length, 4);
  assert.equal(recent[0]!.code, 'SB_ERR_CALL_TIMEOUT'); // newest first
  assert.equal(recent[0]!.function, 'hang');
  assert.equal(recent[0]!.providerId, providerId);
  assert.equal(recent[1]!.function, 'fail');
  assert.equal(stats.recentErrors(2).length, 2);
  assert.equal(stats.recentErrors(0).length, 0);

  // Refused calls are counted by code, never as a name (names from callers are unbounded).
  await assert.rejects(sb.call('nope'), { code: 'SB_ERR_NO_SUCH_FUNCTION' });
  assert.deepEqual(stats.forFunction('nope'), {
    count: 0,
    errors: 0,
    inFlight: 0,
    lastError: null,
    avgMs: null,
    p99Ms: null,
  });
  assert.equal(stats.refused.get('SB_ERR_NO_SUCH_FUNCTION'), 1);
});

test('endpoint statistics by registered pattern; app provider', async (t) => {
  const { sb, url } = await startServer(t);
  const stats = sb.stats;
  sb.httpEndpoint('/items/:id', { methods: ['GET'] }, (request) => {
    if (request.params.id === 'boom') throw new TypeError('no such item');
    if (request.params.id === 'teapot') return new HttpResponse(418, 'short and stout');
    return { id: request.params.id };
  });
  for (const id of ['1', '2', 'teapot', 'boom'])
    await (await fetch(`${url}/_/api/items/${id}`)).text();
  assert.equal((await fetch(`${url}/_/api/elsewhere`)).status, 404);

  const items = stats.forEndpoint('/items/:id');
  assert.equal(items.count, 4);
  assert.equal(items.errors, 1); // a status the handler chose is not an error; a throw is
  assert.equal(items.lastError?.code, 'SB_ERR_REMOTE_ERROR');
  assert.equal(stats.forEndpoint('/items/1').count, 0); // by pattern, never the raw path
  assert.equal(stats.forProvider('app').count, 4);
  const [latest] = stats.recentErrors(1);
  assert.equal(latest?.endpoint, '/items/:id');
  assert.equal(latest?.providerId, 'app');
  assert.equal(latest?.function, undefined);
});

test('latency window is bounded and p99 covers the most recent calls only', () => {
  const tally = new CallTally('function', 'f');
  for (let i = 0; i < 3 * LATENCY_WINDOW; i++) {
    tally.started(i);
    tally.finished(i < 2 * LATENCY_WINDOW ? 1000 : 1, i, undefined);
  }
  const snapshot = tally.snapshot();
  assert.equal(snapshot.count, 3 * LATENCY_WINDOW);
  assert.equal(snapshot.p99Ms, 1); // the old slow calls have left the window
  assert.ok(Math.abs(snapshot.avgMs! - (2 * 1000 + 1) / 3) < 1e-9); // the mean is over all
  assert.equal(percentile([], 0.99), null);
  assert.equal(percentile([5], 0.99), 5);
  assert.equal(percentile([...Array.from({ length: 100 }, (_, i) => i + 1)], 0.99), 99);
  assert.deepEqual(
    tally.buckets?.reduce((a, b) => a + b, 0),
    3 * LATENCY_WINDOW,
  );
});

test('provider tallies are capped: the longest idle is dropped', () => {
  const stats = new CallStats();
  const sink = { resolve() {}, reject() {} };
  const request = { name: 'f', args: [], timeoutMs: 1000, caller: { kind: 'app' as const } };
  const held = stats.track(request, 'p-held', sink); // stays in flight: kept
  for (let i = 0; i < 600; i++) stats.track(request, `p${i}`, sink).resolve(i);
  assert.equal([...stats.talliesOf('provider')].length, 500);
  assert.equal(stats.forProvider('p599').count, 1);
  assert.equal(stats.forProvider('p0').count, 0); // evicted
  assert.equal(stats.forProvider('p-held').inFlight, 1);
  held.resolve(0);
  assert.equal(stats.forFunction('f').count, 601);
  assert.equal(stats.inFlight, 0);
});
