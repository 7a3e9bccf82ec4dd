import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import {
  CLOSE_CODES,
  MAX_ARGS_SCHEMAS,
  MAX_SCHEMA_BYTES,
  MAX_SCHEMA_DEPTH,
  decodeUplinkMessage,
  encodeValue,
} from '@switchboard/shared';
import { connect, typed, type Uplink } from '@switchboard/uplink';
import { typed as typedOnServer } from '@switchboard/server';
import { spawnScript, type Child } from './helpers/child.ts';
import { expectError, type Json } from './helpers/http-client.ts';
import type { AnvilError } from './helpers/anvil-client.ts';
import { connectAnvil } from './helpers/anvil-client.ts';
import { call, startNode } from './helpers/cluster.ts';
import { startNats } from './helpers/nats.ts';
import { helloClient } from './helpers/raw-client.ts';
import { CLIENT_KEY, SERVER_KEY, startServer, type TestServer } from './helpers/server.ts';

/** The typed-functions fixture as a real child process, once it has registered (or been refused). */
async function startUplink(t: TestContext, url: string, variant = 'main'): Promise<Child> {
  const child = spawnScript(t, 'test/fixtures/typed-uplink.ts', {
    SB_URL: url,
    SB_KEY: SERVER_KEY,
    SB_VARIANT: variant,
  });
  await child.waitFor(/^ready /, 20_000);
  return child;
}

async function started(t: TestContext): Promise<TestServer & { child: Child }> {
  const server = await startServer(t);
  return { ...server, child: await startUplink(t, server.url) };
}

function callHttp(url: string, name: string, body: string, key?: string): Promise<Response> {
  return fetch(`${url}/_/call/${name}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
    },
    body,
  });
}

/** Asserts 400 SB_ERR_VALIDATION with that message and the issue it lists. */
async function expectInvalid(
  response: Response,
  message: string,
  issue: { path: string; keyword: string },
): Promise<void> {
  const body = (await expectError(response, 400, 'SB_ERR_VALIDATION')) as unknown as {
    message: string;
    errors: Array<Record<string, string>>;
  };
  assert.equal(body.message, message);
  assert.equal(body.errors.length, 1);
  assert.deepEqual(
    { in: body.errors[0]!.in, path: body.errors[0]!.path, keyword: body.errors[0]!.keyword },
    { in: 'args', ...issue },
  );
}

async function uplinkOf(t: TestContext, url: string, key = SERVER_KEY): Promise<Uplink> {
  const uplink = await connect({ url, key });
  t.after(() => uplink.close());
  return uplink;
}

test('/_/call checks arguments against the schemas before the uplink sees them', async (t) => {
  const { url, child } = await started(t);

  await expectInvalid(await callHttp(url, 'add', '["a"]'), 'add: args[0] must be number', {
    path: '/0',
    keyword: 'type',
  });
  await expectInvalid(
    await callHttp(url, 'add', '[2]'),
    'add: args[1] is missing (add takes 2 arguments, got 1)',
    { path: '/1', keyword: 'required' },
  );
  // An empty body is no arguments: refused, not `null` as before.
  await expectInvalid(
    await callHttp(url, 'add', ''),
    'add: args[0] is missing (add takes 2 arguments, got 0)',
    { path: '/0', keyword: 'required' },
  );
  await expectInvalid(
    await callHttp(url, 'add', '[2, 3, 4]'),
    'add: args[2] is one too many (add takes 2 arguments, got 3)',
    { path: '/2', keyword: 'maxItems' },
  );
  // Fields inside an argument are named.
  await expectInvalid(
    await callHttp(url, 'users.add', '[{"name": "ada", "extra": 1}]'),
    'users.add: args[0] must NOT have additional properties: extra',
    { path: '/0', keyword: 'additionalProperties' },
  );
  await expectInvalid(
    await callHttp(url, 'users.add', '[{"age": 3}]'),
    "users.add: args[0] must have required property 'name'",
    { path: '/0', keyword: 'required' },
  );
  await expectInvalid(
    await callHttp(url, 'users.add', '[{"name": "ada", "age": -1}]'),
    'users.add: args[0].age must be >= 0',
    { path: '/0/age', keyword: 'minimum' },
  );
  // One schema for the whole arguments array.
  await expectInvalid(await callHttp(url, 'sum', '[1, "2"]'), 'sum: args[1] must be number', {
    path: '/1',
    keyword: 'type',
  });
  await expectInvalid(
    await callHttp(url, 'sum', JSON.stringify(Array(11).fill(1))),
    'sum: args must NOT have more than 10 items',
    { path: '', keyword: 'maxItems' },
  );
  assert.deepEqual(
    child.lines.filter((line) => line.startsWith('called ')),
    [],
    'no refused call reached the uplink',
  );

  // Good arguments answer as before.
  const good = await callHttp(url, 'add', '[2, 3]');
  assert.equal(good.status, 200);
  assert.equal(await good.json(), 5);
  assert.deepEqual(
    await (await callHttp(url, 'users.add', '[{"name": "ada", "role": "admin"}]')).json(),
    { id: 1, name: 'ada', role: 'admin' },
  );
  assert.equal(await (await callHttp(url, 'sum', '')).json(), 0);
  assert.equal(await (await callHttp(url, 'sum', '[1, 2, 3]')).json(), 6);
  // A function without schemas behaves exactly as before.
  assert.equal(await (await callHttp(url, 'concat', '["a"]')).json(), 'aundefined');
  assert.equal(await (await callHttp(url, 'concat', '')).json(), 'undefinedundefined');
  // The access check still comes first: a server-key function is unknown to anonymous callers.
  await expectError(await callHttp(url, 'secret.rotate', '["x"]'), 404, 'SB_ERR_NO_SUCH_FUNCTION');
  await expectInvalid(
    await callHttp(url, 'secret.rotate', '[0]', SERVER_KEY),
    'secret.rotate: args[0] must be >= 1',
    { path: '/0', keyword: 'minimum' },
  );
});

test('RPC callers get the same SB_ERR_VALIDATION: another uplink, app code, an Anvil uplink, typed<Api>()', async (t) => {
  const { sb, url, wsUrl, child } = await started(t);
  const caller = await uplinkOf(t, url, CLIENT_KEY);

  await assert.rejects(caller.call('add', 'a', 3), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'SB_ERR_VALIDATION');
    assert.equal(error.message, 'add: args[0] must be number');
    return true;
  });
  await assert.rejects(sb.call('add', 2), {
    code: 'SB_ERR_VALIDATION',
    message: 'add: args[1] is missing (add takes 2 arguments, got 1)',
  });
  await assert.rejects(sb.call('users.add', { name: '' }), {
    code: 'SB_ERR_VALIDATION',
    message: 'users.add: args[0].name must NOT have fewer than 1 characters',
  });
  // An Anvil uplink's call goes through the same dispatcher.
  const anvil = await connectAnvil(t, wsUrl, SERVER_KEY);
  await assert.rejects(anvil.call('add', ['a', 3]), (error: AnvilError) => {
    assert.equal(error.raw.code, 'SB_ERR_VALIDATION');
    assert.match(error.message, /add: args\[0\] must be number/);
    return true;
  });
  assert.equal(await anvil.call('add', [1, 2]), 3);
  assert.equal(await caller.call('add', 2, 3), 5);
  assert.equal(await sb.call('sum', 4, 5), 9);
  assert.equal(await caller.call('concat', 'a'), 'aundefined');

  // typed() is call() by name, dotted names as nested properties, from an uplink and app code.
  interface Api {
    add(a: number, b: number): Promise<number>;
    users: { add(user: { name: string }): Promise<{ id: number; name: string }> };
  }
  const api = typed<Api>(caller);
  assert.equal(await api.add(20, 22), 42);
  assert.deepEqual(await api.users.add({ name: 'bo' }), { id: 1, name: 'bo' });
  const app = typedOnServer<Api>(sb);
  assert.equal(await app.add(1, 1), 2);
  await assert.rejects(app.add('1' as unknown as number, 1), { code: 'SB_ERR_VALIDATION' });
  assert.equal(
    (api as unknown as { then?: unknown }).then,
    undefined,
    'not mistaken for a promise',
  );
  assert.equal(
    child.lines.filter((line) => line.startsWith('called add ')).join('|'),
    'called add [1,2]|called add [2,3]|called add [20,22]|called add [1,1]',
  );
});

test('arguments too large for one frame are checked once they have arrived', async (t) => {
  const { url } = await startServer(t, { maxFrameBytes: 256 * 1024 });
  await startUplink(t, url);
  const caller = await uplinkOf(t, url);
  const big = 'x'.repeat(600 * 1024);
  await assert.rejects(caller.call('add', big, 1), {
    code: 'SB_ERR_VALIDATION',
    message: 'add: args[0] must be number',
  });
  const made = (await caller.call('users.add', { name: big })) as { name: string };
  assert.equal(made.name.length, big.length);
});

test('app code registers typed functions too; schemas that do not compile or disagree are refused', async (t) => {
  const { sb, url } = await started(t);
  const withdraw = sb.callable('mul', (a: number, b: number) => a * b, {
    allowClients: true,
    args: [{ type: 'number' }, { type: 'number' }],
    returns: { type: 'number' },
  });
  await expectInvalid(await callHttp(url, 'mul', '[2, "x"]'), 'mul: args[1] must be number', {
    path: '/1',
    keyword: 'type',
  });
  assert.equal(await (await callHttp(url, 'mul', '[2, 4]')).json(), 8);
  assert.throws(() => sb.callable('bad', () => 1, { args: [{ type: 'strin' }] }), {
    code: 'SB_ERR_SCHEMA_INVALID',
  });
  assert.throws(() => sb.callable('bad', () => 1, { returns: { propertie: {} } }), {
    code: 'SB_ERR_SCHEMA_INVALID',
  });
  assert.throws(() => sb.callable('bad', () => 1, { args: [{ default: new Date() }] }), {
    code: 'SB_ERR_OPTIONS_INVALID',
  });
  // `add` is live with the uplink's schemas: other schemas are refused, the same ones balance.
  assert.throws(() => sb.callable('add', (a: number) => a, { args: [{ type: 'number' }] }), {
    code: 'SB_ERR_FUNCTION_CONFLICT',
  });
  assert.throws(() => sb.callable('add', (a: number) => a, { allowClients: true }), {
    code: 'SB_ERR_FUNCTION_CONFLICT',
  });
  const same = sb.callable('add', (a: number, b: number) => a + b, {
    allowClients: true,
    args: [
      { title: 'a', type: 'number' },
      { title: 'b', type: 'number' },
    ],
    returns: { type: 'number' },
  });
  same();
  // An uplink whose schema does not compile, or disagrees with the live one, is told why.
  const broken = await startUplink(t, url, 'bad-schema');
  assert.match(
    broken.lines.join('\n'),
    /^refused SB_ERR_SCHEMA_INVALID args\[0\] is not a valid JSON Schema/m,
  );
  const conflict = await startUplink(t, url, 'conflict');
  assert.match(conflict.lines.join('\n'), /^refused SB_ERR_FUNCTION_CONFLICT /m);
  await expectInvalid(await callHttp(url, 'add', '["a", "b"]'), 'add: args[0] must be number', {
    path: '/0',
    keyword: 'type',
  });
  withdraw();
});

test('/_/functions.json publishes the schemas of the functions the caller may call', async (t) => {
  const { url } = await started(t);
  type Listing = { functions: Array<Json & { name: string }> };
  const anonymous = (await (await fetch(`${url}/_/functions.json`)).json()) as Listing;
  assert.deepEqual(
    anonymous.functions.map((entry) => entry.name),
    ['add', 'concat', 'sum', 'users.add'],
  );
  assert.deepEqual(anonymous.functions[0], {
    name: 'add',
    allowClients: true,
    args: [
      { type: 'number', title: 'a' },
      { type: 'number', title: 'b' },
    ],
    returns: { type: 'number' },
  });
  assert.deepEqual(anonymous.functions[1], { name: 'concat', allowClients: true });
  assert.deepEqual(anonymous.functions[2]!.args, {
    type: 'array',
    items: { type: 'number' },
    maxItems: 10,
  });
  const client = (await (
    await fetch(`${url}/_/functions.json`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } })
  ).json()) as Listing;
  assert.deepEqual(client, anonymous);
  const server = (await (
    await fetch(`${url}/_/functions.json`, { headers: { authorization: `Bearer ${SERVER_KEY}` } })
  ).json()) as Listing;
  assert.deepEqual(
    server.functions.map((entry) => entry.name),
    ['add', 'concat', 'secret.rotate', 'sum', 'users.add'],
    'server keys see every function but the built-in sb. ones',
  );
  await expectError(
    await fetch(`${url}/_/functions.json`, { headers: { authorization: 'Bearer sbk_s_wrong' } }),
    401,
    'SB_ERR_AUTH_BAD_KEY',
  );
});

test('/_/openapi.json lists the functions as POST /_/call/<name> operations', async (t) => {
  const { url } = await started(t);
  const anonymous = (await (await fetch(`${url}/_/openapi.json`)).json()) as Json;
  assert.equal((await new Validator().validate(structuredClone(anonymous))).valid, true);
  const paths = anonymous.paths as Record<string, { post: Json }>;
  assert.deepEqual(Object.keys(paths).sort(), [
    '/_/call/add',
    '/_/call/concat',
    '/_/call/sum',
    '/_/call/users.add',
    '/_/tasks/{target}', // the same functions launched as background tasks
  ]);
  const add = paths['/_/call/add']!.post;
  assert.deepEqual(add.requestBody, {
    required: true,
    content: {
      'application/json': {
        schema: {
          type: 'array',
          prefixItems: [
            { type: 'number', title: 'a' },
            { type: 'number', title: 'b' },
          ],
          minItems: 2,
          maxItems: 2,
        },
      },
    },
  });
  const responses = add.responses as Record<string, Json>;
  assert.deepEqual(Object.keys(responses).sort(), ['200', '400', '404', 'default']);
  assert.deepEqual(responses['200']!.content, {
    'application/json': { schema: { type: 'number' } },
  });
  assert.equal(paths['/_/call/concat']!.post.responses instanceof Object, true);
  assert.equal((paths['/_/call/concat']!.post.responses as Json)['400'], undefined);

  const trusted = (await (
    await fetch(`${url}/_/openapi.json`, { headers: { authorization: `Bearer ${SERVER_KEY}` } })
  ).json()) as Json;
  const validator = new Validator();
  assert.equal((await validator.validate(structuredClone(trusted))).valid, true);
  // Credentials it cannot verify give the public document, as before functions were listed.
  const unverified = await fetch(`${url}/_/openapi.json`, {
    headers: { authorization: 'Token sbt_not-a-key' },
  });
  assert.equal(unverified.status, 200);
  assert.deepEqual(await unverified.json(), anonymous);
  const rotate = (trusted.paths as Record<string, { post: Json }>)['/_/call/secret.rotate']!.post;
  assert.deepEqual(rotate.security, [{ bearerAuth: [] }]);
  assert.deepEqual((trusted.components as Json).securitySchemes, {
    bearerAuth: { type: 'http', scheme: 'bearer' },
  });
});

test('the decode gate bounds the schemas of a function registration before anything compiles them', async (t) => {
  const frame = (fn: Json) =>
    encodeValue({ type: 'register', id: 1, functions: [{ name: 'f', ...fn }] });
  const good = { args: [{ type: 'number' }, true], returns: { type: 'string' } };
  assert.deepEqual(decodeUplinkMessage(frame(good)), [
    { type: 'register', id: 1, functions: [{ name: 'f', ...good }], endpoints: [] },
  ]);
  // A registration without schemas decodes exactly as before.
  assert.deepEqual(decodeUplinkMessage(frame({ allowClients: true })), [
    { type: 'register', id: 1, functions: [{ name: 'f', allowClients: true }], endpoints: [] },
  ]);
  let deep: unknown = {};
  for (let i = 0; i <= MAX_SCHEMA_DEPTH; i++) deep = { not: deep };
  for (const bad of [
    { args: 'x' },
    { args: [1] },
    { args: [{ a: new Uint8Array(1) }] },
    { args: [{ a: 2n ** 70n }] },
    { returns: 5 },
    { args: [deep] },
    { args: [{ description: 'x'.repeat(MAX_SCHEMA_BYTES) }] },
    { args: Array(MAX_ARGS_SCHEMAS + 1).fill(true) },
  ]) {
    assert.throws(() => decodeUplinkMessage(frame(bad)), { code: 'SB_ERR_PROTO_BAD_FRAME' });
  }

  // Over a real connection: a shape violation closes it; a schema that does not compile is
  // answered with SB_ERR_SCHEMA_INVALID and the connection stays open.
  const { wsUrl, url } = await startServer(t);
  const hostile = await helloClient(t, wsUrl, SERVER_KEY);
  hostile.send({
    type: 'register',
    id: 1,
    functions: [{ name: 'f', args: [deep] }],
    endpoints: [],
  });
  assert.equal((await hostile.closed).code, CLOSE_CODES.PROTOCOL_ERROR);
  const raw = await helloClient(t, wsUrl, SERVER_KEY);
  raw.send({
    type: 'register',
    id: 1,
    functions: [{ name: 'f', args: [{ type: 'strin' }] }],
    endpoints: [],
  });
  const refused = await raw.next();
  assert.equal(refused.type, 'error');
  assert.equal((refused as { error: { code: string } }).error.code, 'SB_ERR_SCHEMA_INVALID');
  raw.send({
    type: 'register',
    id: 2,
    functions: [{ name: 'f', args: [{ type: 'string' }], allowClients: true }],
    endpoints: [],
  });
  assert.deepEqual(await raw.next(), { type: 'result', id: 2, value: { registered: 1 } });
  await expectInvalid(await callHttp(url, 'f', '[1]'), 'f: args[0] must be string', {
    path: '/0',
    keyword: 'type',
  });
});

test('in a cluster the schemas travel with the catalog: the server a call enters checks it', async (t) => {
  const nats = await startNats(t);
  if (nats === undefined) return;
  const [a, b] = await Promise.all([
    startNode(t, nats.url, 'a', false),
    startNode(t, nats.url, 'b', false),
  ]);
  const uplink = await uplinkOf(t, a.url);
  uplink.callable('gpu.add', (x: number, y: number) => x + y, {
    args: [{ type: 'number' }, { type: 'number' }],
    returns: { type: 'number' },
  });
  await uplink.synced();
  const listed = async () =>
    (await (
      await fetch(`${b.url}/_/functions.json`, {
        headers: { authorization: `Bearer ${SERVER_KEY}` },
      })
    ).json()) as { functions: Json[] };
  let functions = (await listed()).functions;
  for (let i = 0; i < 200 && !functions.some((entry) => entry.name === 'gpu.add'); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    functions = (await listed()).functions;
  }
  assert.deepEqual(
    functions.find((entry) => entry.name === 'gpu.add'),
    {
      name: 'gpu.add',
      allowClients: false,
      args: [{ type: 'number' }, { type: 'number' }],
      returns: { type: 'number' },
    },
  );
  await expectInvalid(
    await callHttp(b.url, 'gpu.add', '[2, "3"]', SERVER_KEY),
    'gpu.add: args[1] must be number',
    { path: '/1', keyword: 'type' },
  );
  assert.deepEqual(await call(b, 'gpu.add', [2, 3]), { status: 200, body: 5 });
});
