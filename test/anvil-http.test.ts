import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import {
  AnvilError,
  BlobMedia,
  HttpResponse,
  connectAnvil,
  type AnvilClient,
  type CallContext,
  type Json,
  type Registrations,
} from './helpers/anvil-client.ts';
import { Browser, basic, expectError } from './helpers/http-client.ts';
import { SERVER_KEY, startServer, type TestServer } from './helpers/server.ts';

// `@anvil.server.http_endpoint` functions on an Anvil uplink behind Switchboard's door, and the
// `anvil.private.*` calls the library makes for cookies, users and the keepalive. The test client
// (test/helpers/anvil-client.ts) wraps endpoints as Anvil's http_endpoint does.

async function serve(
  t: TestContext,
  registrations: Registrations,
): Promise<TestServer & { anvil: AnvilClient; api: string }> {
  const server = await startServer(t);
  const anvil = await connectAnvil(t, server.wsUrl, SERVER_KEY, registrations);
  return { ...server, anvil, api: `${server.url}/_/api` };
}

/** `anvil.server.cookies.local.get(name)` as the library sends it (kwargs null; KeyError → default). */
async function getCookie(context: CallContext, name: string): Promise<unknown> {
  try {
    return await context.call('anvil.private.get_cookie', ['local', name], null);
  } catch (error) {
    if (error instanceof AnvilError && error.type === 'KeyError') return undefined;
    throw error;
  }
}

test('an HTTP request becomes a CALL with the wrapper kwargs: method, path, query, lower-case headers, address, body as DataMedia, Basic credentials', async (t) => {
  const { anvil, api } = await serve(t, {
    endpoints: [
      {
        path: '/inspect/:id',
        methods: ['GET', 'POST', 'PUT'],
        handler: (request, params) => ({
          ...request,
          body:
            request.body === null
              ? null
              : {
                  type: request.body.contentType,
                  name: request.body.name,
                  text: request.body.bytes.toString('utf8'),
                },
          params,
        }),
      },
    ],
  });
  const response = await fetch(`${api}/inspect/7?a=1&b=two`, {
    method: 'PUT',
    headers: {
      'content-type': 'text/csv',
      'content-disposition': 'attachment; filename="data.csv"',
      'X-Mixed-Case': 'Kept',
      origin: 'http://example.test',
      authorization: basic('ada', 's3cret:with-colon'),
    },
    body: 'a,b\n1,2\n',
  });
  assert.equal(response.status, 200);
  const seen = (await response.json()) as Json;
  assert.equal(seen.method, 'PUT');
  assert.equal(seen.path, '/inspect/7');
  assert.deepEqual(seen.query_params, { a: '1', b: 'two' });
  assert.deepEqual(seen.form_params, {});
  assert.equal(seen.origin, 'http://example.test');
  const headers = seen.headers as Record<string, string>;
  assert.equal(headers['x-mixed-case'], 'Kept');
  assert.equal(headers['content-type'], 'text/csv');
  assert.ok(Object.keys(headers).every((name) => name === name.toLowerCase()));
  assert.match(String(seen.remote_address), /127\.0\.0\.1/);
  assert.deepEqual(seen.body, { type: 'text/csv', name: 'data.csv', text: 'a,b\n1,2\n' });
  assert.deepEqual([seen.username, seen.password], ['ada', 's3cret:with-colon']);
  assert.equal(seen.same_app_alternate_origin, null);
  assert.deepEqual(seen.params, { a: '1', b: 'two', id: '7' });

  // On the wire: command http:<path>, the body a DataMedia placeholder, an http call stack.
  const [call] = anvil.calls;
  assert.equal(call!.command, 'http:/inspect/7');
  assert.deepEqual(call!.args, []);
  assert.equal((call!.kwargs as Json).body, null);
  assert.deepEqual(call!['call-stack'], [{ type: 'http' }]);
  const [body] = call!.objects as Json[];
  assert.deepEqual(body!.path, ['kwargs', 'body']);
  assert.deepEqual(body!.type, ['DataMedia']);
  assert.equal(body!['mime-type'], 'text/csv');
  assert.equal(body!.name, 'data.csv');

  const form = (await (
    await fetch(`${api}/inspect/8?b=query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=form&b=form',
    })
  ).json()) as Json;
  assert.deepEqual(form.form_params, { a: 'form', b: 'form' });
  assert.deepEqual(form.params, { a: 'form', b: 'query', id: '8' });
  const bare = (await (await fetch(`${api}/inspect/9`)).json()) as Json;
  assert.equal(bare.body, null);
  assert.deepEqual([bare.username, bare.password, bare.origin], [null, null, null]);
  assert.deepEqual(anvil.calls.at(-1)!.objects, []);
});

test('every answer form: text, JSON, Media, HttpResponse with header pairs, 405 from the wrapper, errors → 500, no function → 404', async (t) => {
  const png = Buffer.from('89504e470d0a1a0a0000', 'hex');
  const { anvil, api } = await serve(t, {
    endpoints: [
      { path: '/text', handler: () => 'hello, world' },
      { path: '/json', handler: () => ({ list: [1, 2], nothing: null }) },
      { path: '/null', handler: () => null },
      { path: '/media', handler: () => new BlobMedia('image/png', png, 'dot.png') },
      {
        path: '/created',
        handler: () => new HttpResponse(201, 'made', { 'X-Thing': 'yes', Location: '/x/1' }),
      },
      { path: '/only-get', methods: ['GET'], handler: () => 'got' },
      {
        path: '/boom',
        handler: () => {
          throw new AnvilError('ValueError', 'the endpoint broke');
        },
      },
    ],
    functions: {
      // What the wrapper answers for an HttpResponse whose HttpHeaders repeat a name.
      'http:/pairs': () => ({
        status: 202,
        body: '',
        headers: [
          ['x-a', '1'],
          ['x-a', '2'],
          ['set-cookie', 'a=1; Path=/'],
          ['set-cookie', 'b=2; Path=/'],
        ],
      }),
    },
    raw: ['http:/ghost'],
  });
  const text = await fetch(`${api}/text`);
  assert.equal(text.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(await text.text(), 'hello, world');
  const json = await fetch(`${api}/json`);
  assert.equal(json.headers.get('content-type'), 'application/json');
  assert.deepEqual(await json.json(), { list: [1, 2], nothing: null });
  assert.equal(await (await fetch(`${api}/null`)).text(), 'null');
  const media = await fetch(`${api}/media`);
  assert.equal(media.headers.get('content-type'), 'image/png');
  assert.equal(media.headers.get('content-disposition'), 'inline; filename="dot.png"');
  assert.ok(Buffer.from(await media.arrayBuffer()).equals(png));

  const created = await fetch(`${api}/created`, { redirect: 'manual' });
  assert.equal(created.status, 201);
  assert.equal(created.headers.get('x-thing'), 'yes');
  assert.equal(created.headers.get('location'), '/x/1');
  assert.equal(await created.text(), 'made');
  // HttpHeaders may repeat a name (list of pairs); the door sends each.
  const repeated = await fetch(`${api}/pairs`);
  assert.equal(repeated.status, 202);
  assert.equal(repeated.headers.get('x-a'), '1, 2');
  assert.deepEqual(repeated.headers.getSetCookie(), ['a=1; Path=/', 'b=2; Path=/']);

  const refused = await fetch(`${api}/only-get`, { method: 'POST' });
  assert.equal(refused.status, 405);
  assert.equal(refused.headers.get('allow'), 'GET');
  assert.equal(await refused.text(), 'Method not supported');
  assert.equal(await (await fetch(`${api}/only-get`)).text(), 'got');

  const broken = await expectError(await fetch(`${api}/boom`), 500, 'SB_ERR_REMOTE_ERROR');
  assert.doesNotMatch(broken.message, /the endpoint broke/, 'a public caller sees no details');
  await expectError(await fetch(`${api}/ghost`), 404, 'SB_ERR_HTTP_NOT_FOUND');
  assert.deepEqual(anvil.violations, []);
});

test('cookies from inside an endpoint: a missing one is KeyError, a set one comes back with the next request', async (t) => {
  const errors: string[] = [];
  const { url } = await serve(t, {
    endpoints: [
      {
        path: '/visits',
        handler: async (_request, _params, context) => {
          try {
            await context.call('anvil.private.get_cookie', ['local', 'visits'], null);
          } catch (error) {
            errors.push((error as AnvilError).type);
          }
          const visits = ((await getCookie(context, 'visits')) as number | undefined) ?? 0;
          await context.call('anvil.private.set_cookie', ['local', 30], { visits: visits + 1 });
          return { visits };
        },
      },
      {
        path: '/forget',
        handler: async (_request, _params, context) => {
          await context.call('anvil.private.del_cookie', ['local', 'visits'], null);
          return (await getCookie(context, 'visits')) ?? 'gone';
        },
      },
    ],
  });
  const browser = new Browser(`${url}/_/api`);
  assert.deepEqual(await browser.json('/visits'), { visits: 0 });
  assert.deepEqual(errors, ['KeyError']);
  assert.ok(browser.cookies.size > 0, 'the answer set a cookie');
  assert.deepEqual(await browser.json('/visits'), { visits: 1 });
  assert.deepEqual(await browser.json('/visits'), { visits: 2 });
  assert.equal(await (await browser.fetch('/forget')).text(), 'gone');
  assert.deepEqual(await browser.json('/visits'), { visits: 0 });
  // Another browser has its own.
  assert.deepEqual(await new Browser(`${url}/_/api`).json('/visits'), { visits: 0 });
});

test('users: login_with_email signs in (the next request sees the user), wrong passwords are AuthenticationFailed, no user outside sign-in', async (t) => {
  const current = (context: CallContext) =>
    context.call('anvil.private.users.get_current_user', [], {
      allow_remembered: true,
      fetch: null,
    });
  const { sb, url, anvil } = await serve(t, {
    endpoints: [
      {
        path: '/login',
        handler: async (request, _params, context) => {
          try {
            const user = await context.call(
              'anvil.private.users.login_with_email',
              [request.username, request.password],
              { remember: false, mfa: null, fetch: null },
            );
            return { user, current: await current(context) };
          } catch (error) {
            const { type, raw } = error as AnvilError;
            return new HttpResponse(401, { type, code: raw.code });
          }
        },
      },
      { path: '/me', handler: async (_request, _params, context) => current(context) },
      {
        path: '/logout',
        handler: async (_request, _params, context) => {
          await context.call('anvil.private.users.logout', [], {});
          return current(context);
        },
      },
    ],
  });
  await sb.users.create({ email: 'ada@example.com', password: 'correct horse' });
  const browser = new Browser(`${url}/_/api`);
  assert.equal(await browser.json('/me'), null);

  const wrong = await browser.fetch('/login', {
    headers: { authorization: basic('ada@example.com', 'wrong horse') },
  });
  assert.equal(wrong.status, 401);
  assert.deepEqual(await wrong.json(), {
    type: 'anvil.users.AuthenticationFailed',
    code: 'SB_ERR_AUTH_FAILED',
  });
  const signedIn = await browser.json('/login', {
    headers: { authorization: basic('ada@example.com', 'correct horse') },
  });
  const user = signedIn.user as Json;
  assert.equal(user.email, 'ada@example.com');
  assert.equal(user.enabled, true);
  assert.ok(typeof user.id === 'number');
  assert.equal((signedIn.current as Json).email, 'ada@example.com');
  assert.equal((await browser.json('/me')).email, 'ada@example.com');
  assert.equal(await browser.json('/logout'), null);
  assert.equal(await browser.json('/me'), null);

  // Outside an HTTP request: no current user; login checks the password and answers the user.
  assert.equal(
    await anvil.call('anvil.private.users.get_current_user', [], { allow_remembered: true }),
    null,
  );
  const direct = (await anvil.call('anvil.private.users.login_with_email', [
    'ada@example.com',
    'correct horse',
  ])) as Json;
  assert.equal(direct.email, 'ada@example.com');
  assert.ok(direct.signed_up instanceof Date);
  await assert.rejects(
    anvil.call('anvil.private.users.login_with_email', ['ada@example.com', 'nope-nope']),
    (error: AnvilError) => {
      assert.equal(error.type, 'anvil.users.AuthenticationFailed');
      assert.equal(error.raw.code, 'SB_ERR_AUTH_FAILED');
      return true;
    },
  );
});

test('anvil.private: echo answers, origins, cookies outside a request are CookieError, unsupported services are refused', async (t) => {
  const { anvil, url, api } = await serve(t, {
    endpoints: [
      {
        path: '/origins',
        handler: async (_request, _params, context) => [
          await context.call('anvil.private.get_app_origin', [], {}),
          await context.call('anvil.private.get_api_origin', [], {}),
        ],
      },
    ],
  });
  assert.equal(await anvil.call('anvil.private.echo', ['keep-alive'], {}), 'keep-alive');
  assert.deepEqual(await (await fetch(`${api}/origins`)).json(), [url, api]);
  // Outside a request only a configured publicOrigin is known (none here).
  assert.equal(await anvil.call('anvil.private.get_app_origin', [], {}), null);
  await assert.rejects(
    anvil.call('anvil.private.get_cookie', ['local', 'x'], null),
    (error: AnvilError) => {
      assert.equal(error.type, 'anvil.server.CookieError');
      assert.equal(error.raw.code, 'SB_ERR_NO_HTTP_REQUEST');
      return true;
    },
  );
  await assert.rejects(
    anvil.call('anvil.private.set_cookie', ['local', 30], { x: 1 }),
    (error: AnvilError) => error.raw.code === 'SB_ERR_NO_HTTP_REQUEST',
  );
  await assert.rejects(
    anvil.call('anvil.private.tables.get_app_tables', []),
    (error: AnvilError) => {
      assert.equal(error.type, 'anvil.server.ServiceNotAdded');
      assert.equal(error.raw.code, 'SB_ERR_ANVIL_UNSUPPORTED');
      assert.equal(typeof error.message, 'string');
      return true;
    },
  );
  assert.equal(await anvil.call('anvil.private.echo', ['still open']), 'still open');
});
