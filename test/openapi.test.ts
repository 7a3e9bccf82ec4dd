import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import {
  MAX_SCHEMA_BYTES,
  MAX_SCHEMA_DEPTH,
  decodeUplinkMessage,
  encodeValue,
  endpointRegistration,
} from '@switchboard/shared';
import { SchemaCompiler } from '../server/src/schema/schema-compiler.ts';
import { spawnScript, type Child } from './helpers/child.ts';
import { expectError, type Json } from './helpers/http-client.ts';
import { helloClient } from './helpers/raw-client.ts';
import { SERVER_KEY, startServer } from './helpers/server.ts';

/** The schema fixture as a real child process, once it has registered (or been refused). */
async function startUplink(t: TestContext, url: string, variant = 'main'): Promise<Child> {
  const child = spawnScript(t, 'test/fixtures/schema-uplink.ts', {
    SB_URL: url,
    SB_KEY: SERVER_KEY,
    SB_VARIANT: variant,
  });
  await child.waitFor(/^ready /, 20_000);
  return child;
}

function postJson(url: string, body: unknown, contentType = 'application/json'): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Asserts a 400 SB_ERR_VALIDATION with that message and where it points. */
async function expectInvalid(
  response: Response,
  message: string,
  where: { in: string; path: string; keyword: string },
): Promise<void> {
  const body = (await expectError(response, 400, 'SB_ERR_VALIDATION')) as unknown as {
    message: string;
    errors: Array<Record<string, string>>;
  };
  assert.equal(body.message, message);
  assert.equal(body.errors.length, 1);
  assert.deepEqual({ ...body.errors[0], message: undefined }, { ...where, message: undefined });
}

test('schemas are enforced at the door: valid requests pass, bad body, query and params get 400 SB_ERR_VALIDATION and never reach the uplink', async (t) => {
  const { url } = await startServer(t);
  await startUplink(t, url);
  const api = `${url}/_/api`;

  const first = await postJson(`${api}/items`, { name: 'pen', qty: 2 });
  assert.equal(first.status, 201);
  assert.deepEqual(await first.json(), { id: 1, name: 'pen', qty: 2 });

  await expectInvalid(
    await postJson(`${api}/items`, { qty: 2 }),
    "body must have required property 'name'",
    { in: 'body', path: '', keyword: 'required' },
  );
  await expectInvalid(
    await postJson(`${api}/items`, { name: 'pen', qty: 'two' }),
    'body/qty must be integer',
    { in: 'body', path: '/qty', keyword: 'type' },
  );
  await expectInvalid(
    await postJson(`${api}/items`, { name: 'pen', colour: 'red' }),
    'body must NOT have additional properties: "colour"',
    { in: 'body', path: '', keyword: 'additionalProperties' },
  );
  await expectInvalid(await fetch(`${api}/items`, { method: 'POST' }), 'body is required', {
    in: 'body',
    path: '',
    keyword: 'required',
  });
  await expectError(
    await postJson(`${api}/items`, 'name=pen', 'application/x-www-form-urlencoded'),
    415,
    'SB_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE',
  );
  await expectError(await postJson(`${api}/items`, '{"name":'), 400, 'SB_ERR_HTTP_BAD_BODY');
  // None of the refused requests reached the handler: the next item is number 2.
  const second = await postJson(`${api}/items`, { name: 'cup' }, 'application/json; charset=utf-8');
  assert.equal(second.status, 201);
  assert.deepEqual(await second.json(), { id: 2, name: 'cup' });
  // A large body (the door keeps it in the chunks it arrived in) is checked whole, then sent whole.
  const long = 'n'.repeat(300_000);
  await expectInvalid(
    await postJson(`${api}/items`, { name: long, colour: 'red' }),
    'body must NOT have additional properties: "colour"',
    { in: 'body', path: '', keyword: 'additionalProperties' },
  );
  const third = await postJson(`${api}/items`, { name: long });
  assert.equal(third.status, 201);
  assert.deepEqual(await third.json(), { id: 3, name: long });

  // Query strings are coerced for checking; the handler still gets the strings.
  const found = await fetch(`${api}/search?q=pen&limit=5`);
  assert.equal(found.status, 200);
  assert.deepEqual(await found.json(), { q: 'pen', limit: '5' });
  await expectInvalid(
    await fetch(`${api}/search?limit=5`),
    "query must have required property 'q'",
    { in: 'query', path: '', keyword: 'required' },
  );
  await expectInvalid(await fetch(`${api}/search?q=pen&limit=abc`), 'query/limit must be integer', {
    in: 'query',
    path: '/limit',
    keyword: 'type',
  });
  await expectInvalid(await fetch(`${api}/search?q=pen&limit=500`), 'query/limit must be <= 100', {
    in: 'query',
    path: '/limit',
    keyword: 'maximum',
  });

  // Path parameters likewise (the fixture's handler throws if it gets anything but strings).
  const item = await fetch(`${api}/items/1?verbose=true`);
  assert.equal(item.status, 200);
  assert.deepEqual(await item.json(), { id: 1, name: 'pen', qty: 2 });
  await expectInvalid(await fetch(`${api}/items/abc`), 'params/id must be integer', {
    in: 'params',
    path: '/id',
    keyword: 'type',
  });
  await expectInvalid(await fetch(`${api}/items/0`), 'params/id must be >= 1', {
    in: 'params',
    path: '/id',
    keyword: 'minimum',
  });
  await expectInvalid(
    await fetch(`${api}/items/1?verbose=maybe`),
    'query/verbose must be boolean',
    {
      in: 'query',
      path: '/verbose',
      keyword: 'type',
    },
  );
  const missing = await fetch(`${api}/items/99`); // 404 matches the 4XX schema
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { missing: '99' });
  const deleted = await fetch(`${api}/items/1`, { method: 'DELETE' }); // no body: unchecked
  assert.equal(deleted.status, 204);

  const plain = await fetch(`${api}/plain`);
  assert.deepEqual(await plain.json(), { plain: true });
});

test('a JSON answer that breaks its response schema is 502 SB_ERR_RESPONSE_INVALID (and logged); streamed answers are not checked', async (t) => {
  const logged: Array<{ level: number; msg: string; endpoint?: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged.push(JSON.parse(chunk.toString()) as (typeof logged)[number]);
      done();
    },
  });
  const { url } = await startServer(t, { logger: { level: 'warn', stream } });
  await startUplink(t, url);
  const broken = await expectError(
    await fetch(`${url}/_/api/broken`),
    502,
    'SB_ERR_RESPONSE_INVALID',
  );
  assert.match(broken.message, /for 200: response\/ok must be boolean$/);
  const text = await expectError(
    await fetch(`${url}/_/api/broken?text=1`),
    502,
    'SB_ERR_RESPONSE_INVALID',
  );
  assert.match(text.message, /text\/plain/);
  const warnings = logged.filter((line) => line.level === 40);
  assert.deepEqual(
    warnings.map((line) => line.endpoint),
    ['/_/api/broken', '/_/api/broken?text=1'],
  );
  assert.equal(warnings[0]!.msg, broken.message);
  const streamed = await fetch(`${url}/_/api/stream`);
  assert.equal(streamed.status, 200);
  assert.equal(await streamed.text(), 'not json');
});

test('an invalid schema is refused at registration with SB_ERR_SCHEMA_INVALID (uplinks and app code); shapes that are not plain JSON with SB_ERR_OPTIONS_INVALID', async (t) => {
  const { sb, url } = await startServer(t);
  const child = await startUplink(t, url, 'bad-schema');
  const refused = await child.waitFor(/^refused /);
  assert.match(refused, /^refused SB_ERR_SCHEMA_INVALID schema\.body is not a valid JSON Schema/);
  await expectError(await fetch(`${url}/_/api/bad`), 404, 'SB_ERR_HTTP_NOT_FOUND');

  const handler = () => 'x';
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      return (error as { code?: string }).code;
    }
    return 'no error';
  };
  const register = (schema: unknown, extra: Json = {}) =>
    code(() => sb.httpEndpoint('/x', { ...extra, schema } as never, handler));
  assert.equal(register({ body: { type: 'strin' } }), 'SB_ERR_SCHEMA_INVALID');
  assert.equal(register({ body: { propertie: {} } }), 'SB_ERR_SCHEMA_INVALID'); // strict: typo
  assert.equal(register({ query: { format: 'no-such-format' } }), 'SB_ERR_SCHEMA_INVALID');
  assert.equal(register({ body: { $ref: 'https://example.com/x.json' } }), 'SB_ERR_SCHEMA_INVALID');
  assert.equal(
    register({ response: { '200': { type: 'object', required: 'name' } } }),
    'SB_ERR_SCHEMA_INVALID',
  );
  assert.equal(register({ body: { const: new Date() } }), 'SB_ERR_OPTIONS_INVALID');
  assert.equal(register({ body: { const: new Uint8Array(2) } }), 'SB_ERR_OPTIONS_INVALID');
  assert.equal(register({ headers: {} }), 'SB_ERR_OPTIONS_INVALID');
  assert.equal(register({ body: 'string' }), 'SB_ERR_OPTIONS_INVALID');
  assert.equal(register({ response: { ok: {} } }), 'SB_ERR_OPTIONS_INVALID');
  assert.equal(
    register({ body: { description: 'x'.repeat(MAX_SCHEMA_BYTES) } }),
    'SB_ERR_OPTIONS_INVALID',
  );
  let deep: unknown = {};
  for (let i = 0; i <= MAX_SCHEMA_DEPTH; i++) deep = { not: deep };
  assert.equal(register({ body: deep }), 'SB_ERR_OPTIONS_INVALID');
  assert.equal(register({ body: {} }, { maxBodyBytes: 1000 }), 'SB_ERR_OPTIONS_INVALID');
  assert.equal(register(undefined, { tags: 'items' }), 'SB_ERR_OPTIONS_INVALID');
  assert.equal(register(undefined, { summary: 42 }), 'SB_ERR_OPTIONS_INVALID');
  await expectError(await fetch(`${url}/_/api/x`), 404, 'SB_ERR_HTTP_NOT_FOUND');
  // A valid schema with formats and OpenAPI's `example` keyword is fine.
  assert.equal(
    register({ query: { type: 'object', properties: { at: { type: 'string', format: 'date' } } } }),
    'no error',
  );
  // The only provider of a path may change what it declares.
  assert.equal(
    register({ body: { type: 'string', example: 'hi' } }, { methods: ['POST'] }),
    'no error',
  );
});

test('every provider of a path must declare the same summary and schemas (compared by content): others are refused with SB_ERR_ENDPOINT_CONFLICT', async (t) => {
  const { sb, url } = await startServer(t);
  await startUplink(t, url);
  const other = await startUplink(t, url, 'conflict');
  assert.match(await other.waitFor(/^refused /), /^refused SB_ERR_ENDPOINT_CONFLICT .*schema/);

  const search = {
    methods: ['GET' as const],
    summary: 'Search',
    schema: {
      query: {
        properties: { limit: { maximum: 100, type: 'integer' }, q: { type: 'string' } },
        required: ['q'],
        type: 'object',
      },
    },
  };
  assert.throws(() => sb.httpEndpoint('/search', { ...search, summary: 'Find' }, () => 'app'), {
    code: 'SB_ERR_ENDPOINT_CONFLICT',
  });
  // The same content with its keys in another order is the same schema: the app joins in.
  const withdraw = sb.httpEndpoint('/search', search, () => ({ from: 'app' }));
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const response = await fetch(`${url}/_/api/search?q=a`);
    seen.add(JSON.stringify(await response.json()));
  }
  assert.ok(seen.has('{"from":"app"}'), [...seen].join(' '));
  assert.ok(seen.has('{"q":"a","limit":null}'), [...seen].join(' '));
  // The app's copy is checked like the uplink's.
  for (let i = 0; i < 4; i++)
    await expectError(await fetch(`${url}/_/api/search`), 400, 'SB_ERR_VALIDATION');
  withdraw();
});

test('/_/openapi.json is a valid OpenAPI 3.1 document of the live endpoints, rebuilt when one leaves', async (t) => {
  const { sb, url } = await startServer(t, {
    openapi: { title: 'Test API', version: '2.3.4' },
    publicOrigin: 'https://api.example.com',
  });
  const uplink = await startUplink(t, url);
  sb.httpEndpoint(
    '/app/:name/files/:file',
    { methods: ['GET'], description: 'Served by the app', tags: ['app'] },
    () => 'x',
  );
  const response = await fetch(`${url}/_/openapi.json`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const doc = (await response.json()) as Json;

  const validator = new Validator();
  const result = await validator.validate(structuredClone(doc));
  assert.equal(result.valid, true, JSON.stringify(result.errors));
  assert.equal(validator.version, '3.1');
  assert.doesNotThrow(() => validator.resolveRefs()); // every $ref points somewhere

  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(doc.info, { title: 'Test API', version: '2.3.4' });
  assert.deepEqual(doc.servers, [{ url: 'https://api.example.com' }]);
  const paths = doc.paths as Record<string, Record<string, Json>>;
  assert.deepEqual(Object.keys(paths).sort(), [
    '/_/api/app/{name}/files/{file}',
    '/_/api/broken',
    '/_/api/items',
    '/_/api/items/{id}',
    '/_/api/plain',
    '/_/api/search',
    '/_/api/stream',
    '/_/api/tree',
  ]);
  assert.deepEqual(Object.keys(paths['/_/api/items']!), ['post']);
  assert.deepEqual(Object.keys(paths['/_/api/items/{id}']!).sort(), ['delete', 'get']);

  const create = paths['/_/api/items']!.post as Json;
  assert.equal(create.summary, 'Create an item');
  assert.equal(create.description, 'Adds an item to the list.');
  assert.deepEqual(create.tags, ['items']);
  const body = create.requestBody as { required: boolean; content: Record<string, Json> };
  assert.equal(body.required, true);
  assert.deepEqual((body.content['application/json']!.schema as Json).required, ['name']);
  const created = (create.responses as Record<string, Json>)['201']!;
  assert.equal(created.description, 'Created');
  assert.deepEqual(
    ((created.content as Record<string, Json>)['application/json']!.schema as Json).required,
    ['id', 'name'],
  );
  assert.ok((create.responses as Json)['400'], 'validation errors are documented');

  const get = paths['/_/api/items/{id}']!.get as Json;
  assert.deepEqual(get.parameters, [
    { name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } },
    { name: 'verbose', in: 'query', required: false, schema: { type: 'boolean' } },
  ]);
  assert.equal(get.requestBody, undefined);
  assert.deepEqual(Object.keys(get.responses as Json).sort(), ['200', '400', '4XX']);
  const search = paths['/_/api/search']!.get as Json;
  assert.deepEqual(
    (search.parameters as Json[]).map((p) => [p.name, p.in, p.required]),
    [
      ['q', 'query', true],
      ['limit', 'query', false],
    ],
  );
  const app = paths['/_/api/app/{name}/files/{file}']!.get as Json;
  assert.deepEqual(
    (app.parameters as Json[]).map((p) => [p.name, p.in, p.schema]),
    [
      ['name', 'path', { type: 'string' }],
      ['file', 'path', { type: 'string' }],
    ],
  );
  assert.deepEqual(app.tags, ['app']);
  assert.deepEqual((paths['/_/api/plain']!.get as Json).responses, {
    default: { description: "The handler's response" },
  });

  // Basic auth where the endpoint asks for credentials (or a user API token, issue 20); a schema
  // with local $refs is placed under components with its references rewritten.
  const tree = paths['/_/api/tree']!.put as Json;
  assert.deepEqual(tree.security, [{ basicAuth: [] }, { userToken: [] }]);
  assert.ok((tree.responses as Json)['401']);
  const components = doc.components as { securitySchemes: Json; schemas: Record<string, Json> };
  assert.deepEqual(components.securitySchemes, {
    basicAuth: { type: 'http', scheme: 'basic' },
    userToken: {
      type: 'apiKey',
      in: 'header',
      name: 'Authorization',
      description: "A user's API token: `Authorization: Token sbu_...`",
    },
  });
  const treeBody = (tree.requestBody as { content: Record<string, Json> }).content[
    'application/json'
  ]!.schema as Json;
  assert.deepEqual(treeBody, { $ref: '#/components/schemas/tree.body' });
  assert.equal(components.schemas['tree.body']!.$ref, '#/components/schemas/tree.body/$defs/node');
  assert.equal((paths['/_/api/plain']!.get as Json).security, undefined);
  assert.deepEqual(
    (doc.tags as Json[]).map((tag) => tag.name),
    ['app', 'items'],
  );

  // The uplink leaves: its endpoints leave the document; the app's stays.
  uplink.process.kill('SIGKILL');
  await uplink.exited;
  let after: Json = doc;
  for (let i = 0; i < 100 && '/_/api/items' in (after.paths as Json); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    after = (await (await fetch(`${url}/_/openapi.json`)).json()) as Json;
  }
  assert.deepEqual(Object.keys(after.paths as Json), ['/_/api/app/{name}/files/{file}']);
  assert.equal((after.components as Json).securitySchemes, undefined);
  assert.equal((await new Validator().validate(after)).valid, true);
});

test('/_/openapi.json answers 404 with openapi: false; an empty table is still a valid document', async (t) => {
  const off = await startServer(t, { openapi: false });
  await expectError(await fetch(`${off.url}/_/openapi.json`), 404, 'SB_ERR_HTTP_NOT_FOUND');
  const on = await startServer(t);
  const doc = (await (await fetch(`${on.url}/_/openapi.json`)).json()) as Json;
  assert.deepEqual(doc.info, { title: 'Switchboard API', version: '1.0.0' });
  assert.deepEqual(doc.paths, {});
  assert.equal((await new Validator().validate(doc)).valid, true);
});

test('the decode gate checks the shape of summaries, tags and schemas in a register frame', (t) => {
  const frame = (endpoint: Json) =>
    encodeValue({
      type: 'register',
      id: 1,
      endpoints: [{ path: '/a', methods: ['GET'], ...endpoint }],
    });
  const good = {
    summary: 'A',
    tags: ['t'],
    schema: { query: { type: 'object' }, response: { '200': true, default: { type: 'object' } } },
  };
  const [decoded] = decodeUplinkMessage(frame(good));
  assert.deepEqual(decoded, {
    type: 'register',
    id: 1,
    functions: [],
    endpoints: [{ path: '/a', methods: ['GET'], ...good }],
  });
  for (const bad of [
    { summary: 42 },
    { summary: '' },
    { tags: 'x' },
    { tags: [1] },
    { schema: [] },
    { schema: { body: 'x' } },
    { schema: { body: { a: new Uint8Array(1) } } },
    { schema: { body: { a: 2n ** 70n } } },
    { schema: { body: { a: undefined } } },
    { schema: { response: { '200': 5 } } },
    { schema: { response: { '700': {} } } },
    { schema: { cookies: {} } },
    { schema: { body: { description: 'x'.repeat(MAX_SCHEMA_BYTES) } } },
    { policy: { maxBodyBytes: 10 }, schema: { body: {} } },
  ]) {
    assert.throws(
      () => decodeUplinkMessage(frame(bad)),
      { code: 'SB_ERR_PROTO_BAD_FRAME' },
      JSON.stringify(Object.keys(bad)),
    );
  }
  t.diagnostic('each malformed registration refused');
});

test('a raw uplink registering a schema Ajv refuses gets SB_ERR_SCHEMA_INVALID and keeps its connection', async (t) => {
  const { url, wsUrl } = await startServer(t);
  const client = await helloClient(t, wsUrl, SERVER_KEY);
  client.send({
    type: 'register',
    id: 1,
    endpoints: [{ path: '/raw', methods: ['POST'], schema: { body: { minimum: 'one' } } }],
  });
  const refused = await client.next();
  assert.equal(refused.type === 'error' && refused.error.code, 'SB_ERR_SCHEMA_INVALID');
  client.send({ type: 'register', id: 2, endpoints: [{ path: '/raw', methods: ['POST'] }] });
  assert.equal((await client.next()).type, 'result');
  const served = client.next();
  const pending = fetch(`${url}/_/api/raw`, { method: 'POST', body: 'anything' });
  const request = await served;
  assert.equal(request.type, 'request');
  if (request.type === 'request')
    client.send({ type: 'result', id: request.id, value: { status: 204, headers: {} } });
  assert.equal((await pending).status, 204);
});

test('schemas compile once per content: the same schema with keys in another order shares one compiled check', () => {
  const compiler = new SchemaCompiler();
  const a = compiler.compile({ type: 'object', required: ['x'] }, 'exact', 'schema.body');
  const b = compiler.compile({ required: ['x'], type: 'object' }, 'exact', 'schema.body');
  assert.equal(a, b);
  assert.notEqual(
    compiler.compile({ type: 'object', required: ['x'] }, 'coerce', 'schema.query'),
    a,
  );
  assert.equal(a({ x: 1 }), true);
  assert.equal(a({}), false);
  // endpointRegistration keeps what it was given, checked.
  const registration = endpointRegistration(
    '/a',
    { summary: 'A', schema: { body: true } },
    () => 1,
  );
  assert.deepEqual(registration, {
    path: '/a',
    methods: ['GET', 'POST'],
    summary: 'A',
    schema: { body: true },
  });
});
