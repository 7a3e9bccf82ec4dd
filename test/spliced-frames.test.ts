import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Readable, type Duplex } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import {
  FrameBatcher,
  MessageWriter,
  SPLICE_MIN_BYTES,
  decodeValue,
  decodeValues,
  encodeFrame,
  encodeSpliced,
  encodeValue,
  type AnyFrame,
  type LocalHttpRequest,
} from '@switchboard/shared';
import { BodyChunks, readBody } from '../server/src/http/request-body.ts';

const requestFrame = (body: Uint8Array | undefined): AnyFrame => ({
  type: 'request',
  id: 7,
  endpoint: '/echo',
  request: {
    method: 'POST',
    path: '/echo',
    params: {},
    query: '',
    headers: { 'content-type': 'application/json', 'x-note': 'é'.repeat(40) },
    remoteAddress: '127.0.0.1',
    ...(body === undefined ? {} : { body }),
    appOrigin: 'http://127.0.0.1:1',
    apiOrigin: 'http://127.0.0.1:1/_/api',
  },
  timeoutMs: 30_000,
  caller: { kind: 'http' },
  requestId: 'sbabc-1',
});

test('a spliced frame is byte for byte the plain encoding, and the caller frame is untouched', () => {
  for (const size of [SPLICE_MIN_BYTES, SPLICE_MIN_BYTES + 1, 3 * 1024 * 1024 + 5]) {
    const body = randomBytes(size);
    const frames: AnyFrame[] = [
      requestFrame(body),
      { type: 'result', id: 1, value: body },
      { type: 'result', id: 2, value: new Uint8Array(body) },
      { type: 'result', id: 3, value: { status: 200, headers: { a: 'b' }, body, after: [1, 2] } },
    ];
    for (const frame of frames) {
      const spliced = encodeSpliced(frame);
      assert.ok(spliced !== undefined, `${frame.type} of ${size} bytes is spliced`);
      // The body travels by reference, never copied into the encoding.
      assert.ok(spliced.parts.some((part) => part.buffer === body.buffer || part.equals(body)));
      const whole = Buffer.concat(spliced.parts);
      assert.equal(whole.byteLength, spliced.byteLength);
      assert.deepEqual(whole, encodeValue(frame));
      assert.deepEqual(decodeValue(whole), decodeValue(encodeValue(frame)));
    }
    assert.equal((frames[0] as { request: { body: unknown } }).request.body, body);
  }
});

test('a body still in chunks is spliced chunk by chunk, or joined when small; never sent as chunks', () => {
  const chunks = [randomBytes(40_000), randomBytes(30_000), randomBytes(5)];
  const frame = requestFrame(undefined);
  (frame as { request: LocalHttpRequest }).request.bodyChunks = chunks;
  const plain = encodeValue(requestFrame(Buffer.concat(chunks)));
  const spliced = encodeFrame(frame);
  assert.ok(!Buffer.isBuffer(spliced));
  for (const chunk of chunks) assert.ok(spliced.parts.includes(chunk), 'by reference');
  const decoded = decodeValue(Buffer.concat(spliced.parts)) as { request: Record<string, unknown> };
  assert.deepEqual(decoded, decodeValue(plain)); // `body` comes last in the request here
  assert.equal('bodyChunks' in decoded.request, false);

  const small = requestFrame(undefined);
  (small as { request: LocalHttpRequest }).request.bodyChunks = [
    Buffer.from('ab'),
    Buffer.from('c'),
  ];
  const joined = encodeFrame(small);
  assert.ok(Buffer.isBuffer(joined));
  assert.deepEqual(decodeValue(joined), decodeValue(encodeValue(requestFrame(Buffer.from('abc')))));
});

test('small bodies, other frames and non-plain values are encoded the plain way', () => {
  assert.equal(encodeSpliced(requestFrame(randomBytes(SPLICE_MIN_BYTES - 1))), undefined);
  assert.equal(encodeSpliced(requestFrame(undefined)), undefined);
  assert.equal(
    encodeSpliced({ type: 'call', id: 1, name: 'f', args: [randomBytes(1 << 20)] }),
    undefined,
  );
  class Answer {
    body = randomBytes(SPLICE_MIN_BYTES);
  }
  assert.equal(encodeSpliced({ type: 'result', id: 1, value: new Answer() }), undefined);
  assert.equal(encodeSpliced({ type: 'result', id: 1, value: 'x'.repeat(1 << 17) }), undefined);
});

/** A ws server and client on loopback; the server keeps its upgraded socket. */
async function wsPair(t: TestContext, mask: 'zero' | 'random') {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: 64 << 20 });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const peer of wss.clients) peer.terminate();
        wss.close(() => resolve());
      }),
  );
  let serverSocket: Duplex | undefined;
  wss.on('connection', (_ws, request) => {
    serverSocket = request.socket;
  });
  await once(wss, 'listening');
  const { port } = wss.address() as { port: number };
  const client = new WebSocket(`ws://127.0.0.1:${port}`, {
    maxPayload: 64 << 20,
    ...(mask === 'zero' ? { generateMask: (key: Buffer) => void key.fill(0) } : {}),
  });
  let clientSocket: Duplex | undefined;
  client.once('upgrade', (response) => {
    clientSocket = response.socket;
  });
  const [server] = (await once(wss, 'connection')) as [WebSocket];
  await once(client, 'open');
  t.after(() => client.terminate());
  return { server, serverSocket: serverSocket!, client, clientSocket: clientSocket! };
}

function received(ws: WebSocket, count: number): Promise<Buffer[]> {
  const messages: Buffer[] = [];
  return new Promise((resolve) => {
    ws.on('message', (data) => {
      messages.push(data as Buffer);
      if (messages.length === count) resolve(messages);
    });
  });
}

test('spliced messages reach a ws peer intact in both directions, in order with batched frames', async (t) => {
  const { server, serverSocket, client, clientSocket } = await wsPair(t, 'zero');
  // Lengths on both sides of each WebSocket length encoding (7 bit, 16 bit, 64 bit).
  const sizes = [0, 1, 120, 125, 126, 65_530, 65_535, 65_536, 1 << 20];
  const toClient = new FrameBatcher(new MessageWriter(server, serverSocket, false), 64 << 20);
  const toServer = new FrameBatcher(new MessageWriter(client, clientSocket, true), 64 << 20);
  for (const [batcher, peer] of [
    [toClient, client],
    [toServer, server],
  ] as const) {
    const messages = received(peer, sizes.length * 2);
    const tails = sizes.map((size) => randomBytes(size));
    for (const [i, size] of sizes.entries()) {
      const tail = tails[i]!;
      batcher.push(encodeValue({ type: 'result', id: size, value: 'before' }));
      const head = Buffer.from([0x92, 0xa1, 0x78]); // [ "x", ... ] as a fixarray of two
      const bin = Buffer.from([0xc6, 0, 0, 0, 0]);
      bin.writeUInt32BE(size, 1);
      batcher.push({ parts: [head, bin, tail], byteLength: 8 + size });
      assert.deepEqual(decodeValue(Buffer.concat([head, bin, tail])), ['x', tail]);
    }
    batcher.flush();
    const got = await messages;
    for (const [i, size] of sizes.entries()) {
      assert.deepEqual(decodeValues(got[2 * i]!), [{ type: 'result', id: size, value: 'before' }]);
      assert.deepEqual(decodeValue(got[2 * i + 1]!), ['x', tails[i]]);
    }
  }
});

test('without a zero masking key (or a socket) parts are joined and sent through ws', async (t) => {
  const { server, client } = await wsPair(t, 'random');
  const writer = new MessageWriter(client, undefined, true);
  const messages = received(server, 1);
  const body = randomBytes(70_000);
  writer.sendParts([Buffer.from([1, 2]), body, Buffer.from([3])], body.byteLength + 3);
  const [got] = await messages;
  assert.deepEqual(got, Buffer.concat([Buffer.from([1, 2]), body, Buffer.from([3])]));
});

test('nothing is written once the WebSocket is closing', async (t) => {
  const { server, serverSocket, client } = await wsPair(t, 'zero');
  const writer = new MessageWriter(server, serverSocket, false);
  server.close();
  const write = t.mock.method(serverSocket, 'write');
  writer.sendParts([randomBytes(100)], 100);
  assert.equal(write.mock.callCount(), 0);
  await once(client, 'close');
});

test('with a negotiated extension (permessage-deflate) parts go through ws', async (t) => {
  const { server, serverSocket, client } = await wsPair(t, 'zero');
  const sent: Buffer[] = [];
  const deflating = {
    readyState: WebSocket.OPEN,
    extensions: 'permessage-deflate',
    send(data: Buffer) {
      sent.push(data);
      server.send(data);
    },
  };
  const messages = received(client, 1);
  const parts = [Buffer.from([1]), Buffer.from([2])];
  new MessageWriter(deflating, serverSocket, false).sendParts(parts, 2);
  assert.deepEqual(sent, [Buffer.from([1, 2])]);
  assert.deepEqual([...(await messages)[0]!], [1, 2]);
});

/** What `readBody` makes of a body arriving in `pieces`. */
function bodyOf(pieces: Buffer[]): Promise<unknown> {
  const payload = Object.assign(Readable.from(pieces), { headers: {} });
  return new Promise((resolve, reject) =>
    readBody(payload as never, 1 << 30, (error, body) => (error ? reject(error) : resolve(body))),
  );
}

test('the door keeps a large body in chunks only when they are large; tiny pieces are joined', async () => {
  const large = await bodyOf([randomBytes(40_000), randomBytes(40_000)]);
  assert.ok(large instanceof BodyChunks);
  assert.equal(large.chunks.length, 2);
  const tiny = await bodyOf(Array.from({ length: 70_000 }, () => Buffer.from('x')));
  assert.ok(Buffer.isBuffer(tiny), 'one socket write per byte is not an option');
  assert.equal(tiny.byteLength, 70_000);
  const small = await bodyOf([Buffer.from('a'), Buffer.from('b')]);
  assert.deepEqual(small, Buffer.from('ab'));
});
