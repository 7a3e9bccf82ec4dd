import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import WebSocket from 'ws';
import { connect } from '@switchboard/uplink';
import { startAdminServer, jsonOf } from './helpers/admin.ts';
import {
  AnvilClient,
  connectAnvil,
  type AnvilError,
  openAnvil,
  type Handler,
  type Json,
} from './helpers/anvil-client.ts';
import { expectError } from './helpers/http-client.ts';
import { CLIENT_KEY, SERVER_KEY, startServer } from './helpers/server.ts';

// Anvil's uplink dialect on /_/uplink, spoken by a test client that sends what the Python
// `anvil-uplink` library sends (test/helpers/anvil-client.ts): connecting, registering, deadlines,
// losing the uplink, hostile frames. Calls and media: anvil-calls.test.ts; HTTP endpoints,
// cookies and users: anvil-http.test.ts.

/** The refusal message and the close that follows it. */
async function refusal(
  client: AnvilClient,
): Promise<{ frame: Json; code: number; reason: string }> {
  const frame = await client.next();
  return { frame, ...(await client.closed) };
}

/** A promise with its resolve, for handlers that tell the test they were reached. */
function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

test('the key message: server key → priv uplink, client key → priv client; bad keys and bad first messages are refused', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  sb.callable('open', () => 'for anyone', { allowClients: true });
  sb.callable('closed', () => 'for servers');
  const server = await openAnvil(t, wsUrl, SERVER_KEY);
  assert.deepEqual(await server.next(), {
    auth: 'OK',
    priv: 'uplink',
    'app-info': { id: '', branch: null, environment: { description: 'Switchboard', tags: [] } },
  });
  const client = await openAnvil(t, wsUrl, CLIENT_KEY);
  const clientAuth = await client.next();
  assert.equal(clientAuth.auth, 'OK');
  assert.equal(clientAuth.priv, 'client');
  // A client-privilege connection that registers nothing works normally, as a client key.
  assert.equal(await client.call('anvil.private.echo', ['keep-alive']), 'keep-alive');
  assert.equal(await client.call('open'), 'for anyone');
  await assert.rejects(client.call('closed'), (error: AnvilError) => {
    assert.equal(error.type, 'anvil.server.NoServerFunctionError');
    assert.equal(error.raw.code, 'SB_ERR_NO_SUCH_FUNCTION');
    return true;
  });

  // The library sends its REGISTERs right after a wrong key too: they change nothing.
  const wrong = await refusal(await openAnvil(t, wsUrl, 'sbk_s_wrong', { raw: ['sneaky'] }));
  assert.deepEqual(wrong.frame, { error: 'Incorrect uplink key', code: 'SB_ERR_AUTH_BAD_KEY' });
  assert.equal(wrong.code, 4001);
  assert.match(wrong.reason, /^SB_ERR_AUTH_BAD_KEY/);

  // A client key may connect but not register (the real server's words).
  const registering = await openAnvil(t, wsUrl, CLIENT_KEY, { raw: ['evil'] });
  assert.equal((await registering.next()).priv, 'client');
  const refused = await refusal(registering);
  assert.match(String(refused.frame.error), /^Cannot register @anvil\.server\.callable functions/);
  assert.equal(refused.frame.code, 'SB_ERR_PERMISSION_DENIED');
  assert.equal(refused.code, 4000);

  const registerFirst = await openAnvil(t, wsUrl, null);
  registerFirst.sendJson({ type: 'REGISTER', name: 'early' });
  const notKey = await refusal(registerFirst);
  assert.equal(notKey.frame.code, 'SB_ERR_AUTH_NOT_AUTHENTICATED');
  assert.equal(typeof notKey.frame.error, 'string');
  assert.equal(notKey.code, 4001);

  const garbage = await openAnvil(t, wsUrl, null);
  garbage.ws.send('hello, is this JSON?');
  const notJson = await refusal(garbage);
  assert.equal(notJson.frame.code, 'SB_ERR_PROTO_BAD_FRAME');
  assert.equal(notJson.code, 4000);

  const old = await openAnvil(t, wsUrl, null);
  old.sendJson({ key: SERVER_KEY, v: 4 });
  const outdated = await refusal(old);
  assert.match(String(outdated.frame.error), /outdated version of the uplink library/);
  assert.equal(outdated.frame.code, 'SB_ERR_PROTO_VERSION');
});

test('REGISTER: functions and endpoints join the catalog (admin API, OpenAPI); unservable regexes are said and skipped', async (t) => {
  const { sb, wsUrl, url, admin } = await startAdminServer(t);
  const anvil = await connectAnvil(t, wsUrl, SERVER_KEY, {
    functions: { hello: ([name]) => `hi ${String(name)}` },
    endpoints: [{ path: '/users/:id', handler: (_request, params) => ({ id: params.id }) }],
    raw: ['http:/a.b', 'foo.*'],
  });
  const outputs = anvil.frames.filter((frame) => typeof frame.output === 'string');
  assert.equal(outputs.length, 2);
  assert.match(String(outputs[0]!.output), /^Switchboard cannot serve "http:\/a\.b"/);
  assert.match(String(outputs[1]!.output), /^Switchboard cannot serve "foo\.\*"/);
  assert.ok(outputs.every((frame) => frame.id === undefined && frame.response === undefined));
  // A native uplink alongside.
  const native = await connect({ url, key: SERVER_KEY, name: 'native', reconnect: false });
  t.after(() => native.close());
  native.callable('twice', (x: number) => x * 2);
  await native.synced();

  const list = await jsonOf<{ objects: Json[] }>(await admin('uplinks/'));
  const views = new Map(list.objects.map((view) => [view.dialect, view]));
  assert.deepEqual(views.get('anvil')?.functions, ['hello']);
  assert.deepEqual(
    (views.get('anvil')?.endpoints as Json[]).map((endpoint) => endpoint.path),
    ['/users/:p1'],
  );
  assert.equal(views.get('anvil')?.key_name, 'test-server');
  assert.deepEqual(views.get('switchboard')?.functions, ['twice']);

  const doc = (await (await fetch(`${url}/_/openapi.json`)).json()) as { paths: Json };
  assert.ok(Object.hasOwn(doc.paths, '/_/api/users/{p1}'), Object.keys(doc.paths).join());
  assert.deepEqual(await (await fetch(`${url}/_/api/users/42`)).json(), { id: '42' });
  assert.equal(await sb.call('hello', 'bob'), 'hi bob');
  assert.equal(await sb.call('twice', 21), 42);
  assert.equal(await native.call('hello', 'native'), 'hi native');
  assert.deepEqual(anvil.violations, []);
});

test('a key message and its REGISTERs arriving in one read beyond the pre-auth byte budget are all served', async (t) => {
  // The library sends its REGISTERs without waiting for the auth answer, so a busy server may
  // read the key with kilobytes of them at once (here: corked into one write, > 8 KiB).
  const { sb, wsUrl } = await startServer(t);
  const functions: Record<string, Handler> = {};
  for (let i = 0; i < 200; i++) functions[`function_number_${i}_with_a_long_name`] = () => i;
  const ws = new WebSocket(wsUrl);
  t.after(() => ws.terminate());
  ws.on('upgrade', (response) => response.socket.cork());
  ws.on('open', () => setImmediate(() => (ws as unknown as { _socket: Socket })._socket.uncork()));
  const anvil = new AnvilClient(ws, SERVER_KEY, { functions });
  assert.equal((await anvil.next()).auth, 'OK');
  assert.equal(
    await anvil.call('anvil.private.echo', ['after the REGISTERs']),
    'after the REGISTERs',
  );
  assert.equal(await sb.call('function_number_199_with_a_long_name'), 199);
  assert.deepEqual(
    anvil.frames.filter((frame) => 'error' in frame || 'output' in frame),
    [],
  );
});

test('a call or HTTP request the uplink never answers fails at its deadline with SB_ERR_CALL_TIMEOUT; the late answer is dropped', async (t) => {
  // The dialect has no deadline or cancel: the server keeps time (callTimeoutMs for requests).
  const { sb, url, wsUrl } = await startServer(t, { callTimeoutMs: 400 });
  const reached: string[] = [];
  const hang = (id: string) => {
    reached.push(id);
    return new Promise(() => undefined);
  };
  const anvil = await connectAnvil(t, wsUrl, SERVER_KEY, {
    functions: { hang: (_args, _kwargs, context) => hang(context.id), ping: () => 'pong' },
    endpoints: [{ path: '/hang', handler: (_request, _params, context) => hang(context.id) }],
  });
  const started = performance.now();
  await assert.rejects(sb.callWithOptions('hang', [], { timeoutMs: 200 }), {
    code: 'SB_ERR_CALL_TIMEOUT',
  });
  const took = performance.now() - started;
  assert.ok(took >= 190 && took < 1500, `failed after ${took} ms`);
  const requested = performance.now();
  await expectError(await fetch(`${url}/_/api/hang`), 504, 'SB_ERR_CALL_TIMEOUT');
  const waited = performance.now() - requested;
  assert.ok(waited >= 390 && waited < 2000, `answered after ${waited} ms`);

  assert.equal(reached.length, 2);
  for (const id of reached) anvil.send({ id, response: 'too late' });
  assert.equal(await sb.call('ping'), 'pong');
  assert.equal(anvil.ws.readyState, anvil.ws.OPEN);
  assert.deepEqual(
    anvil.frames.filter((frame) => 'error' in frame && frame.id === undefined),
    [],
  );
});

test('losing the uplink mid-request answers 502 SB_ERR_UPLINK_DISCONNECTED; it leaves the catalog and serves again after re-registering', async (t) => {
  const { sb, url, wsUrl } = await startServer(t);
  const reached = signal();
  const registrations = {
    functions: { ping: () => 'pong' },
    endpoints: [
      {
        path: '/slow',
        handler: () => {
          reached.resolve();
          return new Promise(() => undefined);
        },
      },
      { path: '/fast', handler: () => 'fast' },
    ],
  };
  const first = await connectAnvil(t, wsUrl, SERVER_KEY, registrations);
  const request = fetch(`${url}/_/api/slow`);
  await reached.promise;
  first.ws.terminate();
  await expectError(await request, 502, 'SB_ERR_UPLINK_DISCONNECTED');
  await assert.rejects(sb.call('ping'), { code: 'SB_ERR_NO_SUCH_FUNCTION' });
  // The door remembers the path for a while: "known, but nobody serves it now".
  await expectError(await fetch(`${url}/_/api/fast`), 503, 'SB_ERR_HTTP_NO_PROVIDER');
  assert.equal(sb.app.switchboard.hub.uplinks().length, 0);

  // The library reconnects with the key and every REGISTER again; a call that was running
  // when the socket dropped still answers, on the new connection: that answer is dropped.
  const second = await connectAnvil(t, wsUrl, SERVER_KEY, registrations);
  second.send({ id: first.calls.at(-1)!.id, response: { status: 200, body: 'late', headers: {} } });
  assert.equal(await sb.call('ping'), 'pong');
  assert.equal(second.ws.readyState, second.ws.OPEN);
  assert.equal(await (await fetch(`${url}/_/api/fast`)).text(), 'fast');
});

test('hostile messages close only their own connection: stray binary, unknown media, oversized text, deep JSON', async (t) => {
  const { sb, url, wsUrl } = await startServer(t, { maxFrameBytes: 256 * 1024 });
  const bystander = await connectAnvil(t, wsUrl, SERVER_KEY, { functions: { ping: () => 'pong' } });
  const native = await connect({ url, key: SERVER_KEY, reconnect: false });
  t.after(() => native.close());
  const victim = () => connectAnvil(t, wsUrl, SERVER_KEY);

  const stray = await victim();
  stray.ws.send(Buffer.from('no header before me'));
  const strayRefusal = await refusal(stray);
  assert.equal(strayRefusal.frame.code, 'SB_ERR_PROTO_BAD_FRAME');
  assert.equal(strayRefusal.code, 4000);
  assert.match(strayRefusal.reason, /^SB_ERR_PROTO_BAD_FRAME/);

  const unknown = await victim();
  unknown.sendJson({
    type: 'CHUNK_HEADER',
    requestId: 'nobody',
    mediaId: 'nothing',
    chunkIndex: 0,
    lastChunk: true,
  });
  unknown.ws.send(Buffer.alloc(10));
  const unknownRefusal = await refusal(unknown);
  assert.equal(unknownRefusal.frame.code, 'SB_ERR_PROTO_BAD_FRAME');
  assert.equal(unknownRefusal.code, 4000);

  const big = await victim();
  big.sendJson({ type: 'CALL', id: 'big', command: 'ping', args: ['x'.repeat(300 * 1024)] });
  const bigRefusal = await refusal(big);
  assert.equal(bigRefusal.frame.code, 'SB_ERR_PROTO_FRAME_TOO_LARGE');
  assert.equal(bigRefusal.code, 1009);

  const deep = await victim();
  const depth = 100_000;
  deep.ws.send(
    `{"type":"CALL","id":"deep","command":"ping","args":${'['.repeat(depth)}${']'.repeat(depth)}}`,
  );
  const deepRefusal = await refusal(deep);
  assert.equal(deepRefusal.frame.code, 'SB_ERR_PROTO_BAD_FRAME');
  assert.equal(deepRefusal.code, 4000);
  // As a first message, within the 8 KiB allowed before the key: refused the same way.
  const deepFirst = await openAnvil(t, wsUrl, null);
  deepFirst.ws.send(`${'['.repeat(4000)}${']'.repeat(4000)}`);
  const deepFirstRefusal = await refusal(deepFirst);
  assert.equal(deepFirstRefusal.frame.code, 'SB_ERR_PROTO_BAD_FRAME');
  assert.equal(deepFirstRefusal.code, 4000);

  assert.equal(await sb.call('ping'), 'pong');
  assert.equal(await native.call('ping'), 'pong');
  assert.equal(await bystander.call('anvil.private.echo', ['still here']), 'still here');
});

test('a connection may have at most 1024 messages waiting for their media; one more closes it', async (t) => {
  // Each waits up to a minute for chunks: without a bound a client key could make the server
  // hold any number of them (the native dialect bounds open streams the same way).
  const { sb, wsUrl } = await startServer(t);
  sb.callable('ping', () => 'pong', { allowClients: true });
  const bystander = await connectAnvil(t, wsUrl, CLIENT_KEY);
  const anvil = await connectAnvil(t, wsUrl, CLIENT_KEY);
  const announce = (id: string) =>
    anvil.sendJson({
      type: 'CALL',
      id,
      command: 'ping',
      args: [null],
      kwargs: {},
      'call-stack-id': 'outbound-many',
      objects: [
        { path: ['args', 0], type: ['DataMedia'], id: 'm', 'mime-type': 'a/b', name: null },
      ],
    });
  for (let i = 0; i < 1024; i++) announce(`waiting-${i}`);
  assert.equal(await anvil.call('anvil.private.echo', ['still open']), 'still open');
  announce('one-too-many');
  const refused = await refusal(anvil);
  assert.equal(refused.frame.code, 'SB_ERR_STREAM_LIMIT');
  assert.equal(refused.code, 4000);
  assert.equal(await bystander.call('ping'), 'pong');
});
