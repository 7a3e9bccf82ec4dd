import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import WebSocket from 'ws';
import { encodeValue } from '@switchboard/shared';
import { helloClient, rawClient } from './helpers/raw-client.ts';
import { CLIENT_KEY, SERVER_KEY, startServer } from './helpers/server.ts';

function upgradeStatus(
  wsUrl: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string; auth: string | undefined }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { headers });
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body, auth: res.headers['www-authenticate'] });
      });
    });
    ws.on('open', () => reject(new Error('upgrade should have been refused')));
    ws.on('error', () => undefined);
  });
}

test('a bad key in the Authorization header is refused with 401 at upgrade', async (t) => {
  const { wsUrl } = await startServer(t);
  const result = await upgradeStatus(wsUrl, {
    authorization: 'Bearer sbk_s_wrong-key-000000000000',
  });
  assert.equal(result.status, 401);
  assert.equal((JSON.parse(result.body) as { code: string }).code, 'SB_ERR_AUTH_BAD_KEY');
  assert.match(result.auth ?? '', /^Bearer/);
  const notBearer = await upgradeStatus(wsUrl, { authorization: 'Basic dXNlcjpwYXNz' });
  assert.equal(notBearer.status, 401);
});

test('the key may come in hello instead; a good one gets welcome with limits', async (t) => {
  const { wsUrl } = await startServer(t, {
    maxFrameBytes: 65536,
    pingIntervalMs: 1000,
    callTimeoutMs: 777,
  });
  const client = await rawClient(t, wsUrl);
  client.send({ type: 'hello', protocol: 1, key: SERVER_KEY, name: 'by-hello' });
  const welcome = await client.next();
  assert.equal(welcome.type, 'welcome');
  if (welcome.type !== 'welcome') return;
  assert.equal(welcome.protocol, 1);
  assert.equal(welcome.keyKind, 'server');
  assert.equal(welcome.keyName, 'test-server');
  assert.deepEqual(welcome.limits, {
    maxFrameBytes: 65536,
    pingIntervalMs: 1000,
    defaultCallTimeoutMs: 777,
    streamWindowBytes: 1024 * 1024,
    maxMessageBytes: 256 * 1024 * 1024,
  });
});

test('a bad key in hello is answered with SB_ERR_AUTH_BAD_KEY and close 4001', async (t) => {
  const { wsUrl } = await startServer(t);
  const client = await rawClient(t, wsUrl);
  client.send({ type: 'hello', protocol: 1, key: 'sbk_s_not-a-real-key-0000000000' });
  const frame = await client.next();
  assert.equal(frame.type === 'error' && frame.error.code, 'SB_ERR_AUTH_BAD_KEY');
  const { code, reason } = await client.closed;
  assert.equal(code, 4001);
  assert.match(reason, /^SB_ERR_AUTH_BAD_KEY/);
});

test('no hello within the auth deadline closes with SB_ERR_AUTH_TIMEOUT', async (t) => {
  const { wsUrl } = await startServer(t, { authTimeoutMs: 150 });
  const client = await rawClient(t, wsUrl);
  const started = Date.now();
  const { code, reason } = await client.closed;
  assert.equal(code, 4001);
  assert.match(reason, /^SB_ERR_AUTH_TIMEOUT/);
  assert.ok(Date.now() - started < 3000);
});

test('a call before hello is refused with SB_ERR_AUTH_NOT_AUTHENTICATED', async (t) => {
  const { wsUrl } = await startServer(t);
  const client = await rawClient(t, wsUrl, SERVER_KEY);
  client.send({ type: 'call', id: 1, name: 'add', args: [1, 2] });
  const frame = await client.next();
  assert.equal(frame.type === 'error' && frame.error.code, 'SB_ERR_AUTH_NOT_AUTHENTICATED');
  assert.equal((await client.closed).code, 4001);
});

test('an unsupported protocol version is refused with SB_ERR_PROTO_VERSION', async (t) => {
  const { wsUrl } = await startServer(t);
  const client = await rawClient(t, wsUrl, SERVER_KEY);
  client.send({ type: 'hello', protocol: 99 });
  const frame = await client.next();
  assert.equal(frame.type === 'error' && frame.error.code, 'SB_ERR_PROTO_VERSION');
  assert.equal((await client.closed).code, 4000);
});

test('a client key may call but its register is refused with SB_ERR_PERMISSION_DENIED', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  sb.callable('double', (x: number) => x * 2, { allowClients: true });
  sb.callable('serverOnly', () => 'secret');
  const client = await helloClient(t, wsUrl, CLIENT_KEY);
  client.send({ type: 'register', id: 1, functions: [{ name: 'evil' }] });
  const refusal = await client.next();
  assert.equal(refusal.type, 'error');
  assert.equal(refusal.type === 'error' && refusal.id, 1);
  assert.equal(refusal.type === 'error' && refusal.error.code, 'SB_ERR_PERMISSION_DENIED');
  await assert.rejects(sb.call('evil'), { code: 'SB_ERR_NO_SUCH_FUNCTION' });
  // The connection is still good for calls.
  client.send({ type: 'call', id: 2, name: 'double', args: [21] });
  assert.deepEqual(await client.next(), { type: 'result', id: 2, value: 42 });
  // A function registered without allowClients is refused before it runs, as if it did not exist.
  client.send({ type: 'call', id: 3, name: 'serverOnly', args: [] });
  const denied = await client.next();
  assert.equal(denied.type === 'error' && denied.error.code, 'SB_ERR_NO_SUCH_FUNCTION');
});

test('garbage, text frames and unknown frame types get SB_ERR_PROTO_BAD_FRAME and a close; others keep working', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  sb.callable('ping', () => 'pong');
  const bystander = await helloClient(t, wsUrl, SERVER_KEY);

  for (const poison of [
    (c: Awaited<ReturnType<typeof helloClient>>) => c.sendBytes(Buffer.from('c1c1c1', 'hex')),
    (c: Awaited<ReturnType<typeof helloClient>>) => c.ws.send('{"type":"call"}'),
    (c: Awaited<ReturnType<typeof helloClient>>) => c.send({ type: 'teleport', id: 1 }),
    (c: Awaited<ReturnType<typeof helloClient>>) =>
      c.send({ type: 'call', id: 'one', name: 'ping', args: [] }),
    (c: Awaited<ReturnType<typeof helloClient>>) => c.sendBytes(randomBytes(64)),
  ]) {
    const victim = await helloClient(t, wsUrl, SERVER_KEY);
    poison(victim);
    const frame = await victim.next();
    assert.equal(frame.type === 'error' && frame.error.code, 'SB_ERR_PROTO_BAD_FRAME');
    const { code } = await victim.closed;
    assert.equal(code, 4000);
  }
  bystander.send({ type: 'call', id: 9, name: 'ping', args: [] });
  assert.deepEqual(await bystander.next(), { type: 'result', id: 9, value: 'pong' });
});

test('hostile bytes from many connections never take the server down', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  sb.callable('ping', () => 'pong');
  const closes: Array<Promise<unknown>> = [];
  for (let i = 0; i < 40; i++) {
    const client = await rawClient(t, wsUrl, i % 2 === 0 ? SERVER_KEY : undefined);
    if (i % 3 === 0) client.send({ type: 'hello', protocol: 1, key: SERVER_KEY });
    client.sendBytes(randomBytes(1 + ((i * 37) % 300)));
    closes.push(client.closed);
  }
  await Promise.all(closes);
  assert.equal(await sb.call('ping'), 'pong');
  const survivor = await helloClient(t, wsUrl, SERVER_KEY);
  survivor.send({ type: 'call', id: 1, name: 'ping', args: [] });
  assert.deepEqual(await survivor.next(), { type: 'result', id: 1, value: 'pong' });
});

test('a message over maxFrameBytes gets SB_ERR_PROTO_FRAME_TOO_LARGE and close 1009', async (t) => {
  const { sb, wsUrl } = await startServer(t, { maxFrameBytes: 64 * 1024 });
  sb.callable('ping', () => 'pong');
  const client = await helloClient(t, wsUrl, SERVER_KEY);
  client.send({ type: 'call', id: 1, name: 'ping', args: [Buffer.alloc(100 * 1024)] });
  const frame = await client.next();
  assert.equal(frame.type === 'error' && frame.error.code, 'SB_ERR_PROTO_FRAME_TOO_LARGE');
  const { code, reason } = await client.closed;
  assert.equal(code, 1009);
  assert.match(reason, /^SB_ERR_PROTO_FRAME_TOO_LARGE/);
  // Far over the limit: ws stops reading and closes with 1009 as well.
  const huge = await helloClient(t, wsUrl, SERVER_KEY);
  huge.sendBytes(
    encodeValue({ type: 'call', id: 1, name: 'ping', args: [Buffer.alloc(300 * 1024)] }),
  );
  assert.equal((await huge.closed).code, 1009);
  assert.equal(await sb.call('ping'), 'pong');
});

test('answers for unknown ids are ignored; a reused call id closes the connection', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  sb.callable('wait', () => new Promise((resolve) => setTimeout(resolve, 200, 'done')));
  const client = await helloClient(t, wsUrl, SERVER_KEY);
  client.send({ type: 'result', id: 12345, value: 1 });
  client.send({
    type: 'error',
    id: 777,
    error: { code: 'SB_ERR_REMOTE_ERROR', type: 'Error', message: 'late' },
  });
  client.send({ type: 'cancel', id: 4242 });
  client.send({ type: 'call', id: 1, name: 'wait', args: [] });
  assert.deepEqual(await client.next(), { type: 'result', id: 1, value: 'done' });
  client.send({ type: 'call', id: 2, name: 'wait', args: [] });
  client.send({ type: 'call', id: 2, name: 'wait', args: [] });
  const frame = await client.next();
  assert.equal(frame.type === 'error' && frame.error.code, 'SB_ERR_PROTO_BAD_FRAME');
  assert.equal((await client.closed).code, 4000);
});

test('unknown upgrade paths get 404', async (t) => {
  const { url } = await startServer(t);
  const result = await upgradeStatus(`${url.replace('http', 'ws')}/elsewhere`, {});
  assert.equal(result.status, 404);
});

test('the door writes a raw provider answer as is, sets content-length itself and refuses bad headers', async (t) => {
  const { url, wsUrl } = await startServer(t);
  const client = await helloClient(t, wsUrl, SERVER_KEY);
  client.send({ type: 'register', id: 1, endpoints: [{ path: '/raw', methods: ['GET'] }] });
  assert.equal((await client.next()).type, 'result');
  const answers = [
    {
      status: 201,
      headers: { 'x-a': 'b', 'set-cookie': ['c=1', 'd=2'], 'Content-Length': '999' },
      body: Buffer.from('hello'),
    },
    { status: 204, headers: { 'x-bad': 'line\nbreak' } },
    { status: 200, headers: { 'bad name': 'x' }, body: Buffer.from('no') },
  ];
  const serve = async () => {
    for (const value of answers) {
      const frame = await client.next();
      assert.equal(frame.type, 'request');
      if (frame.type === 'request') client.send({ type: 'result', id: frame.id, value });
    }
  };
  const served = serve();
  const first = await fetch(`${url}/_/api/raw`);
  assert.equal(first.status, 201);
  assert.equal(first.headers.get('content-length'), '5');
  assert.equal(first.headers.get('x-a'), 'b');
  assert.deepEqual(first.headers.getSetCookie(), ['c=1', 'd=2']);
  assert.equal(await first.text(), 'hello');
  for (let i = 0; i < 2; i++) {
    const bad = await fetch(`${url}/_/api/raw`);
    assert.equal(bad.status, 500);
    assert.equal(((await bad.json()) as { code: string }).code, 'SB_ERR_HTTP_BAD_RESPONSE');
  }
  await served;
});
