import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { spawnScript } from './helpers/child.ts';
import { SERVER_KEY, startServer } from './helpers/server.ts';

type Json = Record<string, unknown>;
interface Envelope {
  num_results: number;
  total_pages: number;
  page: number;
  objects: Json[];
}

/** A server and the REST fixture as a real uplink child process; returns the API base URL. */
async function startRest(t: TestContext): Promise<string> {
  const { url } = await startServer(t);
  const child = spawnScript(t, 'test/fixtures/rest-uplink.ts', { SB_URL: url, SB_KEY: SERVER_KEY });
  await child.waitFor(/^ready /, 20_000);
  return `${url}/_/api`;
}

async function list(url: string): Promise<Envelope> {
  const response = await fetch(url);
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as Envelope;
}

function search(base: string, q: unknown, extra = ''): string {
  return `${base}?q=${encodeURIComponent(typeof q === 'string' ? q : JSON.stringify(q))}${extra}`;
}

function send(url: string, method: string, body?: unknown): Promise<Response> {
  return fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Asserts a coded error answer; returns its body. */
async function expectCode(response: Response, status: number, code: string): Promise<Json> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  const body = JSON.parse(text) as Json;
  assert.equal(body.code, code, text);
  assert.equal(typeof body.message, 'string');
  return body;
}

test('list: the Flask-Restless envelope, paging with defaults and bounds', async (t) => {
  const api = await startRest(t);
  const first = await list(`${api}/books`);
  assert.equal(first.num_results, 25);
  assert.equal(first.total_pages, 3); // 10 per page by default
  assert.equal(first.page, 1);
  assert.deepEqual(
    first.objects.map((book) => book.id),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
  const third = await list(`${api}/books?page=3`);
  assert.deepEqual([third.page, third.objects.map((book) => book.id)], [3, [21, 22, 23, 24, 25]]);
  const wide = await list(`${api}/books?results_per_page=100&page=1`);
  assert.deepEqual([wide.total_pages, wide.objects.length], [1, 25]);
  const beyond = await list(`${api}/books?page=9`);
  assert.deepEqual([beyond.page, beyond.objects, beyond.num_results], [9, [], 25]);
  // Per-resource defaults: /shelves pages by 1, at most 5.
  const shelves = await list(`${api}/shelves`);
  assert.deepEqual([shelves.total_pages, shelves.objects.length], [2, 1]);

  for (const query of ['results_per_page=101', 'results_per_page=0', 'page=0', 'page=two']) {
    const body = await expectCode(await fetch(`${api}/books?${query}`), 400, 'SB_ERR_VALIDATION');
    assert.equal((body.errors as Json[])[0]!.in, 'query', query);
  }
  await expectCode(await fetch(`${api}/shelves?results_per_page=6`), 400, 'SB_ERR_VALIDATION');
});

test('list: q filters (ops, and/or, nested has/any) and order_by', async (t) => {
  const api = await startRest(t);
  const ids = async (q: unknown, extra = '&results_per_page=100') =>
    (await list(search(`${api}/books`, q, extra))).objects.map((book) => book.id);

  assert.deepEqual(await ids({ filters: [{ name: 'title', op: 'eq', val: 'Book 07' }] }), [7]);
  assert.deepEqual(await ids({ filters: [{ name: 'title', op: '==', val: 'Book 07' }] }), [7]);
  assert.deepEqual(await ids({ filters: [{ name: 'year', op: '>=', val: 2013 }] }), [23, 24, 25]);
  assert.deepEqual(await ids({ filters: [{ name: 'year', op: 'lt', val: 1993 }] }), [1, 2]);
  assert.deepEqual(await ids({ filters: [{ name: 'id', op: 'in', val: [4, 9, 99] }] }), [4, 9]);
  assert.deepEqual(
    (await ids({ filters: [{ name: 'available', op: 'neq', val: true }] })).length,
    5,
  );
  assert.deepEqual(
    await ids({ filters: [{ name: 'title', op: 'like', val: 'Book 1_' }] }),
    [10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
  );
  assert.deepEqual(
    await ids({ filters: [{ name: 'title', op: 'ilike', val: '%k 2%' }] }),
    [20, 21, 22, 23, 24, 25],
  );
  assert.deepEqual(await ids({ filters: [{ name: 'editor', op: 'is_not_null' }] }), [1, 2, 3]);
  assert.deepEqual(
    await ids({
      filters: [{ name: 'editor', op: 'has', val: { name: 'name', op: 'eq', val: 'Ed 2' } }],
    }),
    [2],
  );
  assert.deepEqual((await ids({ filters: [{ name: 'tags', op: 'any', val: 'even' }] })).length, 12);
  // Top-level filters all hold; or/and groups nest.
  assert.deepEqual(
    await ids({
      filters: [
        { name: 'author', op: 'eq', val: 'Ada' },
        {
          or: [
            { name: 'id', op: 'le', val: 6 },
            {
              and: [
                { name: 'id', op: 'gt', val: 20 },
                { name: 'available', op: 'eq', val: true },
              ],
            },
          ],
        },
      ],
    }),
    [3, 6, 21, 24],
  );
  // order_by, most significant first; the total counts all pages.
  const ordered = await list(
    search(
      `${api}/books`,
      {
        filters: [{ name: 'year', op: 'gt', val: 2005 }],
        order_by: [
          { field: 'author', direction: 'desc' },
          { field: 'year', direction: 'asc' },
        ],
      },
      '&results_per_page=4&page=2',
    ),
  );
  assert.equal(ordered.num_results, 10);
  assert.equal(ordered.total_pages, 3);
  assert.deepEqual(
    ordered.objects.map((book) => [book.author, book.id]),
    [
      ['Bob', 19],
      ['Bob', 22],
      ['Bob', 25],
      ['Ada', 18],
    ],
  );
});

test('list: a bad q is refused with 400 SB_ERR_VALIDATION naming what is wrong', async (t) => {
  const api = await startRest(t);
  const cases: Array<[unknown, string, RegExp]> = [
    ['{"filters":', '/q', /not valid JSON/],
    [[1], '/q', /must be an object/],
    [{ filters: [{ name: 'colour', op: 'eq', val: 'red' }] }, '/q/filters/0/name', /"colour"/],
    [{ filters: [{ name: 'title', op: 'resembles', val: 'x' }] }, '/q/filters/0/op', /"resembles"/],
    [{ filters: [{ name: 'id', op: 'in', val: 3 }] }, '/q/filters/0/val', /array/],
    [{ filters: [{ name: 'id', op: 'eq' }] }, '/q/filters/0/val', /required/],
    [
      { filters: [{ or: [{ name: 'nope', op: 'eq', val: 1 }] }] },
      '/q/filters/0/or/0/name',
      /"nope"/,
    ],
    [{ order_by: [{ field: 'secret' }] }, '/q/order_by/0/field', /"secret"/],
    [{ order_by: [{ field: 'title', direction: 'up' }] }, '/q/order_by/0/direction', /asc/],
    [{ limit: 5 }, '/q/limit', /not supported/],
  ];
  for (const [q, path, message] of cases) {
    const body = await expectCode(await fetch(search(`${api}/books`, q)), 400, 'SB_ERR_VALIDATION');
    const issue = (body.errors as Json[])[0]!;
    assert.deepEqual([issue.in, issue.path], ['query', path], JSON.stringify(q));
    assert.match(String(body.message), message);
    assert.ok(String(body.message).startsWith(`query${path} `), String(body.message));
  }
});

test('create 201 + Location, get, PUT and PATCH, delete 204, missing ids 404', async (t) => {
  const api = await startRest(t);
  const created = await send(`${api}/books`, 'POST', {
    title: 'Dune',
    author: 'Herbert',
    year: 1965,
  });
  assert.equal(created.status, 201);
  assert.equal(created.headers.get('location'), `${api}/books/26`);
  const book = (await created.json()) as Json;
  assert.deepEqual(book, {
    id: 26,
    title: 'Dune',
    author: 'Herbert',
    year: 1965,
    available: true,
  });
  assert.deepEqual(await (await fetch(`${api}/books/26`)).json(), book);

  // PUT replaces (every required field, the rest dropped); PATCH changes what it sends.
  const put = await send(`${api}/books/26`, 'PUT', { title: 'Dune', author: 'F. Herbert' });
  assert.equal(put.status, 200);
  assert.deepEqual(await put.json(), {
    id: 26,
    title: 'Dune',
    author: 'F. Herbert',
    available: true,
  });
  const incomplete = await expectCode(
    await send(`${api}/books/26`, 'PUT', { title: 'Dune' }),
    400,
    'SB_ERR_VALIDATION',
  );
  assert.match(String(incomplete.message), /'author'/);
  const patch = await send(`${api}/books/26`, 'PATCH', { year: 1966 });
  assert.equal(patch.status, 200);
  assert.deepEqual(await patch.json(), {
    id: 26,
    title: 'Dune',
    author: 'F. Herbert',
    available: true,
    year: 1966,
  });

  // Missing ids: 404 coded, for get, update and remove alike.
  await expectCode(await fetch(`${api}/books/999`), 404, 'SB_ERR_RESOURCE_NOT_FOUND');
  await expectCode(
    await send(`${api}/books/999`, 'PATCH', { year: 1 }),
    404,
    'SB_ERR_RESOURCE_NOT_FOUND',
  );
  await expectCode(await send(`${api}/books/999`, 'DELETE'), 404, 'SB_ERR_RESOURCE_NOT_FOUND');

  const removed = await send(`${api}/books/26`, 'DELETE');
  assert.equal(removed.status, 204);
  assert.equal(await removed.text(), '');
  await expectCode(await fetch(`${api}/books/26`), 404, 'SB_ERR_RESOURCE_NOT_FOUND');
  // A handler's own HttpResponse goes out as it is.
  await expectCode(await send(`${api}/books/13`, 'DELETE'), 409, 'BOOK_PINNED');
  assert.equal((await list(`${api}/books`)).num_results, 25);

  // Without an item schema any JSON object is taken; the id still makes the Location.
  const note = await send(`${api}/notes`, 'POST', { text: 'hi', anything: [1] });
  assert.equal(note.status, 201);
  assert.equal(note.headers.get('location'), `${api}/notes/n1`);
  assert.deepEqual((await list(`${api}/notes`)).objects, [{ text: 'hi', anything: [1], id: 'n1' }]);
  await expectCode(await send(`${api}/notes`, 'POST', [1, 2]), 400, 'SB_ERR_VALIDATION');
});

test('bodies: a field the item schema does not have is refused, naming it', async (t) => {
  const api = await startRest(t);
  for (const [method, url] of [
    ['POST', `${api}/books`],
    ['PUT', `${api}/books/1`],
    ['PATCH', `${api}/books/1`],
  ] as const) {
    const body = await expectCode(
      await send(url, method, { title: 'X', author: 'Y', colour: 'red' }),
      400,
      'SB_ERR_VALIDATION',
    );
    assert.match(String(body.message), /"colour"/, method);
    assert.deepEqual((body.errors as Json[])[0]!.keyword, 'additionalProperties');
  }
  // The server assigns ids: a readOnly field is not accepted either.
  const withId = await expectCode(
    await send(`${api}/books`, 'POST', { id: 7, title: 'X', author: 'Y' }),
    400,
    'SB_ERR_VALIDATION',
  );
  assert.match(String(withId.message), /"id"/);
  const wrongType = await expectCode(
    await send(`${api}/books`, 'POST', { title: 'X', author: 'Y', year: 'old' }),
    400,
    'SB_ERR_VALIDATION',
  );
  assert.equal(wrongType.message, 'body/year must be integer');
  await expectCode(await send(`${api}/books`, 'POST', { author: 'Y' }), 400, 'SB_ERR_VALIDATION');
  // Nothing refused reached the handler: book 1 is unchanged and there is no book 26.
  assert.equal(((await (await fetch(`${api}/books/1`)).json()) as Json).title, 'Book 01');
  await expectCode(await fetch(`${api}/books/26`), 404, 'SB_ERR_RESOURCE_NOT_FOUND');
});

test('methods a resource does not serve: 405 with Allow', async (t) => {
  const api = await startRest(t);
  const cases: Array<[string, string, string]> = [
    [`${api}/books`, 'DELETE', 'GET, POST, HEAD, OPTIONS'],
    [`${api}/books/1`, 'POST', 'GET, PUT, PATCH, DELETE, HEAD, OPTIONS'],
    [`${api}/shelves`, 'POST', 'GET, HEAD, OPTIONS'],
    [`${api}/shelves/a`, 'PUT', 'GET, HEAD, OPTIONS'],
    [`${api}/notes`, 'PUT', 'GET, POST, HEAD, OPTIONS'],
  ];
  for (const [url, method, allow] of cases) {
    const response = await send(url, method, {});
    await expectCode(response, 405, 'SB_ERR_HTTP_METHOD_NOT_ALLOWED');
    assert.equal(response.headers.get('allow'), allow, `${method} ${url}`);
  }
  // /notes has no item handlers at all: its items are no route.
  await expectCode(await fetch(`${api}/notes/n1`), 404, 'SB_ERR_HTTP_NOT_FOUND');
  assert.deepEqual(await (await fetch(`${api}/shelves/b`)).json(), { id: 'b', label: 'Poetry' });
});

test('the OpenAPI document has the resource operations, envelope, query and errors', async (t) => {
  const api = await startRest(t);
  const doc = (await (await fetch(api.replace(/\/api$/, '/openapi.json'))).json()) as Json;
  const result = await new Validator().validate(doc);
  assert.equal(result.valid, true, JSON.stringify(result.errors));
  const paths = doc.paths as Record<string, Record<string, Json>>;
  assert.deepEqual(Object.keys(paths['/_/api/books']!).sort(), ['get', 'post']);
  assert.deepEqual(Object.keys(paths['/_/api/books/{id}']!).sort(), [
    'delete',
    'get',
    'patch',
    'put',
  ]);
  assert.deepEqual(Object.keys(paths['/_/api/shelves']!), ['get']);
  const listOp = paths['/_/api/books']!.get!;
  assert.deepEqual(
    (listOp.parameters as Json[]).map((param) => [param.name, param.in]),
    [
      ['page', 'query'],
      ['results_per_page', 'query'],
      ['q', 'query'],
    ],
  );
  assert.deepEqual(listOp.tags, ['books']);
  const responses = listOp.responses as Record<string, Json>;
  assert.ok(responses['200'] && responses['201'] && responses['400']);
  // The item schema has $defs, so the envelope lives under components with its references.
  const ref = ((responses['200'].content as Json)['application/json'] as Json).schema as Json;
  const schemas = (doc.components as Json).schemas as Record<string, Json>;
  const envelope = schemas[String(ref.$ref).split('/').pop()!]!;
  assert.deepEqual(envelope.required, ['num_results', 'total_pages', 'page', 'objects']);
  assert.match(JSON.stringify(envelope), /#\/components\/schemas\/[^"]+\/\$defs\/person/);
  const itemOps = paths['/_/api/books/{id}']!;
  assert.match(
    String(itemOps.put!.description),
    /PUT replaces the item and must send title, author;/,
  );
  assert.ok((itemOps.get!.responses as Json)['404']);
  const bodyRef = ((itemOps.patch!.requestBody as Json).content as Record<string, Json>)[
    'application/json'
  ]!.schema as Json;
  const patchBody = schemas[String(bodyRef.$ref).split('/').pop()!]!;
  assert.equal(patchBody.additionalProperties, false);
  assert.equal(patchBody.required, undefined);
  // The id is answered, never sent.
  assert.deepEqual(Object.keys(patchBody.properties as Json), [
    'title',
    'author',
    'year',
    'tags',
    'available',
    'editor',
  ]);
});
