// What docs/protocol.md promises a client written from it alone, checked on a real server with a
// raw WebSocket peer speaking MessagePack frames (and, for the uplink's side, a fake server).
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { connect } from '@switchboard/uplink';
import {
  Media,
  decodeUplinkMessage,
  encodeValue,
  type ServerToUplinkFrame,
  type UplinkToServerFrame,
} from '@switchboard/shared';
import { helloClient, rawClient, type RawClient } from './helpers/raw-client.ts';
import { SERVER_KEY, startServer } from './helpers/server.ts';

const WINDOW = 64 * 1024;

/** The next frame, which must be an `error` for `id`: its code. */
async function errorCode(client: RawClient, id: number): Promise<string> {
  const frame = await client.next();
  assert.equal(frame.type, 'error', JSON.stringify(frame));
  assert.equal(frame.type === 'error' && frame.id, id);
  return frame.type === 'error' ? frame.error.code : '';
}

/** Several frames in one WebSocket message: the receiver handles them in one go. */
function sendBatch(client: RawClient, frames: unknown[]): void {
  client.sendBytes(Buffer.concat(frames.map((frame) => encodeValue(frame))));
}

/** `promise`, or a failure after `ms` (an awaited frame that never comes fails, not hangs). */
function within<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function expectClosed(client: RawClient, code: string, closeCode: number): Promise<void> {
  const frame = await client.next();
  assert.equal(frame.type === 'error' && frame.error.code, code, JSON.stringify(frame));
  assert.equal((await client.closed).code, closeCode);
}

test('invalid function names in register, unregister and call get an error frame for that id; the connection stays', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  sb.callable('ping', () => 'pong');
  const client = await helloClient(t, wsUrl, SERVER_KEY);
  let id = 1;
  for (const bad of ['bad name!', '', 'x'.repeat(201), '.dot', 'é']) {
    // All or nothing: the valid name beside it is not registered either.
    client.send({ type: 'register', id, functions: [{ name: 'good' }, { name: bad }] });
    assert.equal(await errorCode(client, id++), 'SB_ERR_NAME_INVALID', bad);
  }
  assert.deepEqual(sb.app.switchboard.hub.uplinks()[0]?.functions(), [], 'nothing registered');
  client.send({ type: 'unregister', id, names: ['bad name!'] });
  assert.equal(await errorCode(client, id++), 'SB_ERR_NAME_INVALID');
  client.send({ type: 'call', id, name: 'bad name!', args: [] });
  assert.equal(await errorCode(client, id++), 'SB_ERR_NAME_INVALID');
  client.send({ type: 'call', id, name: 'x'.repeat(201), args: [] });
  assert.equal(await errorCode(client, id++), 'SB_ERR_NAME_INVALID');
  // Still open and in order.
  client.send({ type: 'register', id, functions: [{ name: 'x'.repeat(200) }] });
  assert.deepEqual(await client.next(), { type: 'result', id: id++, value: { registered: 1 } });
  client.send({ type: 'unregister', id, names: ['x'.repeat(200)] });
  assert.deepEqual(await client.next(), { type: 'result', id: id++, value: null });
  client.send({ type: 'call', id, name: 'ping', args: [] });
  assert.deepEqual(await client.next(), { type: 'result', id, value: 'pong' });
});

test('invalid endpoint paths and methods get SB_ERR_ENDPOINT_PATH_INVALID; the connection stays', async (t) => {
  const { sb, url, wsUrl } = await startServer(t);
  sb.callable('ping', () => 'pong');
  const client = await helloClient(t, wsUrl, SERVER_KEY);
  const cases = [
    { path: 'no-slash' },
    { path: '/a/:id/:id' },
    { path: '/a b' },
    { path: '/x'.repeat(300) },
    { path: '/ok', methods: ['BREW'] },
    { path: '/ok', methods: [] },
  ];
  let id = 1;
  for (const endpoint of cases) {
    client.send({ type: 'register', id, functions: [{ name: 'fine' }], endpoints: [endpoint] });
    assert.equal(await errorCode(client, id++), 'SB_ERR_ENDPOINT_PATH_INVALID', endpoint.path);
  }
  client.send({ type: 'unregister', id, paths: ['no-slash'] });
  assert.equal(await errorCode(client, id++), 'SB_ERR_ENDPOINT_PATH_INVALID');
  assert.equal((await fetch(`${url}/_/api/ok`)).status, 404, 'nothing registered');
  client.send({ type: 'call', id, name: 'fine', args: [] });
  assert.equal(await errorCode(client, id++), 'SB_ERR_NO_SUCH_FUNCTION');
  client.send({ type: 'call', id, name: 'ping', args: [] });
  assert.deepEqual(await client.next(), { type: 'result', id, value: 'pong' });
});

test("a register's shape is still checked: wrong field types close with SB_ERR_PROTO_BAD_FRAME (4000)", async (t) => {
  const { wsUrl } = await startServer(t);
  for (const frame of [
    { type: 'register', id: -1, functions: [{ name: 'a' }] },
    { type: 'register', id: 2 ** 32, functions: [{ name: 'a' }] },
    { type: 'register', id: 1, functions: { name: 'a' } },
    { type: 'register', id: 1, functions: ['a'] },
    { type: 'register', id: 1, functions: [{ name: 42 }] },
    { type: 'register', id: 1, endpoints: [{ path: 7 }] },
    { type: 'register', id: 1, endpoints: [{ path: '/a', methods: 'GET' }] },
    { type: 'unregister', id: 1, names: [42] },
    { type: 'call', id: 1, name: 42, args: [] },
  ]) {
    const client = await helloClient(t, wsUrl, SERVER_KEY);
    client.send(frame);
    await expectClosed(client, 'SB_ERR_PROTO_BAD_FRAME', 4000);
  }
});

test('hello.name is 1-128 printable characters; anything else is refused with SB_ERR_PROTO_BAD_FRAME (4000)', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  for (const name of ['', 'a'.repeat(129), 'a\nb', 'tab\there', 'bell\u0007', 'rtl\u202e', 7]) {
    const client = await rawClient(t, wsUrl, SERVER_KEY);
    client.send({ type: 'hello', protocol: 1, name });
    await expectClosed(client, 'SB_ERR_PROTO_BAD_FRAME', 4000);
  }
  const longest = '🛰'.repeat(128); // 128 characters, 256 UTF-16 units
  const client = await rawClient(t, wsUrl, SERVER_KEY);
  client.send({ type: 'hello', protocol: 1, name: longest });
  assert.equal((await client.next()).type, 'welcome');
  assert.equal(sb.app.switchboard.hub.uplinks()[0]?.name, longest);
  // The TypeScript client refuses such a name before connecting (it would loop otherwise).
  await assert.rejects(connect({ url: wsUrl, key: SERVER_KEY, name: 'a\nb' }), {
    code: 'SB_ERR_OPTIONS_INVALID',
  });
});

/** A raw uplink serving `GET /flood` and the function `parts`, on a server with a 64 KiB window. */
async function floodSetup(t: TestContext) {
  const server = await startServer(t, { streamWindowBytes: WINDOW });
  const client = await helloClient(t, server.wsUrl, SERVER_KEY);
  client.send({
    type: 'register',
    id: 1,
    functions: [{ name: 'parts' }],
    endpoints: [{ path: '/flood', methods: ['GET'] }],
  });
  assert.equal((await client.next()).type, 'result');
  return { ...server, client };
}

test('a response body sent beyond its credit is refused: abort with SB_ERR_STREAM_CREDIT_EXCEEDED', async (t) => {
  const { url, client } = await floodSetup(t);
  const response = fetch(`${url}/_/api/flood`);
  const request = await client.next();
  assert.equal(request.type, 'request');
  // One window and one byte more, in one message, before any credit could come back.
  sendBatch(client, [
    {
      type: 'result',
      id: request.type === 'request' ? request.id : 0,
      value: { status: 200, headers: {}, stream: 5 },
    },
    { type: 'chunk', stream: 5, data: Buffer.alloc(WINDOW, 1) },
    { type: 'chunk', stream: 5, data: Buffer.alloc(1, 2) },
  ]);
  let abort: ServerToUplinkFrame;
  do abort = await client.next();
  while (abort.type === 'credit');
  assert.equal(abort.type, 'abort');
  assert.equal(abort.type === 'abort' && abort.stream, 5);
  assert.equal(abort.type === 'abort' && abort.error?.code, 'SB_ERR_STREAM_CREDIT_EXCEEDED');
  // The HTTP client sees an incomplete body, never a short one that looks whole.
  const answer = await response;
  assert.equal(answer.status, 200);
  await assert.rejects(answer.arrayBuffer());
});

test('a progressive-result part may overdraw the credit once; the next one without credit is refused', async (t) => {
  const { sb, client } = await floodSetup(t);
  const part = Buffer.alloc(WINDOW + 1000, 3); // one part larger than the whole window
  const first = sb.call('parts');
  let call = await client.next();
  assert.equal(call.type, 'call');
  sendBatch(client, [
    { type: 'result', id: call.type === 'call' ? call.id : 0, stream: 8 },
    { type: 'chunk', stream: 8, data: encodeValue(part) },
    { type: 'end', stream: 8 },
  ]);
  const parts = (await first) as Buffer[];
  assert.equal(parts.length, 1);
  assert.equal(parts[0]!.byteLength, part.byteLength);

  const second = sb.call('parts');
  call = await client.next();
  assert.equal(call.type, 'call');
  sendBatch(client, [
    { type: 'result', id: call.type === 'call' ? call.id : 0, stream: 9 },
    { type: 'chunk', stream: 9, data: encodeValue(part) },
    { type: 'chunk', stream: 9, data: encodeValue(1) },
  ]);
  await assert.rejects(second, { code: 'SB_ERR_STREAM_CREDIT_EXCEEDED' });
  let abort: ServerToUplinkFrame;
  do abort = await client.next();
  while (abort.type === 'credit');
  assert.equal(abort.type === 'abort' && abort.error?.code, 'SB_ERR_STREAM_CREDIT_EXCEEDED');
});

/** A fake Switchboard server for one TypeScript uplink: welcome with a small window, then `serve`. */
async function fakeServer(
  t: TestContext,
  serve: (frame: UplinkToServerFrame, ws: WebSocket, connection: number) => void,
): Promise<{ url: string; connections: () => number }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  );
  let connections = 0;
  wss.on('connection', (ws) => {
    const connection = ++connections;
    ws.on('message', (data: Buffer) => {
      for (const frame of decodeUplinkMessage(data)) {
        if (frame.type === 'hello') {
          ws.send(
            encodeValue({
              type: 'welcome',
              protocol: 1,
              connectionId: `u_fake${connection}`,
              keyKind: 'server',
              keyName: 'fake',
              limits: {
                maxFrameBytes: 1024 * 1024,
                pingIntervalMs: 60_000,
                defaultCallTimeoutMs: 5000,
                streamWindowBytes: WINDOW,
              },
            }),
          );
        } else serve(frame, ws, connection);
      }
    });
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const { port } = wss.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${port}/_/uplink`, connections: () => connections };
}

test('the uplink client refuses a request body sent beyond the credit of the window in welcome', async (t) => {
  let aborted: (frame: unknown) => void = () => undefined;
  const abort = new Promise((resolve) => (aborted = resolve));
  let answered: (frame: unknown) => void = () => undefined;
  const answer = new Promise((resolve) => (answered = resolve));
  const { url } = await fakeServer(t, (frame, ws) => {
    if (frame.type === 'register') {
      ws.send(encodeValue({ type: 'result', id: frame.id, value: { registered: 1 } }));
      const request = {
        method: 'POST',
        path: '/up',
        params: {},
        query: '',
        headers: {},
        remoteAddress: '127.0.0.1',
        appOrigin: 'http://fake',
        apiOrigin: 'http://fake/_/api',
        bodyStream: 4,
      };
      ws.send(
        Buffer.concat([
          encodeValue({ type: 'request', id: 1, endpoint: '/up', request, timeoutMs: 5000 }),
          encodeValue({ type: 'chunk', stream: 4, data: Buffer.alloc(WINDOW, 1) }),
          encodeValue({ type: 'chunk', stream: 4, data: Buffer.alloc(1, 2) }),
        ]),
      );
    } else if (frame.type === 'abort') aborted(frame);
    else if (frame.type === 'result' || frame.type === 'error') answered(frame);
  });
  const uplink = await connect({ url, key: SERVER_KEY });
  t.after(() => uplink.close());
  uplink.httpEndpoint('/up', { methods: ['POST'], maxBodyBytes: 1 << 20 }, async (req) => {
    try {
      for await (const chunk of req.body as AsyncIterable<Buffer>) void chunk;
      return 'read it all';
    } catch (error) {
      return `refused: ${(error as { code?: string }).code}`;
    }
  });
  const frame = (await within(abort, 'abort')) as { stream: number; error?: { code: string } };
  assert.equal(frame.stream, 4);
  assert.equal(frame.error?.code, 'SB_ERR_STREAM_CREDIT_EXCEEDED');
  const result = (await within(answer, 'answer')) as {
    type: string;
    value?: { body?: Uint8Array };
  };
  assert.equal(result.type, 'result');
  assert.equal(
    Buffer.from(result.value?.body ?? []).toString(),
    'refused: SB_ERR_STREAM_CREDIT_EXCEEDED',
  );
});

test('a registration the server cannot decode fails synced() with its code and is not sent again after reconnecting', async (t) => {
  const registers: number[] = [];
  let secondCall: (frame: UplinkToServerFrame) => void = () => undefined;
  const afterReconnect = new Promise<UplinkToServerFrame>((resolve) => (secondCall = resolve));
  const fake = await fakeServer(t, (frame, ws, connection) => {
    if (frame.type === 'register') {
      registers.push(connection);
      // What a server stricter than this client does with a frame it cannot decode.
      ws.send(
        encodeValue({
          type: 'error',
          error: { code: 'SB_ERR_PROTO_BAD_FRAME', type: 'SwitchboardError', message: 'no' },
        }),
      );
      ws.close(4000, 'SB_ERR_PROTO_BAD_FRAME: no');
    } else if (connection === 2) {
      secondCall(frame);
      if (frame.type === 'call')
        ws.send(encodeValue({ type: 'result', id: frame.id, value: 'ok' }));
    }
  });
  const uplink = await connect({
    url: fake.url,
    key: SERVER_KEY,
    reconnect: { initialDelayMs: 1, maxDelayMs: 5 },
  });
  t.after(() => uplink.close());
  const connected = new Promise<void>((resolve) =>
    uplink.on('status', (status) => {
      if (status.state === 'connected') resolve();
    }),
  );
  uplink.callable('fine', () => 1);
  await assert.rejects(within(uplink.synced(), 'synced'), { code: 'SB_ERR_PROTO_BAD_FRAME' });
  await within(connected, 'reconnect');
  // Frames are ordered: a register sent after the new welcome would arrive before this call.
  const pending = uplink.call('anything');
  const first = await within(afterReconnect, 'a frame after reconnecting');
  assert.equal(first.type, 'call');
  assert.equal(await pending, 'ok');
  assert.deepEqual(registers, [1]);
});

test('documented values: HEAD reaches the GET handler as "HEAD"; JSON forms over /_/call; __proto__ renamed; integer encodings', async (t) => {
  const { sb, url, wsUrl } = await startServer(t);
  const client = await helloClient(t, wsUrl, SERVER_KEY);
  client.send({
    type: 'register',
    id: 1,
    functions: [{ name: 'values', allowClients: true }, { name: 'echo' }],
    endpoints: [{ path: '/page', methods: ['GET'] }],
  });
  assert.equal((await client.next()).type, 'result');

  const head = fetch(`${url}/_/api/page`, { method: 'HEAD' });
  const request = await client.next();
  assert.equal(request.type === 'request' && request.request.method, 'HEAD');
  client.send({
    type: 'result',
    id: request.type === 'request' ? request.id : 0,
    value: { status: 200, headers: { 'content-type': 'text/plain' }, body: Buffer.from('hello') },
  });
  const headAnswer = await head;
  assert.equal(headAnswer.status, 200);
  assert.equal(headAnswer.headers.get('content-length'), '5');
  assert.equal((await headAnswer.arrayBuffer()).byteLength, 0);

  const json = fetch(`${url}/_/call/values`, { method: 'POST' });
  const call = await client.next();
  assert.equal(call.type, 'call');
  client.send({
    type: 'result',
    id: call.type === 'call' ? call.id : 0,
    value: {
      bytes: Buffer.from('hi'),
      date: new Date(0),
      media: new Media('text/plain', Buffer.from('x'), 'a.txt'),
      gone: undefined,
      list: [undefined, 1],
      big: 2n ** 70n,
      int64: 5n,
    },
  });
  assert.deepEqual(await (await json).json(), {
    bytes: 'aGk=',
    date: '1970-01-01T00:00:00.000Z',
    media: { contentType: 'text/plain', name: 'a.txt', base64: 'eA==' },
    list: [null, 1],
    big: '1180591620717411303424',
    int64: '5',
  });

  // A map key "__proto__" (hand-encoded: no JS object can hold it as data) becomes "__proto_".
  const proto = sb.call('echo');
  const protoCall = await client.next();
  const id = protoCall.type === 'call' ? protoCall.id : 0;
  client.sendBytes(
    Buffer.concat([
      Buffer.from([0x83, 0xa4]),
      Buffer.from('type'),
      Buffer.from([0xa6]),
      Buffer.from('result'),
      Buffer.from([0xa2]),
      Buffer.from('id'),
      Buffer.from([0xce, id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff]),
      Buffer.from([0xa5]),
      Buffer.from('value'),
      Buffer.from([0x81, 0xa9]),
      Buffer.from('__proto__'),
      Buffer.from([0x81, 0xa5]),
      Buffer.from('admin'),
      Buffer.from([0xc3]),
    ]),
  );
  const value = (await proto) as Record<string, unknown>;
  assert.deepEqual(Object.keys(value), ['__proto_']);
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.equal((value as { admin?: unknown }).admin, undefined);

  // Frame integers: float64 with an integral value is accepted; int64/uint64 arrive as BigInt
  // and are refused in frame fields.
  const float = Buffer.concat([
    Buffer.from([0x84, 0xa4]),
    Buffer.from('type'),
    Buffer.from([0xa4]),
    Buffer.from('call'),
    Buffer.from([0xa2]),
    Buffer.from('id'),
    Buffer.from('cb3ff0000000000000', 'hex'), // 1.0
    Buffer.from([0xa4]),
    Buffer.from('name'),
    Buffer.from([0xa4]),
    Buffer.from('echo'),
    Buffer.from([0xa4]),
    Buffer.from('args'),
    Buffer.from([0x91]),
    Buffer.from('d30000000000000005', 'hex'), // int64 5: a BigInt for the function
  ]);
  const forwarded = client.next();
  client.sendBytes(float);
  const relayed = await forwarded; // the echo call arrives at this same uplink
  assert.equal(relayed.type === 'call' && relayed.name, 'echo');
  assert.deepEqual(relayed.type === 'call' && relayed.args, [5n]);
  client.send({ type: 'result', id: relayed.type === 'call' ? relayed.id : 0, value: 'one' });
  assert.deepEqual(await client.next(), { type: 'result', id: 1, value: 'one' });
  client.sendBytes(
    Buffer.from(float.toString('hex').replace('cb3ff0000000000000', 'cf0000000000000002'), 'hex'),
  );
  await expectClosed(client, 'SB_ERR_PROTO_BAD_FRAME', 4000);
});

test("a peer's own error codes arrive as SB_ERR_REMOTE_ERROR with type, message and data kept, the code in data.code", async (t) => {
  const { url, wsUrl } = await startServer(t);
  const provider = await helloClient(t, wsUrl, SERVER_KEY);
  provider.send({ type: 'register', id: 1, functions: [{ name: 'fails', allowClients: true }] });
  assert.equal((await provider.next()).type, 'result');
  const caller = await helloClient(t, wsUrl, SERVER_KEY);
  const ownError = {
    code: 'E_OUT_OF_STOCK',
    type: 'ValueError',
    message: 'no more',
    stack: 'Traceback: line 1',
    data: { sku: 7 },
  };

  caller.send({ type: 'call', id: 3, name: 'fails', args: [] });
  let call = await provider.next();
  provider.send({ type: 'error', id: call.type === 'call' ? call.id : 0, error: ownError });
  const frame = await caller.next();
  assert.deepEqual(frame, {
    type: 'error',
    id: 3,
    error: { ...ownError, code: 'SB_ERR_REMOTE_ERROR', data: { sku: 7, code: 'E_OUT_OF_STOCK' } },
  });

  const http = fetch(`${url}/_/call/fails`, { method: 'POST' });
  call = await provider.next();
  provider.send({ type: 'error', id: call.type === 'call' ? call.id : 0, error: ownError });
  const answer = await http;
  assert.equal(answer.status, 500);
  const body = (await answer.json()) as Record<string, unknown>;
  assert.equal(body.code, 'SB_ERR_REMOTE_ERROR');
  assert.equal(body.stack, undefined);
});

test('a large message is delivered only when its stream ends with an end frame', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  sb.callable('ping', () => 'pong');
  const client = await helloClient(t, wsUrl, SERVER_KEY);
  const message = encodeValue({ type: 'register', id: 1, functions: [{ name: 'big' }] });
  sendBatch(client, [
    { type: 'large', stream: 3, bytes: message.byteLength },
    { type: 'chunk', stream: 3, data: message },
  ]);
  client.send({ type: 'call', id: 2, name: 'ping', args: [] });
  let frame: ServerToUplinkFrame;
  do frame = await client.next();
  while (frame.type === 'credit');
  assert.deepEqual(frame, { type: 'result', id: 2, value: 'pong' }, 'no register answer yet');
  client.send({ type: 'end', stream: 3 });
  assert.deepEqual(await client.next(), { type: 'result', id: 1, value: { registered: 1 } });
});
