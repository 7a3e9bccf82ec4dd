import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnScript } from './helpers/child.ts';
import { runCli } from './helpers/cli.ts';
import { SERVER_KEY, startServer } from './helpers/server.ts';

function basic(email: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}` };
}

test('the multi-user to-do API example: each user sees and changes only their own tasks', async (t) => {
  const { sb, url, dataDir } = await startServer(t);
  // As the example's README does it: users from the CLI, against the server's data folder.
  const added = await runCli(t, dataDir, ['users', 'add', 'alice@example.com'], 's3cret-a\n');
  assert.equal(added.code, 0, added.err);
  await sb.users.create({ email: 'bob@example.com', password: 's3cret-b' });
  const uplink = spawnScript(t, 'examples/todo-api/uplink.ts', {
    SWITCHBOARD_URL: url,
    SWITCHBOARD_KEY: SERVER_KEY,
  });
  await uplink.waitFor(/serving \/_\/api\/tasks/);
  const api = `${url}/_/api`;
  const alice = basic('alice@example.com', 's3cret-a');
  const bob = basic('bob@example.com', 's3cret-b');
  const json = { 'content-type': 'application/json' };

  // Without credentials: 401 with a Basic challenge; a wrong password: 401 SB_ERR_AUTH_FAILED.
  const anonymous = await fetch(`${api}/tasks`);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm=/);
  assert.equal(((await anonymous.json()) as { code: string }).code, 'SB_ERR_AUTH_REQUIRED');
  const wrong = await fetch(`${api}/tasks`, { headers: basic('alice@example.com', 'nope') });
  assert.equal(wrong.status, 401);
  assert.equal(((await wrong.json()) as { code: string }).code, 'SB_ERR_AUTH_FAILED');

  assert.deepEqual(await (await fetch(`${api}/tasks`, { headers: alice })).json(), {
    num_results: 0,
    total_pages: 0,
    page: 1,
    objects: [],
  });
  const created = await fetch(`${api}/tasks`, {
    method: 'POST',
    headers: { ...alice, ...json },
    body: '{"title":"Buy milk"}',
  });
  assert.equal(created.status, 201);
  const task = (await created.json()) as Record<string, unknown>;
  assert.deepEqual([task.id, task.title, task.done, task.owner], [1, 'Buy milk', false, undefined]);
  assert.equal(created.headers.get('location'), `${api}/tasks/1`);
  await fetch(`${api}/tasks`, {
    method: 'POST',
    headers: { ...bob, ...json },
    body: '{"title":"Walk the dog"}',
  });

  // Each sees only their own; someone else's task is a 404 for reading, changing and deleting.
  const titles = async (who: Record<string, string>) =>
    (
      (await (await fetch(`${api}/tasks`, { headers: who })).json()) as {
        objects: Array<{ title: string }>;
      }
    ).objects.map((item) => item.title);
  assert.deepEqual(await titles(alice), ['Buy milk']);
  assert.deepEqual(await titles(bob), ['Walk the dog']);
  assert.equal((await fetch(`${api}/tasks/1`, { headers: bob })).status, 404);
  const hijack = await fetch(`${api}/tasks/1`, {
    method: 'PATCH',
    headers: { ...bob, ...json },
    body: '{"done":true}',
  });
  assert.equal(hijack.status, 404);
  assert.equal((await fetch(`${api}/tasks/1`, { method: 'DELETE', headers: bob })).status, 404);

  assert.equal(
    (await fetch(`${api}/tasks`, { method: 'POST', headers: { ...alice, ...json }, body: '{}' }))
      .status,
    400,
  );
  // A field tasks do not have, and a PUT without the title, are refused before the uplink.
  const unknown = await fetch(`${api}/tasks/1`, {
    method: 'PATCH',
    headers: { ...alice, ...json },
    body: '{"done":true,"owner":2}',
  });
  assert.equal(unknown.status, 400);
  assert.match(((await unknown.json()) as { message: string }).message, /"owner"/);
  const partialPut = await fetch(`${api}/tasks/1`, {
    method: 'PUT',
    headers: { ...alice, ...json },
    body: '{"done":true}',
  });
  assert.equal(partialPut.status, 400);
  const updated = await fetch(`${api}/tasks/1`, {
    method: 'PATCH',
    headers: { ...alice, ...json },
    body: '{"done":true}',
  });
  assert.equal(((await updated.json()) as { done: boolean }).done, true);
  const q = encodeURIComponent('{"filters":[{"name":"done","op":"eq","val":true}]}');
  const done = await fetch(`${api}/tasks?q=${q}`, { headers: alice });
  assert.equal(((await done.json()) as { num_results: number }).num_results, 1);
  assert.equal((await fetch(`${api}/tasks/1`, { method: 'DELETE', headers: alice })).status, 204);
  assert.equal((await fetch(`${api}/tasks/1`, { headers: alice })).status, 404);
  const wrongMethod = await fetch(`${api}/tasks/1`, { method: 'POST', headers: alice });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get('allow'), 'GET, PUT, PATCH, DELETE, HEAD, OPTIONS');

  // A disabled user is refused at the door.
  await sb.users.update('bob@example.com', { enabled: false });
  const disabled = await fetch(`${api}/tasks`, { headers: bob });
  assert.equal(disabled.status, 403);
  assert.equal(((await disabled.json()) as { code: string }).code, 'SB_ERR_USER_DISABLED');
});
