// Connections waiting to authenticate are bounded per client address (MAX_PENDING_PER_ADDRESS):
// the bound holds, and every way a waiting connection ends (hello accepted, closed, refused)
// gives its place back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { connect, type Uplink } from '@switchboard/uplink';
import { MAX_PENDING_PER_ADDRESS } from '../server/src/hub/uplink-hub.ts';
import { SERVER_KEY, startServer } from './helpers/server.ts';

/** An upgrade without a key, left waiting for its hello; resolves when open or refused. */
function waiting(wsUrl: string): Promise<{ ws: WebSocket; status: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl);
    ws.once('open', () => resolve({ ws, status: 101 }));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ ws, status: res.statusCode ?? 0 });
    });
    ws.once('error', () => undefined);
  });
}

test('waiting connections per address are bounded, and each gives its place back', async (t) => {
  const { wsUrl, url } = await startServer(t);
  const open = await Promise.all(
    Array.from({ length: MAX_PENDING_PER_ADDRESS }, () => waiting(wsUrl)),
  );
  t.after(() => open.forEach(({ ws }) => ws.terminate()));
  assert.ok(open.every(({ status }) => status === 101));
  // One more from the same address is refused before its handshake.
  assert.equal((await waiting(wsUrl)).status, 429);

  // A closed one gives its place back.
  const closed = new Promise((resolve) => open[0]!.ws.once('close', resolve));
  open[0]!.ws.terminate();
  await closed;
  let next = await waiting(wsUrl);
  for (let i = 0; i < 50 && next.status !== 101; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    next = await waiting(wsUrl);
  }
  assert.equal(next.status, 101);
  open.push(next);
  assert.equal((await waiting(wsUrl)).status, 429);
  for (const { ws } of open) ws.terminate();

  // Authenticated uplinks hold no place: more of them than the bound connect one after another.
  const uplinks: Uplink[] = [];
  for (let i = 0; i < MAX_PENDING_PER_ADDRESS + 6; i++) {
    uplinks.push(await connect({ url, key: SERVER_KEY, reconnect: false }));
  }
  t.after(() => Promise.all(uplinks.map((uplink) => uplink.close())));
  // A hello refused (wrong key in it) gives its place back too.
  for (let i = 0; i < 3; i++) {
    await assert.rejects(
      connect({ url, key: 'sbk_s_not-a-key-0000000000000000', reconnect: false }),
      {
        code: 'SB_ERR_AUTH_BAD_KEY',
      },
    );
  }
  const fresh = await waiting(wsUrl);
  assert.equal(fresh.status, 101);
  fresh.ws.terminate();
});
