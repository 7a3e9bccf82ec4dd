import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect } from '@switchboard/uplink';
import { rawClient } from './helpers/raw-client.ts';
import { CLIENT_KEY, SERVER_KEY, startServer } from './helpers/server.ts';

const MiB = 1024 * 1024;

/** A MessagePack array of `count` zeros: `count` + 1 values in about `count` bytes. */
function manyValues(count: number): Buffer {
  const header = Buffer.alloc(5);
  header[0] = 0xdd;
  header.writeUInt32BE(count, 1);
  return Buffer.concat([header, Buffer.alloc(count)]);
}

test('a client key gets smaller budgets: 1 MiB messages, 16 MiB reassembled, 100,000 values', async (t) => {
  const { sb, wsUrl, url } = await startServer(t);
  sb.callable('open.len', (value: Uint8Array) => value.byteLength, { allowClients: true });

  const asClient = await rawClient(t, wsUrl, CLIENT_KEY);
  asClient.send({ type: 'hello', protocol: 1 });
  const clientWelcome = await asClient.next();
  assert.equal(clientWelcome.type, 'welcome');
  if (clientWelcome.type !== 'welcome') return;
  assert.equal(clientWelcome.limits.maxFrameBytes, MiB);
  assert.equal(clientWelcome.limits.maxMessageBytes, 16 * MiB);
  const asServer = await rawClient(t, wsUrl, SERVER_KEY);
  asServer.send({ type: 'hello', protocol: 1 });
  const serverWelcome = await asServer.next();
  if (serverWelcome.type !== 'welcome') return assert.fail(serverWelcome.type);
  assert.equal(serverWelcome.limits.maxFrameBytes, 32 * MiB);
  assert.equal(serverWelcome.limits.maxMessageBytes, 256 * MiB);

  // 200,000 values in one message: within a server key's budget, not a client key's.
  const bomb = manyValues(200_000);
  asServer.sendBytes(bomb); // a valid value that is not a map: refused, but only after decoding
  const serverRefusal = await asServer.closed;
  assert.match(serverRefusal.reason, /^SB_ERR_PROTO_BAD_FRAME: a frame must be a map/);
  asClient.sendBytes(bomb);
  const clientRefusal = await asClient.closed;
  assert.equal(clientRefusal.code, 4000);
  assert.match(clientRefusal.reason, /^SB_ERR_PROTO_BAD_FRAME: .*100000/);

  // A message above 1 MiB from a client key: 1009.
  const big = await rawClient(t, wsUrl, CLIENT_KEY);
  big.send({ type: 'hello', protocol: 1 });
  await big.next();
  big.sendBytes(Buffer.alloc(MiB + 1));
  const tooBig = await big.closed;
  assert.equal(tooBig.code, 1009);
  assert.match(tooBig.reason, /^SB_ERR_PROTO_FRAME_TOO_LARGE/);

  // The TypeScript client learns the budget from welcome and refuses locally; the connection stays.
  const client = await connect({ url, key: CLIENT_KEY });
  t.after(() => client.close());
  await assert.rejects(client.call('open.len', new Uint8Array(17 * MiB)), {
    code: 'SB_ERR_PROTO_FRAME_TOO_LARGE',
  });
  assert.equal(await client.call('open.len', new Uint8Array(2 * MiB)), 2 * MiB);
  // Args above one frame travel as a stream and are decoded here with the client-key budget too.
  sb.callable('open.count', (_blob: Uint8Array, items: unknown[]) => items.length, {
    allowClients: true,
  });
  await assert.rejects(
    client.call('open.count', new Uint8Array(MiB), new Array<number>(200_000).fill(0)),
    { code: 'SB_ERR_PROTO_BAD_FRAME' },
  );
  assert.equal(
    await client.call('open.count', new Uint8Array(MiB), new Array<number>(50_000).fill(0)),
    50_000,
  );

  // Far above the client-key limit: cut by ws while it arrives (1009), never held whole.
  const huge = await rawClient(t, wsUrl, CLIENT_KEY);
  huge.send({ type: 'hello', protocol: 1 });
  await huge.next();
  huge.sendBytes(Buffer.alloc(8 * MiB));
  const cut = await huge.closed;
  assert.equal(cut.code, 1009);
  assert.doesNotMatch(cut.reason, /8388608/, 'the server did not read the whole message');

  // Over HTTP: a body of 200,000 values from a caller without a server key is refused.
  const post = (type: string, body: Buffer | string, key?: string) =>
    fetch(`${url}/_/call/open.len`, {
      method: 'POST',
      headers: { 'content-type': type, ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body,
    });
  const args = Buffer.concat([Buffer.from([0x91]), manyValues(200_000)]);
  const json = `[[${'0,'.repeat(199_999)}0]]`;
  for (const [type, body] of [
    ['application/msgpack', args],
    ['application/json', json],
  ] as const) {
    const refused = await post(type, body, CLIENT_KEY);
    assert.equal(refused.status, 400, type);
    assert.equal(((await refused.json()) as { code: string }).code, 'SB_ERR_HTTP_BAD_BODY');
    const trusted = await post(type, body, SERVER_KEY);
    assert.notEqual(trusted.status, 400, `${type}: a server key's budget is larger`);
  }
});
