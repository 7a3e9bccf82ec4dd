import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { HttpResponse, Media, getRequest } from '@switchboard/server';
import { connect } from '@switchboard/uplink';
import { spawnHttpUplink } from './helpers/child.ts';
import { SERVER_KEY, startServer, until } from './helpers/server.ts';

type Json = Record<string, unknown>;

async function errorBody(response: Response): Promise<Json> {
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await response.json()) as Json;
  assert.equal(typeof body.message, 'string');
  assert.equal(typeof body.code, 'string');
  return body;
}

test('path params (URL-decoded, also mid-path), query and methods reach the uplink handler', async (t) => {
  const { url } = await startServer(t);
  await spawnHttpUplink(t, url, SERVER_KEY);
  const api = `${url}/_/api`;
  const got = await fetch(`${api}/users/42?x=foo`);
  assert.equal(got.status, 200);
  assert.match(got.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(await got.json(), { id: '42', method: 'GET', query: { x: 'foo' } });
  assert.deepEqual(await (await fetch(`${api}/users/J%C3%BCrgen%20B`)).json(), {
    id: 'Jürgen B',
    method: 'GET',
    query: {},
  });
  assert.deepEqual(await (await fetch(`${api}/users/7/history/a%2Fb`)).json(), {
    uid: '7',
    itemId: 'a/b',
  });
  assert.equal(
    ((await (await fetch(`${api}/users/1`, { method: 'PUT' })).json()) as Json).method,
    'PUT',
  );
  assert.equal(
    ((await (await fetch(`${api}/users/1`, { method: 'DELETE' })).json()) as Json).method,
    'DELETE',
  );

  const post = await fetch(`${api}/users/1`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, PUT, DELETE, HEAD, OPTIONS');
  assert.equal((await errorBody(post)).code, 'SB_ERR_HTTP_METHOD_NOT_ALLOWED');
  // Default methods are GET and POST.
  const put = await fetch(`${api}/text`, { method: 'PUT' });
  assert.equal(put.status, 405);
  assert.equal((await fetch(`${api}/nothing`, { method: 'POST' })).status, 204);

  const head = await fetch(`${api}/text`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), '12');
  assert.equal(await head.text(), '');
  const options = await fetch(`${api}/users/1`, { method: 'OPTIONS' });
  assert.equal(options.status, 204);
  assert.equal(options.headers.get('allow'), 'GET, PUT, DELETE, HEAD, OPTIONS');
});

test('the request object: headers, body, forms, files, JSON, Basic credentials, args, getRequest()', async (t) => {
  const { url } = await startServer(t);
  await spawnHttpUplink(t, url, SERVER_KEY);
  const api = `${url}/_/api`;

  const raw = (await (
    await fetch(`${api}/inspect?q=1&q=2&z=zz`, {
      method: 'PUT',
      headers: {
        'content-type': 'application/octet-stream',
        'X-Mixed-Case': 'kept',
        origin: 'http://example.test',
        authorization: `Basic ${Buffer.from('ada:s3cret:with-colon').toString('base64')}`,
      },
      body: 'raw bytes',
    })
  ).json()) as Json;
  assert.equal(raw.method, 'PUT');
  assert.equal(raw.path, '/inspect');
  assert.deepEqual(raw.query, { q: '2', z: 'zz' });
  assert.equal((raw.headers as Json)['x-mixed-case'], 'kept');
  assert.equal(raw.origin, 'http://example.test');
  assert.match(String(raw.remoteAddress), /127\.0\.0\.1/);
  assert.deepEqual(raw.body, {
    contentType: 'application/octet-stream',
    length: 9,
    text: 'raw bytes',
  });
  assert.deepEqual([raw.username, raw.password], ['ada', 's3cret:with-colon']);
  assert.equal(raw.sameRequest, true);
  assert.deepEqual(raw.form, {});

  const form = (await (
    await fetch(`${api}/inspect?b=from-query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=from-form&b=from-form&c=%C3%A9',
    })
  ).json()) as Json;
  assert.deepEqual(form.form, { a: 'from-form', b: 'from-form', c: 'é' });
  assert.deepEqual(form.args, { a: 'from-form', b: 'from-query', c: 'é' });
  // Path params win over query, which wins over form.
  const merged = (await (
    await fetch(`${api}/inspect/from-path?id=from-query&x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'id=from-form&y=2',
    })
  ).json()) as Json;
  assert.deepEqual(merged.args, { id: 'from-path', x: '1', y: '2' });

  const multipart = new FormData();
  multipart.set('title', 'Report');
  multipart.set('file', new Blob(['col\n1\n'], { type: 'text/csv' }), 'data.csv');
  const files = (await (
    await fetch(`${api}/inspect`, { method: 'POST', body: multipart })
  ).json()) as Json;
  assert.deepEqual(files.form, {
    title: 'Report',
    file: { media: true, contentType: 'text/csv', name: 'data.csv', text: 'col\n1\n' },
  });

  const json = await fetch(`${api}/json`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"n":[1,2]}',
  });
  assert.deepEqual(await json.json(), { parsed: { n: [1, 2] } });
  const badJson = await fetch(`${api}/json`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"n":',
  });
  assert.equal(badJson.status, 400);
  assert.equal((await errorBody(badJson)).code, 'SB_ERR_HTTP_BAD_BODY');
  const notJson = await fetch(`${api}/json`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: '{}',
  });
  assert.deepEqual(await notJson.json(), {}, 'json is only parsed for JSON content types');

  const deep = (await (await fetch(`${api}/deep/%3F`)).json()) as Json;
  assert.deepEqual(deep, { params: { x: '?' }, api: `${url}/_/api`, app: url });
});

test('getApiOrigin/getAppOrigin honour a configured public origin', async (t) => {
  const { url } = await startServer(t, { publicOrigin: 'https://api.example.com' });
  await spawnHttpUplink(t, url, SERVER_KEY);
  const deep = (await (await fetch(`${url}/_/api/deep/1`)).json()) as Json;
  assert.deepEqual(deep, {
    params: { x: '1' },
    api: 'https://api.example.com/_/api',
    app: 'https://api.example.com',
  });
});

test('return values map to responses: text, bytes, Media, JSON, 204, HttpResponse, unsendable', async (t) => {
  const { url } = await startServer(t);
  await spawnHttpUplink(t, url, SERVER_KEY);
  const api = `${url}/_/api`;
  const text = await fetch(`${api}/text`);
  assert.equal(text.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(await text.text(), 'hello, world');
  const bytes = await fetch(`${api}/bytes`);
  assert.equal(bytes.headers.get('content-type'), 'application/octet-stream');
  assert.deepEqual([...new Uint8Array(await bytes.arrayBuffer())], [1, 2, 3]);
  const media = await fetch(`${api}/media`);
  assert.equal(media.headers.get('content-type'), 'text/csv');
  assert.match(
    media.headers.get('content-disposition') ?? '',
    /^attachment; filename="report\.csv"/,
  );
  assert.equal(await media.text(), 'a,b\n1,2\n');
  const nothing = await fetch(`${api}/nothing`);
  assert.equal(nothing.status, 204);
  assert.equal(await (await fetch(`${api}/null`)).text(), 'null');
  const custom = await fetch(`${api}/custom`);
  assert.equal(custom.status, 418);
  assert.equal(custom.headers.get('x-custom'), 'yes');
  assert.deepEqual(custom.headers.getSetCookie(), ['a=1; Path=/', 'b=2; Path=/']);
  assert.deepEqual(await custom.json(), { teapot: true });
  const redirect = await fetch(`${api}/redirect`, { redirect: 'manual' });
  assert.equal(redirect.status, 302);
  assert.equal(redirect.headers.get('location'), '/_/api/text');
  const circular = await fetch(`${api}/circular`);
  assert.equal(circular.status, 500);
  assert.equal((await errorBody(circular)).code, 'SB_ERR_HTTP_BAD_RESPONSE');
});

test('large bodies both ways (spliced into frames, not copied) arrive intact, with either masking', async (t) => {
  for (const mask of ['0', '1']) {
    const { sb, url } = await startServer(t);
    await spawnHttpUplink(t, url, SERVER_KEY, { SB_MASK_FRAMES: mask });
    // The door keeps a large body in the chunks it arrived in; app code gets it joined.
    sb.httpEndpoint('/local-echo', { methods: ['POST'] }, (req) => req.body);
    const local = randomBytes(1024 * 1024);
    const echoed = await fetch(`${url}/_/api/local-echo`, { method: 'POST', body: local });
    assert.ok(Buffer.from(await echoed.arrayBuffer()).equals(local));
    for (const size of [65_535, 65_536, 1024 * 1024 + 3]) {
      const sent = randomBytes(size);
      const got = await fetch(`${url}/_/api/echo-bytes`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-test' },
        body: sent,
      });
      assert.equal(got.status, 200, `${size} bytes, masking ${mask}`);
      assert.equal(got.headers.get('content-type'), 'application/x-test');
      assert.ok(
        Buffer.from(await got.arrayBuffer()).equals(sent),
        `${size} bytes, masking ${mask}`,
      );
    }
    const document = { items: Array.from({ length: 20_000 }, (_, id) => ({ id, name: `n${id}` })) };
    const json = await fetch(`${url}/_/api/json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(document),
    });
    assert.deepEqual(await json.json(), { parsed: document });
  }
});

test('errors at the door: 404, handler 500 without stack, 413, 504 with cancel, 502 and 503 when the uplink dies', async (t) => {
  const { url } = await startServer(t, { maxBodyBytes: 1024, callTimeoutMs: 400 });
  const child = await spawnHttpUplink(t, url, SERVER_KEY);
  const api = `${url}/_/api`;

  const missing = await fetch(`${api}/no/such/thing`);
  assert.equal(missing.status, 404);
  assert.equal((await errorBody(missing)).code, 'SB_ERR_HTTP_NOT_FOUND');

  const thrown = await fetch(`${api}/throws`);
  assert.equal(thrown.status, 500);
  const body = await errorBody(thrown);
  // The handler's own message stays in the server log; the caller gets the request id.
  assert.deepEqual(
    [body.code, body.message, body.stack, body.type],
    ['SB_ERR_REMOTE_ERROR', 'The function threw an exception', undefined, undefined],
  );
  assert.equal(body.requestId, thrown.headers.get('x-request-id'));

  assert.equal(
    (await fetch(`${api}/length`, { method: 'POST', body: 'x'.repeat(1000) })).status,
    200,
  );
  const tooBig = await fetch(`${api}/length`, { method: 'POST', body: 'x'.repeat(5000) });
  assert.equal(tooBig.status, 413);
  assert.equal((await errorBody(tooBig)).code, 'SB_ERR_HTTP_BODY_TOO_LARGE');

  const slow = await fetch(`${api}/hang`);
  assert.equal(slow.status, 504);
  assert.equal((await errorBody(slow)).code, 'SB_ERR_CALL_TIMEOUT');
  await child.waitFor(/^aborted \/hang SB_ERR_CALL_CANCELLED$/);

  const inFlight = fetch(`${api}/hang`);
  await child.waitForCount(/^started \/hang$/, 2);
  child.process.kill('SIGKILL');
  const died = await inFlight;
  assert.equal(died.status, 502);
  assert.equal((await errorBody(died)).code, 'SB_ERR_UPLINK_DISCONNECTED');

  const gone = await fetch(`${api}/text`);
  assert.equal(gone.status, 503);
  assert.ok(Number(gone.headers.get('retry-after')) > 0);
  assert.equal((await errorBody(gone)).code, 'SB_ERR_HTTP_NO_PROVIDER');
  assert.equal((await fetch(`${api}/users/1`, { method: 'PUT' })).status, 503);
});

test('the client going away cancels the handler', async (t) => {
  const { url } = await startServer(t);
  const child = await spawnHttpUplink(t, url, SERVER_KEY);
  const controller = new AbortController();
  const request = fetch(`${url}/_/api/hang`, { signal: controller.signal }).catch(
    (error: unknown) => error,
  );
  await child.waitFor(/^started \/hang$/);
  controller.abort();
  await request;
  await child.waitFor(/^aborted \/hang SB_ERR_CALL_CANCELLED$/);
});

test('endpoints appear and disappear live; two uplinks share a path; conflicts are refused', async (t) => {
  const { sb, url } = await startServer(t);
  const api = `${url}/_/api`;
  assert.equal((await fetch(`${api}/whoami`)).status, 404);
  const one = await spawnHttpUplink(t, url, SERVER_KEY, { SB_NAME: 'one' });
  await spawnHttpUplink(t, url, SERVER_KEY, { SB_NAME: 'two' });
  const seen: string[] = [];
  for (let i = 0; i < 10; i++) seen.push(await (await fetch(`${api}/whoami`)).text());
  assert.ok(seen.includes('one') && seen.includes('two'), seen.join(','));

  one.process.kill('SIGKILL');
  await until(
    () => sb.app.switchboard.hub.uplinks().length === 1,
    5000,
    'the killed uplink to leave',
  );
  for (let i = 0; i < 5; i++) assert.equal(await (await fetch(`${api}/whoami`)).text(), 'two');

  const uplink = await connect({ url, key: SERVER_KEY });
  t.after(() => uplink.close());
  uplink.httpEndpoint('/users/:name', {}, () => 'conflict');
  await assert.rejects(uplink.synced(), { code: 'SB_ERR_ENDPOINT_CONFLICT' });
  assert.throws(() => uplink.httpEndpoint('no-slash', {}, () => 1), {
    code: 'SB_ERR_ENDPOINT_PATH_INVALID',
  });
  assert.throws(() => uplink.httpEndpoint('/x', { methods: ['BREW' as 'GET'] }, () => 1), {
    code: 'SB_ERR_ENDPOINT_PATH_INVALID',
  });
  assert.throws(() => uplink.httpEndpoint('/a/:id/:id', {}, () => 1), {
    code: 'SB_ERR_ENDPOINT_PATH_INVALID',
  });

  const withdraw = uplink.httpEndpoint(
    '/fresh/:id',
    { methods: ['GET'] },
    (req) => `fresh ${req.params.id}`,
  );
  await uplink.synced();
  assert.equal(await (await fetch(`${api}/fresh/9`)).text(), 'fresh 9');
  withdraw();
  await uplink.synced();
  assert.equal(
    (await fetch(`${api}/fresh/9`)).status,
    503,
    'a known path without providers is 503',
  );
});

test('app code serves endpoints with the same semantics, balanced with uplinks', async (t) => {
  const { sb, url } = await startServer(t);
  const withdraw = sb.httpEndpoint('/whoami', { methods: ['GET'] }, () => 'app');
  sb.httpEndpoint('/app/:a/then/:b', { methods: ['POST'] }, (req) => {
    assert.equal(getRequest(), req);
    return new HttpResponse(
      201,
      new Media('text/plain', `${req.params.a}+${req.params.b}+${String(req.json)}`),
      {
        'set-cookie': ['x=1', 'y=2'],
      },
    );
  });
  const created = await fetch(`${url}/_/api/app/l%20r/then/2`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '"body"',
  });
  assert.equal(created.status, 201);
  assert.equal(created.headers.get('content-type'), 'text/plain');
  assert.deepEqual(created.headers.getSetCookie(), ['x=1', 'y=2']);
  assert.equal(await created.text(), 'l r+2+body');

  await spawnHttpUplink(t, url, SERVER_KEY, { SB_NAME: 'remote' });
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) seen.add(await (await fetch(`${url}/_/api/whoami`)).text());
  assert.deepEqual([...seen].sort(), ['app', 'remote']);
  withdraw();
  for (let i = 0; i < 4; i++)
    assert.equal(await (await fetch(`${url}/_/api/whoami`)).text(), 'remote');
  assert.throws(() => sb.httpEndpoint('/users/:other', {}, () => 1), {
    code: 'SB_ERR_ENDPOINT_CONFLICT',
  });
});
