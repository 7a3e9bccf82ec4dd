import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeServerMessage, decodeUplinkMessage, encodeValue } from '@switchboard/shared';
import { getCallContext } from '@switchboard/server';
import { connect, jsonLogger } from '@switchboard/uplink';
import { spawnScript, type Child } from './helpers/child.ts';
import { SERVER_KEY, startServer } from './helpers/server.ts';

/** Ids the server makes up: a random prefix per process start, then a counter. */
const OWN_ID = /^sb[A-Za-z0-9_-]{8}-[0-9a-z]+$/;

function rpc(url: string, name: string, args: unknown[], requestId?: string): Promise<Response> {
  return fetch(`${url}/_/call/${name}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${SERVER_KEY}`,
      'content-type': 'application/json',
      ...(requestId === undefined ? {} : { 'x-request-id': requestId }),
    },
    body: JSON.stringify(args),
  });
}

/** The child's JSON log lines that carry `reqId`. */
async function childLog(
  child: Child,
  reqId: string,
  msg: string,
): Promise<Record<string, unknown>> {
  const line = await child.waitFor(new RegExp(`"reqId":"${reqId}".*"msg":"${msg}"`));
  return JSON.parse(line) as Record<string, unknown>;
}

test('the request id: X-Request-Id in and out, in the call frame, the handler, both logs', async (t) => {
  const serverLog: Record<string, unknown>[] = [];
  const { sb, url } = await startServer(t, {
    logger: {
      level: 'info',
      stream: {
        write: (line: string) => serverLog.push(JSON.parse(line) as Record<string, unknown>),
      },
    },
  });
  sb.callable('seenByApp', () => getCallContext().requestId ?? null);
  const child = spawnScript(t, 'test/fixtures/logging-uplink.ts', {
    SB_URL: url,
    SB_KEY: SERVER_KEY,
  });
  await child.waitFor(/^ready /);

  // A sane incoming id is kept and echoed; the uplink logs the call with it.
  const ok = await rpc(url, 'add', [2, 3], 'req-ok.42');
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('x-request-id'), 'req-ok.42');
  const served = await childLog(child, 'req-ok\\.42', 'call served');
  assert.equal(served.function, 'add');
  assert.equal(typeof served.ms, 'number');

  // A failing call: the uplink's warning and the server's log both name the request.
  const failed = await rpc(url, 'fail', [], 'req-fail-7');
  assert.equal(failed.status, 500);
  assert.equal(failed.headers.get('x-request-id'), 'req-fail-7');
  const warning = await childLog(child, 'req-fail-7', 'call failed');
  assert.equal(warning.code, 'SB_ERR_REMOTE_ERROR');
  assert.equal(warning.type, 'RangeError');
  const serverLine = serverLog.find((line) => line.msg === 'call failed');
  assert.equal(serverLine?.reqId, 'req-fail-7');
  assert.equal(serverLine?.function, 'fail');
  assert.ok(
    serverLog.some((line) => line.reqId === 'req-fail-7' && line.msg === 'request completed'),
  );
  assert.equal(sb.stats.recentErrors(1)[0]?.requestId, 'req-fail-7');

  // The handler sees it; calls it makes carry it on (uplink → server → uplink, and → app).
  assert.equal(await (await rpc(url, 'requestId', [], 'direct-1')).json(), 'direct-1');
  assert.equal(await (await rpc(url, 'callOther', ['requestId'], 'chain-2')).json(), 'chain-2');
  assert.equal(await (await rpc(url, 'callOther', ['seenByApp'], 'chain-3')).json(), 'chain-3');
  await childLog(child, 'chain-2', 'call served');

  // HTTP endpoints: on the request object and the call context.
  const endpoint = await fetch(`${url}/_/api/obs/request-id`, {
    headers: { 'x-request-id': 'ep-9' },
  });
  assert.equal(endpoint.headers.get('x-request-id'), 'ep-9');
  assert.deepEqual(await endpoint.json(), { request: 'ep-9', context: 'ep-9' });

  // No header, or one that is not a sane id: a fresh id of the server's, echoed and passed on.
  const made = new Set<string>();
  for (const header of [undefined, 'has space', 'x'.repeat(129), 'quote"d']) {
    const response = await rpc(url, 'requestId', [], header);
    const echoed = response.headers.get('x-request-id') ?? '';
    assert.match(echoed, OWN_ID);
    assert.equal(await response.json(), echoed);
    made.add(echoed);
  }
  assert.equal(made.size, 4, 'every request gets an id of its own');
  // Errors at the door and unknown routes say which request they answer too.
  const missing = await fetch(`${url}/nowhere`, { headers: { 'x-request-id': 'lost-1' } });
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('x-request-id'), 'lost-1');

  // App code: no id unless inside a call with one, or given explicitly (and checked).
  assert.equal(await sb.call('requestId'), null);
  assert.equal(await sb.callWithOptions('requestId', [], { requestId: 'app-1' }), 'app-1');
  await assert.rejects(sb.callWithOptions('requestId', [], { requestId: 'bad id' }), {
    code: 'SB_ERR_OPTIONS_INVALID',
  });
});

test('an uplink passes its own request id, and refuses a bad one before sending', async (t) => {
  const { url } = await startServer(t);
  const served = await connect({ url, key: SERVER_KEY });
  t.after(() => served.close());
  served.callable('whichId', () => getCallContext().requestId ?? null);
  await served.synced();
  const caller = await connect({ url, key: SERVER_KEY });
  t.after(() => caller.close());
  assert.equal(await caller.call('whichId'), null);
  assert.equal(
    await caller.callWithOptions('whichId', [], { requestId: 'trace:abc/1' }),
    'trace:abc/1',
  );
  await assert.rejects(caller.callWithOptions('whichId', [], { requestId: '' }), {
    code: 'SB_ERR_OPTIONS_INVALID',
  });
  await assert.rejects(connect({ url, key: SERVER_KEY, logger: { info() {} } as never }), {
    code: 'SB_ERR_OPTIONS_INVALID',
  });
});

test('the decode gate checks requestId on call and request frames', () => {
  const call = { type: 'call', id: 1, name: 'f', args: [] };
  assert.equal(decodeUplinkMessage(encodeValue({ ...call, requestId: 'abc-1' }))[0]?.type, 'call');
  const decoded = decodeServerMessage(encodeValue({ ...call, requestId: 'abc-1' }))[0];
  assert.equal(decoded?.type === 'call' ? decoded.requestId : undefined, 'abc-1');
  for (const bad of ['', 'a b', 'x'.repeat(129), 42, null, ['a'], 'line\nbreak']) {
    assert.throws(() => decodeUplinkMessage(encodeValue({ ...call, requestId: bad })), {
      code: 'SB_ERR_PROTO_BAD_FRAME',
    });
  }
  const request = {
    type: 'request',
    id: 2,
    endpoint: '/x',
    request: {
      method: 'GET',
      path: '/x',
      params: {},
      query: '',
      headers: {},
      remoteAddress: '127.0.0.1',
      appOrigin: 'http://127.0.0.1',
      apiOrigin: 'http://127.0.0.1/_/api',
    },
  };
  const ok = decodeServerMessage(encodeValue({ ...request, requestId: 'r-1' }))[0];
  assert.equal(ok?.type === 'request' ? ok.requestId : undefined, 'r-1');
  assert.throws(() => decodeServerMessage(encodeValue({ ...request, requestId: 'r 1' })), {
    code: 'SB_ERR_PROTO_BAD_FRAME',
  });
});

test('jsonLogger writes pino-shaped JSON lines from its level up', () => {
  const lines: string[] = [];
  const log = jsonLogger({ level: 'warn', write: (line) => lines.push(line) });
  log.debug({ reqId: 'a' }, 'dropped');
  log.info({ reqId: 'b' }, 'dropped');
  log.warn({ reqId: 'c', code: 'SB_ERR_REMOTE_ERROR' }, 'call failed');
  log.error({}, 'broken');
  assert.equal(lines.length, 2);
  assert.ok(lines.every((line) => line.endsWith('\n')));
  const first = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(first.level, 40);
  assert.equal(first.msg, 'call failed');
  assert.equal(first.reqId, 'c');
  assert.equal(typeof first.time, 'number');
  assert.throws(() => jsonLogger({ level: 'loud' as never }), { code: 'SB_ERR_OPTIONS_INVALID' });
});
