import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Liveness, sweepIntervalMs } from '../server/src/hub/liveness.ts';
import { spawnUplink } from './helpers/child.ts';
import { SERVER_KEY, startServer, until } from './helpers/server.ts';

const LIMITS = { pingIntervalMs: 15_000, pongTimeoutMs: 3_000, unresponsiveTimeoutMs: 8_000 };

test('liveness: busy peers are pinged after a short silence, suspected, then dropped', () => {
  const liveness = new Liveness();
  const t0 = 1_000; // whole milliseconds: sums of fractional clock readings would round
  liveness.heard(t0);
  assert.equal(liveness.check(t0 + 100, true, LIMITS), 'none');
  assert.equal(liveness.check(t0 + 600, false, LIMITS), 'none', 'idle: waits for the interval');
  assert.equal(liveness.check(t0 + 600, true, LIMITS), 'ping', 'busy: pinged after 500 ms');
  assert.equal(liveness.check(t0 + 700, true, LIMITS), 'none', 'one ping at a time');
  assert.equal(liveness.check(t0 + 3_600, true, LIMITS), 'suspect');
  assert.equal(liveness.unresponsive, true);
  assert.equal(liveness.check(t0 + 4_000, true, LIMITS), 'none', 'suspected once');
  assert.equal(liveness.heard(t0 + 5_000), true, 'an answer brings it back');
  assert.equal(liveness.unresponsive, false);
  assert.equal(liveness.check(t0 + 5_600, true, LIMITS), 'ping');
  assert.equal(liveness.check(t0 + 13_600, true, LIMITS), 'drop');
  assert.equal(liveness.check(t0 + 13_600 + 15_000, false, LIMITS), 'drop');
  const idle = new Liveness();
  idle.heard(t0);
  assert.equal(idle.check(t0 + 15_000, false, LIMITS), 'ping');
  assert.equal(sweepIntervalMs(LIMITS), 500);
  assert.equal(sweepIntervalMs({ ...LIMITS, pongTimeoutMs: 100 }), 50);
});

test('a frozen uplink (SIGSTOP) leaves rotation within 5 s and its calls fail within 10 s, with the default limits', async (t) => {
  const { sb, url } = await startServer(t);
  const frozen = await spawnUplink(t, url, SERVER_KEY, { SB_NAME: 'frozen' });
  const healthy = await spawnUplink(t, url, SERVER_KEY, { SB_NAME: 'healthy' });
  const core = sb.app.switchboard;
  await until(() => core.registry.providersOf('whoami').length === 2, 5000, 'both uplinks');
  // Calls in flight to the frozen one: `hang` runs until cancelled.
  frozen.process.kill('SIGSTOP');
  const frozenAt = Date.now();
  const inFlight = Array.from({ length: 4 }, () =>
    sb.call('hang').then(
      () => ({ code: 'resolved', at: Date.now() }),
      (error: { code?: string }) => ({ code: error.code, at: Date.now() }),
    ),
  );
  // Some went to the healthy uplink (least in flight); they hang there until the end of the test.
  // New calls: every one answered by the healthy uplink once the frozen one is out of rotation.
  await until(
    () => core.hub.uplinks().some((u) => u.name === 'frozen' && !u.accepting),
    6_000,
    'the frozen uplink to leave rotation',
  );
  const outAfterMs = Date.now() - frozenAt;
  assert.ok(outAfterMs <= 5_000, `out of rotation after ${outAfterMs} ms`);
  for (let i = 0; i < 10; i++) assert.equal(await sb.call('whoami'), 'healthy');
  const settled = await Promise.race([
    Promise.any(inFlight.map(async (p) => ((await p).code === 'resolved' ? never() : p))),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('no call failed')), 12_000),
    ),
  ]);
  assert.equal(settled.code, 'SB_ERR_UPLINK_UNRESPONSIVE');
  assert.ok(settled.at - frozenAt <= 10_000, `failed after ${settled.at - frozenAt} ms`);
  t.diagnostic(
    `out of rotation after ${outAfterMs} ms; calls failed after ${settled.at - frozenAt} ms`,
  );
  assert.equal(core.registry.providersOf('whoami').length, 1, 'the frozen uplink is gone');
  healthy.process.kill('SIGKILL');
});

function never(): Promise<never> {
  return new Promise(() => undefined);
}
