import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import type { Json } from './helpers/http-client.ts';
import { SERVER_KEY, startServer } from './helpers/server.ts';
import { launchLoop, serveLoop } from './helpers/tasks.ts';

const AUTH = { authorization: `Bearer ${SERVER_KEY}` };

async function documentOf(url: string, headers: Record<string, string> = {}): Promise<Json> {
  const doc = (await (await fetch(`${url}/_/openapi.json`, { headers })).json()) as Json;
  const validator = new Validator();
  const result = await validator.validate(structuredClone(doc));
  assert.equal(result.valid, true, JSON.stringify(result.errors));
  assert.doesNotThrow(() => validator.resolveRefs());
  return doc;
}

/** A JSON pointer into the document, for Ajv to validate answers against its schemas. */
function pointer(...tokens: string[]): string {
  return `doc#/${tokens.map((token) => token.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;
}

test('/_/openapi.json describes /_/tasks (launch, read, kill; the list for server keys), and real answers match it', async (t) => {
  const { sb, url } = await startServer(t);
  // No function a client may call: nothing to launch, no task routes in the public document.
  sb.callable('ops.double', (n: number) => n * 2);
  const none = await documentOf(url);
  assert.deepEqual(none.paths, {});

  sb.callable('ops.public', () => 'hi', { allowClients: true });
  serveLoop(sb);
  const pub = await documentOf(url);
  const publicPaths = pub.paths as Record<string, Record<string, Json>>;
  assert.deepEqual(Object.keys(publicPaths).sort(), ['/_/call/ops.public', '/_/tasks/{target}']);
  const item = publicPaths['/_/tasks/{target}']!;
  assert.deepEqual(Object.keys(item).sort(), ['delete', 'get', 'post']);
  assert.equal(item.post!.operationId, 'tasks.launch');
  assert.deepEqual(Object.keys(item.post!.responses as Json).sort(), [
    '202',
    '400',
    '404',
    'default',
  ]);
  const waitMs = (item.get!.parameters as Json[]).find((p) => p.name === 'waitMs')!;
  assert.deepEqual(waitMs.schema, { type: 'integer', minimum: 0, maximum: 30_000 });
  assert.ok('404' in (item.delete!.responses as Json));

  const trusted = await documentOf(url, AUTH);
  const paths = trusted.paths as Record<string, Record<string, Json>>;
  assert.deepEqual(
    Object.keys(paths).filter((path) => path.startsWith('/_/tasks')),
    ['/_/tasks/{target}', '/_/tasks'],
  );
  const list = paths['/_/tasks']!.get!;
  assert.deepEqual(list.security, [{ bearerAuth: [] }]);
  assert.deepEqual(
    (list.parameters as Json[]).map((p) => p.name),
    ['name', 'status', 'page', 'results_per_page'],
  );
  assert.deepEqual(Object.keys(list.responses as Json).sort(), ['200', '400', '403']);

  // Real answers of the door match the documented schemas.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajvFormats.default(ajv);
  ajv.addSchema({ $id: 'doc', ...trusted });
  const check = (ref: string, value: unknown) => {
    const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
    assert.equal(validate(value), true, `${ref}: ${JSON.stringify(validate.errors)}`);
  };
  const json = ['content', 'application/json', 'schema'];
  const launched = await fetch(`${url}/_/tasks/ops.double`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: '[21]',
  });
  assert.equal(launched.status, 202);
  const accepted = (await launched.json()) as { id: string };
  check(pointer('paths', '/_/tasks/{target}', 'post', 'responses', '202', ...json), accepted);
  const done = await fetch(`${url}/_/tasks/${accepted.id}?waitMs=10000`, { headers: AUTH });
  const doneBody = (await done.json()) as Json;
  assert.equal(doneBody.status, 'completed');
  check(pointer('paths', '/_/tasks/{target}', 'get', 'responses', '200', ...json), doneBody);
  const loop = await launchLoop(sb);
  const killed = await fetch(`${url}/_/tasks/${loop.id}`, { method: 'DELETE', headers: AUTH });
  check(
    pointer('paths', '/_/tasks/{target}', 'delete', 'responses', '200', ...json),
    await killed.json(),
  );
  const page = await fetch(`${url}/_/tasks?results_per_page=5`, { headers: AUTH });
  const pageBody = (await page.json()) as { objects: unknown[] };
  assert.equal(pageBody.objects.length, 2);
  check(pointer('paths', '/_/tasks', 'get', 'responses', '200', ...json), pageBody);
  const missing = await fetch(`${url}/_/tasks/tsk_AAAAAAAAAAAAAAAAAAAAAA`, { headers: AUTH });
  assert.equal(missing.status, 404);
  check(pointer('components', 'schemas', 'SwitchboardError'), await missing.json());
});
