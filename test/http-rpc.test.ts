import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeValue, encodeValue } from '@switchboard/shared';
import { spawnUplink } from './helpers/child.ts';
import { CLIENT_KEY, SERVER_KEY, startServer } from './helpers/server.ts';

function post(
  url: string,
  name: string,
  init: { body?: string | Buffer; headers?: Record<string, string> } = {},
) {
  return fetch(`${url}/_/call/${name}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${SERVER_KEY}`,
      'content-type': 'application/json',
      ...init.headers,
    },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
}

async function errorOf(
  response: Response,
): Promise<{ status: number; code: string; body: Record<string, unknown> }> {
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await response.json()) as Record<string, unknown>;
  assert.equal(typeof body.message, 'string');
  return { status: response.status, code: String(body.code), body };
}

test('POST /_/call/:name with JSON calls an uplink function and answers JSON', async (t) => {
  const { url } = await startServer(t);
  await spawnUplink(t, url, SERVER_KEY);
  const response = await post(url, 'add', { body: '[2,3]' });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(await response.json(), 5);
  // A client key may call too.
  const asClient = await post(url, 'add', {
    body: '[1,1]',
    headers: { authorization: `Bearer ${CLIENT_KEY}` },
  });
  assert.equal(await asClient.json(), 2);
  // JSON has no undefined, BigInt or bytes: they map to null, a decimal string, base64.
  assert.equal(await (await post(url, 'echo', { body: '[]' })).json(), null);
  assert.equal(await (await post(url, 'bigResult', { body: '[3]' })).json(), 'AAAA');
});

test('MessagePack in and out keeps every type', async (t) => {
  const { url, sb } = await startServer(t);
  sb.callable('echo', (value: unknown) => value);
  const response = await post(url, 'echo', {
    body: encodeValue([{ big: 2n ** 70n, when: new Date(5), nothing: undefined }]),
    headers: { 'content-type': 'application/msgpack', accept: 'application/msgpack' },
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'application/msgpack');
  const value = decodeValue(Buffer.from(await response.arrayBuffer())) as Record<string, unknown>;
  assert.equal(value.big, 2n ** 70n);
  assert.equal((value.when as Date).getTime(), 5);
  assert.ok(Object.hasOwn(value, 'nothing') && value.nothing === undefined);
});

test('bad keys are 401 with WWW-Authenticate; without a key a server-only function is not there', async (t) => {
  const { url, sb } = await startServer(t);
  sb.callable('ping', () => 'pong');
  const missing = await fetch(`${url}/_/call/ping`, { method: 'POST' });
  const bad = await post(url, 'ping', { headers: { authorization: 'Bearer nope-nope-nope-nope' } });
  assert.equal(bad.headers.get('www-authenticate'), 'Bearer realm="switchboard"');
  assert.deepEqual(
    [(await errorOf(missing)).code, (await errorOf(bad)).code],
    ['SB_ERR_NO_SUCH_FUNCTION', 'SB_ERR_AUTH_BAD_KEY'],
  );
});

test('bad bodies, unknown functions, limits and deadlines map to coded statuses', async (t) => {
  const { url, sb } = await startServer(t, { maxBodyBytes: 1024 });
  sb.callable('ping', () => 'pong');
  sb.callable('hang', () => new Promise(() => undefined));
  sb.callable('throws', () => {
    throw new RangeError('out of range');
  });
  const cases: Array<[() => Promise<Response>, number, string]> = [
    [() => post(url, 'ping', { body: '[1,' }), 400, 'SB_ERR_HTTP_BAD_BODY'],
    [() => post(url, 'ping', { body: '{"a":1}' }), 400, 'SB_ERR_HTTP_BAD_BODY'],
    [
      () => post(url, 'ping', { body: 'c1', headers: { 'content-type': 'application/msgpack' } }),
      400,
      'SB_ERR_HTTP_BAD_BODY',
    ],
    [
      () => post(url, 'ping', { body: 'hi', headers: { 'content-type': 'text/plain' } }),
      415,
      'SB_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      () => post(url, 'ping', { body: `[${'1,'.repeat(1000)}1]` }),
      413,
      'SB_ERR_HTTP_BODY_TOO_LARGE',
    ],
    [() => post(url, 'nothing', { body: '[]' }), 404, 'SB_ERR_NO_SUCH_FUNCTION'],
    [
      () => post(url, 'hang', { body: '[]', headers: { 'x-switchboard-timeout-ms': '100' } }),
      504,
      'SB_ERR_CALL_TIMEOUT',
    ],
    [
      () => post(url, 'hang', { body: '[]', headers: { 'x-switchboard-timeout-ms': 'soon' } }),
      400,
      'SB_ERR_HTTP_BAD_BODY',
    ],
    [() => fetch(`${url}/nowhere`), 404, 'SB_ERR_HTTP_NOT_FOUND'],
  ];
  for (const [response, status, code] of cases) {
    const error = await errorOf(await response());
    assert.deepEqual([error.status, error.code], [status, code]);
  }
  const thrown = await errorOf(await post(url, 'throws', { body: '[]' }));
  assert.deepEqual(
    [thrown.status, thrown.code, thrown.body.type, thrown.body.message],
    [500, 'SB_ERR_REMOTE_ERROR', 'RangeError', 'out of range'],
  );
  assert.equal(thrown.body.stack, undefined, 'no stack without debug');
  assert.equal(
    await (await post(url, 'ping', {})).json(),
    'pong',
    'an empty body means no arguments',
  );
});

test('the debug option adds the stack to error bodies', async (t) => {
  const { url, sb } = await startServer(t, { debug: true });
  sb.callable('throws', () => {
    throw new Error('with stack');
  });
  const error = await errorOf(await post(url, 'throws', { body: '[]' }));
  assert.match(String(error.body.stack), /http-rpc\.test\.ts/);
});
