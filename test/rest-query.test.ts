import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyListQuery, parseSearchQuery, type ListQuery } from '@switchboard/shared';
import { startServer } from './helpers/server.ts';

// Resources served by the server object (app code in the server process), and the q parser and
// in-memory helper on their own. test/rest-resources.test.ts has the uplink side.

type Json = Record<string, unknown>;

function search(base: string, q: unknown): string {
  return `${base}?q=${encodeURIComponent(JSON.stringify(q))}`;
}

function send(url: string, method: string, body?: unknown): Promise<Response> {
  return fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function expectCode(response: Response, status: number, code: string): Promise<Json> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  const body = JSON.parse(text) as Json;
  assert.equal(body.code, code, text);
  return body;
}

test('a resource served by the server object (in-process), withdrawn as one', async (t) => {
  const { sb, url } = await startServer(t);
  const api = `${url}/_/api`;
  const items = [
    { id: 1, name: 'pen' },
    { id: 2, name: 'cup' },
  ];
  const seen: ListQuery[] = [];
  const withdraw = sb.resource<{ id: number; name: string }>(
    '/things',
    {
      list: (query) => {
        seen.push(query);
        return applyListQuery(items, query);
      },
      get: (id) => items.find((item) => String(item.id) === id),
      create: (body) => {
        const item = { id: items.length + 1, name: body.name ?? '' };
        items.push(item);
        return item;
      },
    },
    {
      item: {
        type: 'object',
        required: ['name'],
        properties: { id: { type: 'integer', readOnly: true }, name: { type: 'string' } },
      },
    },
  );
  const response = await fetch(
    search(`${api}/things`, { filters: [{ name: 'name', op: 'eq', val: 'cup' }] }),
  );
  const found = (await response.json()) as Json;
  assert.deepEqual(found, { num_results: 1, total_pages: 1, page: 1, objects: [items[1]] });
  // The handler got the typed query.
  assert.deepEqual(seen[0], {
    page: 1,
    perPage: 10,
    filters: [{ name: 'name', op: 'eq', val: 'cup' }],
    orderBy: [],
  });
  const created = await send(`${api}/things`, 'POST', { name: 'ink' });
  assert.equal(created.status, 201);
  assert.equal(created.headers.get('location'), `${api}/things/3`);
  await expectCode(
    await send(`${api}/things`, 'POST', { name: 'x', size: 2 }),
    400,
    'SB_ERR_VALIDATION',
  );
  await expectCode(await fetch(`${api}/things/9`), 404, 'SB_ERR_RESOURCE_NOT_FOUND');
  // A resource under a path with its own parameter: Location is the URL it was created at.
  const notes = new Map<string, Array<{ id: number; text: string }>>();
  sb.resource<{ id: number; text: string }>('/users/:user/notes', {
    create: (body, req) => {
      const list = notes.get(req.params.user!) ?? [];
      const note = { id: list.length + 1, text: String(body.text) };
      notes.set(req.params.user!, [...list, note]);
      return note;
    },
    get: (id, req) => notes.get(req.params.user!)?.find((note) => String(note.id) === id),
  });
  const note = await send(`${api}/users/ann/notes`, 'POST', { text: 'hi' });
  assert.equal(note.status, 201);
  assert.equal(note.headers.get('location'), `${api}/users/ann/notes/1`);
  assert.deepEqual(await (await fetch(`${api}/users/ann/notes/1`)).json(), { id: 1, text: 'hi' });
  await expectCode(await fetch(`${api}/users/bob/notes/1`), 404, 'SB_ERR_RESOURCE_NOT_FOUND');
  // Bad arguments are refused at once.
  assert.throws(() => sb.resource('/bad', {}), { code: 'SB_ERR_OPTIONS_INVALID' });
  assert.throws(() => sb.resource('/bad', { fetch: () => 1 } as never), {
    code: 'SB_ERR_OPTIONS_INVALID',
  });
  // Withdrawn like any endpoint: no provider left for either path.
  withdraw();
  await expectCode(await fetch(`${api}/things`), 503, 'SB_ERR_HTTP_NO_PROVIDER');
  await expectCode(await fetch(`${api}/things/1`), 503, 'SB_ERR_HTTP_NO_PROVIDER');
});

test('q parsing and the in-memory helper, without a server', () => {
  const fields = new Set(['a', 'b']);
  const parsed = parseSearchQuery(
    '{"filters":[{"or":[{"name":"a","op":"gte","val":2},{"name":"b","op":"is_null"}]}],"order_by":[{"field":"a","direction":"desc"}]}',
    fields,
  );
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.query.filters, [
    {
      or: [
        { name: 'a', op: 'ge', val: 2 },
        { name: 'b', op: 'is_null' },
      ],
    },
  ]);
  const rows = [{ a: 1, b: 'x' }, { a: 3, b: 'y' }, { a: 1 }, { a: 2, b: 'z' }];
  const result = applyListQuery(rows, { page: 1, perPage: 2, ...parsed.query });
  assert.deepEqual(result, {
    items: [
      { a: 3, b: 'y' },
      { a: 2, b: 'z' },
    ],
    total: 3,
  });
  // Bounded work: too deep or too many filters are refused.
  let deep: unknown = { name: 'a', op: 'eq', val: 1 };
  for (let i = 0; i < 12; i++) deep = { and: [deep] };
  assert.equal(parseSearchQuery(JSON.stringify({ filters: [deep] }), fields).ok, false);
  const many = Array.from({ length: 101 }, () => ({ name: 'a', op: 'eq', val: 1 }));
  assert.equal(parseSearchQuery(JSON.stringify({ filters: many }), fields).ok, false);
  let nested: unknown = { name: 'x', op: 'eq', val: 1 };
  for (let i = 0; i < 120; i++) nested = { name: 'x', op: 'has', val: nested };
  const hasChain = parseSearchQuery(
    JSON.stringify({ filters: [{ name: 'a', op: 'has', val: nested }] }),
    fields,
  );
  assert.equal(hasChain.ok, false);
  assert.ok(parseSearchQuery(undefined, fields).ok);
});
