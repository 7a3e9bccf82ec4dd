import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnScript } from './helpers/child.ts';
import { SERVER_KEY, startServer } from './helpers/server.ts';

test('the to-do API example serves list, create, get, update, delete and 404 through an uplink', async (t) => {
  const { url } = await startServer(t);
  const uplink = spawnScript(t, 'examples/todo-api/uplink.ts', {
    SWITCHBOARD_URL: url,
    SWITCHBOARD_KEY: SERVER_KEY,
  });
  await uplink.waitFor(/serving \/_\/api\/tasks/);
  const api = `${url}/_/api`;
  const json = { 'content-type': 'application/json' };

  assert.deepEqual(await (await fetch(`${api}/tasks`)).json(), []);
  const created = await fetch(`${api}/tasks`, {
    method: 'POST',
    headers: json,
    body: '{"title":"Buy milk"}',
  });
  assert.equal(created.status, 201);
  const task = (await created.json()) as { id: number; title: string; done: boolean };
  assert.deepEqual([task.id, task.title, task.done], [1, 'Buy milk', false]);
  assert.equal(created.headers.get('location'), `${api}/tasks/1`);

  assert.equal(
    (await fetch(`${api}/tasks`, { method: 'POST', headers: json, body: '{}' })).status,
    400,
  );
  assert.equal(
    (await fetch(`${api}/tasks`, { method: 'POST', headers: json, body: '{oops' })).status,
    400,
  );

  const updated = await fetch(`${api}/tasks/1`, {
    method: 'PUT',
    headers: json,
    body: '{"done":true}',
  });
  assert.equal(((await updated.json()) as { done: boolean }).done, true);
  assert.equal(((await (await fetch(`${api}/tasks?done=true`)).json()) as unknown[]).length, 1);
  assert.equal(
    ((await (await fetch(`${api}/tasks/1`)).json()) as { title: string }).title,
    'Buy milk',
  );

  assert.equal((await fetch(`${api}/tasks/1`, { method: 'DELETE' })).status, 204);
  const missing = await fetch(`${api}/tasks/1`);
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { message: 'No task 1' });
  assert.equal((await fetch(`${api}/tasks/1`, { method: 'PATCH' })).status, 405);
});
