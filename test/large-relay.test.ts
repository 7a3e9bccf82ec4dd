import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { Media } from '@switchboard/server';
import { spawnScript, type Child } from './helpers/child.ts';
import { peakRssGrowthMiB } from './helpers/memory.ts';
import { SERVER_KEY, startServer, type TestServer } from './helpers/server.ts';

/**
 * Uplinks here hash and decode hundreds of MiB on their main thread, which on a loaded 2-core
 * machine can hold their event loop (and so their pongs) past the 8 s default: these tests are
 * about volume, test/liveness.test.ts about liveness.
 */
const BUSY_UPLINKS = { pongTimeoutMs: 30_000, unresponsiveTimeoutMs: 60_000 };

const MIB = 1024 * 1024;
/** Peak RSS growth of the server allowed while 200 MiB values pass between uplinks (measured 3–50 MiB; GC lag on a busy machine); holding the value would be 200+. */
const RELAY_RSS_BOUND_MIB = 96;

interface Digest {
  bytes: number;
  sha256: string;
}

async function blobUplink(
  t: TestContext,
  server: TestServer,
  role: 'store' | 'client',
  env: Record<string, string> = {},
): Promise<Child> {
  const child = spawnScript(t, 'test/fixtures/blob-uplink.ts', {
    SB_URL: server.url,
    SB_KEY: SERVER_KEY,
    SB_ROLE: role,
    ...env,
  });
  await child.waitFor(/^ready /, 20_000);
  return child;
}

test('200 MiB values pass uplink → server → uplink both ways whole, without the server holding them', async (t) => {
  const server = await startServer(t, { callTimeoutMs: 120_000, ...BUSY_UPLINKS });
  await blobUplink(t, server, 'store');
  await blobUplink(t, server, 'client');
  const { sb } = server;
  // Warm up both paths (first-use allocations are not what this measures).
  await sb.call('client.send', 'store.digest', 8, 1);
  await sb.call('client.fetch', 8, 1);

  // Arguments: the client uplink sends a 200 MiB Media to the store uplink.
  const up = await peakRssGrowthMiB(
    () =>
      sb.call('client.send', 'store.digest', 200, 7) as Promise<{
        local: Digest;
        remote: Digest & { name: string };
      }>,
  );
  assert.equal(up.result.remote.bytes, 200 * MIB);
  assert.equal(up.result.remote.sha256, up.result.local.sha256);
  assert.equal(up.result.remote.name, 'up.bin');
  t.diagnostic(`server RSS growth ${up.growthMiB.toFixed(1)} MiB for 200 MiB of arguments`);
  assert.ok(up.growthMiB < RELAY_RSS_BOUND_MIB, `server RSS grew ${up.growthMiB.toFixed(1)} MiB`);

  // Results: the client uplink fetches a 200 MiB Media from the store uplink.
  const expected = (await sb.call('store.expected', 200, 9)) as Digest;
  const down = await peakRssGrowthMiB(
    () => sb.call('client.fetch', 200, 9) as Promise<Digest & { name: string }>,
  );
  assert.deepEqual(down.result, { name: 'blob', ...expected });
  t.diagnostic(`server RSS growth ${down.growthMiB.toFixed(1)} MiB for a 200 MiB result`);
  assert.ok(
    down.growthMiB < RELAY_RSS_BOUND_MIB,
    `server RSS grew ${down.growthMiB.toFixed(1)} MiB`,
  );
});

test("a value above the receiving uplink's maxMessageBytes fails that call with a code; both stay usable", async (t) => {
  const server = await startServer(t, { maxFrameBytes: 1 * MIB, ...BUSY_UPLINKS });
  const limit = String(8 * MIB);
  await blobUplink(t, server, 'store', { SB_MAX_MESSAGE_BYTES: limit });
  await blobUplink(t, server, 'client', { SB_MAX_MESSAGE_BYTES: limit });
  const { sb } = server;
  // Arguments too large for the store; a result too large for the client.
  await assert.rejects(sb.call('client.send', 'store.digest', 16, 1), {
    code: 'SB_ERR_PROTO_FRAME_TOO_LARGE',
  });
  await assert.rejects(sb.call('client.fetch', 16, 1), { code: 'SB_ERR_PROTO_FRAME_TOO_LARGE' });
  // Values within the limit still pass (several frames each), and the connections are fine.
  const sent = (await sb.call('client.send', 'store.digest', 4, 2)) as {
    local: Digest;
    remote: Digest;
  };
  assert.deepEqual(sent.remote, { name: 'up.bin', ...sent.local });
  const fetched = (await sb.call('client.fetch', 4, 3)) as Digest;
  assert.deepEqual(fetched, {
    name: 'blob',
    ...((await sb.call('store.expected', 4, 3)) as Digest),
  });
  assert.equal(await sb.call('client.ping'), 'pong');
});

test('app code sends and receives values above one frame to and from uplinks', async (t) => {
  const server = await startServer(t, { maxFrameBytes: 1 * MIB, ...BUSY_UPLINKS });
  await blobUplink(t, server, 'store');
  await blobUplink(t, server, 'client');
  const { sb } = server;
  const hash = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
  // App → uplink: args above the uplink's frame limit.
  const bytes = randomBytes(6 * MIB);
  const digest = await sb.call('store.digest', new Media('application/octet-stream', bytes, 'x'));
  assert.deepEqual(digest, { name: 'x', bytes: bytes.byteLength, sha256: hash(bytes) });
  // Uplink → app: a result above the server's frame limit.
  const media = (await sb.call('store.blob', 6, 5)) as Media;
  assert.ok(media instanceof Media);
  assert.equal(hash(media.bytes), ((await sb.call('store.expected', 6, 5)) as Digest).sha256);
  // Uplink → function in the app's process: the streamed args are decoded for it.
  sb.callable('app.digest', (m: Media) => ({
    name: m.name,
    bytes: m.bytes.byteLength,
    sha256: hash(m.bytes),
  }));
  const sent = (await sb.call('client.send', 'app.digest', 6, 4)) as {
    local: Digest;
    remote: Digest;
  };
  assert.deepEqual(sent.remote, { name: 'up.bin', ...sent.local });
});

test('a caller that gives up mid-transfer stops the value on its way: the callee never runs', async (t) => {
  const server = await startServer(t, BUSY_UPLINKS);
  const store = await blobUplink(t, server, 'store');
  await blobUplink(t, server, 'client');
  const { sb } = server;
  // 200 MiB take far longer than 20 ms to pass: the deadline passes mid-stream.
  await assert.rejects(sb.call('client.send', 'store.digest', 200, 3, 20), {
    code: 'SB_ERR_CALL_TIMEOUT',
  });
  const sent = (await sb.call('client.send', 'store.digest', 1, 3)) as { local: Digest };
  assert.equal(sent.local.bytes, MIB);
  // Only the second call reached the function: the first one's args were stopped, not delivered.
  assert.deepEqual(
    store.lines.filter((line) => line.startsWith('digest ')),
    [`digest ${MIB}`],
  );
});
