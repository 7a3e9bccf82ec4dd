import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { test } from 'node:test';
import { spawnScript } from './helpers/child.ts';
import { SERVER_KEY, startServer } from './helpers/server.ts';

async function oneSlotUplink(t: Parameters<typeof startServer>[0], options = {}) {
  const server = await startServer(t, options);
  const uplink = spawnScript(t, 'test/fixtures/slot-uplink.ts', {
    SB_URL: server.url,
    SB_KEY: SERVER_KEY,
  });
  await uplink.waitFor(/^ready$/);
  return { ...server, uplink };
}

test('a client leaving a stream whose generator awaits fires its signal at once and frees the slot', async (t) => {
  const { sb, url, uplink } = await oneSlotUplink(t);
  const controller = new AbortController();
  const response = await fetch(`${url}/_/api/wait`, { signal: controller.signal });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  await reader.read();
  controller.abort();
  await uplink.waitFor(/^aborted wait$/, 5000);
  // The only slot is free again.
  assert.equal(await sb.callWithOptions('ping', [], { timeoutMs: 3000 }), 'pong');
});

test("a queued call's streamed body arrives whole", async (t) => {
  const { sb, url } = await oneSlotUplink(t);
  const holding = sb.call('hold', 600); // takes the only slot
  const body = Buffer.alloc(3 * 1024 * 1024, 9);
  const response = await fetch(`${url}/_/api/hash`, { method: 'POST', body });
  assert.deepEqual(await response.json(), {
    bytes: body.byteLength,
    sha256: createHash('sha256').update(body).digest('hex'),
  });
  assert.equal(await holding, 'held');
});

test('call() of an endless stream stops at its limit with a code, and stops the producer', async (t) => {
  const { url, uplink } = await oneSlotUplink(t);
  const response = await fetch(`${url}/_/call/forever`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SERVER_KEY}` },
  });
  assert.equal(response.status, 413);
  assert.equal(((await response.json()) as { code: string }).code, 'SB_ERR_PROTO_FRAME_TOO_LARGE');
  await uplink.waitFor(/^aborted forever$/, 5000);
});

test('an HTTP client that stops reading is cut off after the stall timeout and frees the slot', async (t) => {
  const { sb, url, uplink } = await oneSlotUplink(t, { streamStallTimeoutMs: 400 });
  const request = http.get(`${url}/_/api/flood`);
  t.after(() => request.destroy());
  const response = await new Promise<http.IncomingMessage>((resolve) =>
    request.once('response', resolve),
  );
  response.pause(); // reads nothing: socket buffers fill, credit stops, nothing moves
  await uplink.waitFor(/^aborted flood$/, 8000);
  assert.equal(await sb.callWithOptions('ping', [], { timeoutMs: 3000 }), 'pong');
});
