// Runs Anvil's real Python uplink client against a Switchboard server and checks every feature of
// the Anvil dialect end to end (docs/anvil.md, "Tried with the real client"). Not part of
// `npm test`: the client is not ours to commit. Export it from a snapshot of the public
// repository anvil-works/anvil-runtime (see docs/anvil.md) and point ANVIL_UPLINK_PYTHONPATH at
// its `uplink/python` folder:
//
//   ANVIL_UPLINK_PYTHONPATH=/tmp/anvil-client/uplink/python npm run anvil:real-client
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Media } from '@switchboard/shared';
import { createSwitchboard } from '@switchboard/server';

const PYTHONPATH = process.env.ANVIL_UPLINK_PYTHONPATH ?? '/tmp/anvil-client/uplink/python';
const PYTHON = process.env.ANVIL_PYTHON ?? '/usr/bin/python3';
const SERVER_KEY = 'anvil-real-client-server-key-0123456789';
const CLIENT_KEY = 'anvil-real-client-client-key-0123456789';

// The uplink script: written as an Anvil user would, using each feature the dialect serves.
const SCRIPT = String.raw`
import sys, datetime, hashlib, time
import anvil, anvil.server, anvil.users
from anvil import BlobMedia

@anvil.server.callable
def hello(name):
    return "Hello, " + name

@anvil.server.callable
def reverse_media(m):
    return BlobMedia(m.content_type, m.get_bytes()[::-1], name="reversed.bin")

@anvil.server.callable
def digest(m):
    return {"sha256": hashlib.sha256(m.get_bytes()).hexdigest(), "type": m.content_type, "name": m.name}

@anvil.server.callable
def next_day(d):
    return d + datetime.timedelta(days=1)

@anvil.server.callable
def fail():
    raise ValueError("bad thing")

@anvil.server.callable
def add_via_native(a, b):
    return anvil.server.call("native_add", a, b)

@anvil.server.callable
def big_power(n):
    return 2 ** n

@anvil.server.http_endpoint("/users/:id")
def user(id, **params):
    print("endpoint user", id)
    r = anvil.server.request
    return {"id": id, "params": params, "method": r.method, "path": r.path, "json": r.body_json}

@anvil.server.http_endpoint("/count", methods=["GET"])
def count():
    n = anvil.server.cookies.local.get("n", 0)
    anvil.server.cookies.local["n"] = n + 1
    return anvil.server.HttpResponse(201, "count %d" % n, {"X-Count": str(n)})

@anvil.server.http_endpoint("/me", authenticate_users=True)
def me():
    return {"email": anvil.users.get_user()["email"]}

@anvil.server.http_endpoint("/file")
def file():
    return BlobMedia("image/png", b"\x89PNG" + bytes(200000), name="f.png")

@anvil.server.http_endpoint("/upload", methods=["POST"])
def upload():
    b = anvil.server.request.body
    return {"length": len(b.get_bytes()), "type": b.content_type, "sha256": hashlib.sha256(b.get_bytes()).hexdigest()}

@anvil.server.http_endpoint("/cors", enable_cors=True)
def cors():
    return "ok"

@anvil.server.background_task
def count_to(n):
    for i in range(n):
        anvil.server.task_state["i"] = i
        time.sleep(0.7)
    return "counted %d" % n

@anvil.server.callable
def launch_and_follow(n):
    t = anvil.server.launch_background_task("count_to", n)
    while t.is_running():
        time.sleep(0.2)
    again = anvil.server.get_background_task(t.get_id())
    return {"id": again.get_id(), "name": t.get_task_name(), "status": t.get_termination_status(),
            "value": t.get_return_value(), "state": t.get_state(), "completed": t.is_completed(),
            "start": t.get_start_time(), "listed": [x.get_id() for x in anvil.server.list_background_tasks()]}

anvil.server.connect(sys.argv[1], url=sys.argv[2])
print("READY", flush=True)
anvil.server.wait_forever()
`;

interface Check {
  name: string;
  run: () => Promise<void> | void;
}

async function main(): Promise<void> {
  if (!existsSync(join(PYTHONPATH, 'anvil', 'server.py'))) {
    console.log(`skipped: no Anvil uplink client at ${PYTHONPATH} (set ANVIL_UPLINK_PYTHONPATH)`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'sb-anvil-real-'));
  const script = join(dir, 'uplink.py');
  await writeFile(script, SCRIPT);
  const sb = createSwitchboard({
    host: '127.0.0.1',
    port: 0,
    dataDir: join(dir, 'data'),
    keys: [
      { name: 'anvil-server', key: SERVER_KEY, kind: 'server' },
      { name: 'anvil-client', key: CLIENT_KEY, kind: 'client' },
    ],
  });
  sb.callable('native_add', (a: number, b: number) => a + b);
  await sb.users.create({ email: 'ann@example.com', password: 'correct horse' });
  const { url } = await sb.listen();
  const wsUrl = `${url.replace(/^http/, 'ws')}/_/uplink`;
  const children: ChildProcess[] = [];
  const uplink = (key: string): { child: ChildProcess; output: () => string } => {
    const child = spawn(PYTHON, ['-u', script, key, wsUrl], {
      env: { ...process.env, PYTHONPATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    return { child, output: () => output };
  };
  const hub = sb.app.switchboard.hub;
  const anvilUplinks = () => hub.uplinks().filter((u) => u.dialect === 'anvil');
  const until = async (what: string, condition: () => boolean, ms = 15_000) => {
    const start = Date.now();
    while (!condition()) {
      if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const primary = uplink(SERVER_KEY);
  const results: Array<{ name: string; ok: boolean; detail?: string }> = [];
  try {
    await until('the uplink and its 15 registrations', () =>
      anvilUplinks().some((u) => u.functions().length + u.endpoints().length === 15),
    );
    const checks: Check[] = [
      {
        name: 'connect with a server key ("Connected ... as SERVER")',
        run: () => assert.match(primary.output(), /Connected to "Switchboard" as SERVER/),
      },
      {
        name: '@callable from app code and from /_/call',
        run: async () => {
          assert.equal(await sb.call('hello', 'Ann'), 'Hello, Ann');
          const response = await fetch(`${url}/_/call/hello`, {
            method: 'POST',
            headers: { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json' },
            body: '["Bob"]',
          });
          assert.equal(await response.json(), 'Hello, Bob');
        },
      },
      {
        name: 'Media both ways, 6 MiB (BlobMedia in and out, chunked)',
        run: async () => {
          const bytes = Buffer.alloc(6 * 1024 * 1024);
          for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) % 251;
          const answer = (await sb.call(
            'reverse_media',
            new Media('application/x-test', bytes, 'in.bin'),
          )) as Media;
          assert.equal(answer.contentType, 'application/x-test');
          assert.equal(answer.name, 'reversed.bin');
          assert.ok(Buffer.from(answer.bytes).equals(Buffer.from(bytes).reverse()));
          const digest = (await sb.call('digest', new Media('text/plain', bytes, 'x.txt'))) as {
            sha256: string;
            name: string;
          };
          assert.equal(digest.sha256, createHash('sha256').update(bytes).digest('hex'));
          assert.equal(digest.name, 'x.txt');
        },
      },
      {
        name: 'dates and big ints',
        run: async () => {
          const next = (await sb.call('next_day', new Date('2024-05-06T07:08:09.123Z'))) as Date;
          assert.equal(next.toISOString(), '2024-05-07T07:08:09.123Z');
          assert.equal(await sb.call('big_power', 70), 2n ** 70n);
          assert.equal(await sb.call('big_power', 40), 2 ** 40);
        },
      },
      {
        name: 'an exception keeps its type, message and trace',
        run: async () => {
          await assert.rejects(sb.call('fail'), (error: Error & Record<string, unknown>) => {
            assert.equal(error.code, 'SB_ERR_REMOTE_ERROR');
            assert.equal(error.remoteType, 'ValueError');
            assert.equal(error.message, 'bad thing');
            assert.match(String(error.remoteStack), /uplink\.py:\d+/);
            return true;
          });
        },
      },
      {
        name: 'anvil.server.call from the uplink to an app function',
        run: async () => assert.equal(await sb.call('add_via_native', 2, 3), 5),
      },
      {
        name: 'http_endpoint with :param, query, JSON body and anvil.server.request',
        run: async () => {
          const response = await fetch(`${url}/_/api/users/42?q=1`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"a":1}',
          });
          assert.equal(response.status, 200);
          assert.deepEqual(await response.json(), {
            id: '42',
            params: { q: '1' },
            method: 'POST',
            path: '/users/42',
            json: { a: 1 },
          });
        },
      },
      {
        name: 'HttpResponse status and headers; cookies kept between requests',
        run: async () => {
          const first = await fetch(`${url}/_/api/count`);
          assert.equal(first.status, 201);
          assert.equal(first.headers.get('x-count'), '0');
          assert.equal(await first.text(), 'count 0');
          const cookie = first.headers
            .getSetCookie()
            .map((c) => c.split(';', 1)[0])
            .join('; ');
          const second = await fetch(`${url}/_/api/count`, { headers: { cookie } });
          assert.equal(await second.text(), 'count 1');
          assert.equal(second.headers.get('content-type'), 'text/plain; charset=utf-8');
        },
      },
      {
        name: 'methods= refuses others with 405 and Allow',
        run: async () => {
          const response = await fetch(`${url}/_/api/count`, { method: 'DELETE' });
          assert.equal(response.status, 405);
          assert.equal(response.headers.get('allow'), 'GET');
        },
      },
      {
        name: 'authenticate_users=True with Basic credentials (anvil.users.get_user)',
        run: async () => {
          const basic = (password: string) =>
            `Basic ${Buffer.from(`ann@example.com:${password}`).toString('base64')}`;
          const ok = await fetch(`${url}/_/api/me`, {
            headers: { authorization: basic('correct horse') },
          });
          assert.equal(ok.status, 200);
          assert.deepEqual(await ok.json(), { email: 'ann@example.com' });
          const wrong = await fetch(`${url}/_/api/me`, { headers: { authorization: basic('no') } });
          assert.equal(wrong.status, 401);
        },
      },
      {
        name: 'Media answer (content type, inline filename) and a 3 MiB upload',
        run: async () => {
          const file = await fetch(`${url}/_/api/file`);
          assert.equal(file.headers.get('content-type'), 'image/png');
          assert.equal(file.headers.get('content-disposition'), 'inline; filename="f.png"');
          assert.equal((await file.arrayBuffer()).byteLength, 200_004);
          const body = Buffer.alloc(3 * 1024 * 1024, 7);
          const upload = await fetch(`${url}/_/api/upload`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-thing' },
            body,
          });
          assert.deepEqual(await upload.json(), {
            length: body.length,
            type: 'application/x-thing',
            sha256: createHash('sha256').update(body).digest('hex'),
          });
        },
      },
      {
        name: 'enable_cors=True',
        run: async () => {
          const response = await fetch(`${url}/_/api/cors`, {
            headers: { origin: 'https://elsewhere.example' },
          });
          assert.equal(response.headers.get('access-control-allow-origin'), '*');
        },
      },
      {
        name: 'background_task: task_state polled while it runs, result; plain call refused',
        run: async () => {
          const task = sb.launch('count_to', 4);
          let state: { i?: number } | undefined;
          await until('a state while running', () => {
            void task.state().then((value) => (state = value as typeof state));
            return task.status === 'running' && (state?.i ?? 0) >= 1;
          });
          assert.equal(await task.result(), 'counted 4');
          assert.deepEqual(await task.state(), { i: 3 });
          await assert.rejects(sb.call('count_to', 1), { code: 'SB_ERR_TASK_ONLY' });
        },
      },
      {
        name: 'kill: the task ends killed; the library logs that it cannot kill',
        run: async () => {
          const task = sb.launch('count_to', 3);
          await until('running', () => task.status === 'running');
          await task.kill();
          await assert.rejects(task.result(), { code: 'SB_ERR_TASK_KILLED' });
          await until('the log line', () => /cannot be killed/.test(primary.output()));
        },
      },
      {
        name: 'launch_background_task, get_background_task, list_background_tasks, Task methods',
        run: async () => {
          const seen = (await sb.call('launch_and_follow', 2)) as Record<string, unknown>;
          assert.match(String(seen.id), /^tsk_/);
          assert.equal(seen.name, 'count_to');
          assert.equal(seen.status, 'completed');
          assert.equal(seen.value, 'counted 2');
          assert.deepEqual(seen.state, { i: 1 });
          assert.equal(seen.completed, true);
          assert.ok(seen.start instanceof Date);
          assert.ok((seen.listed as string[]).includes(String(seen.id)));
        },
      },
      {
        name: 'print output stays on the uplink console',
        run: () => assert.match(primary.output(), /endpoint user 42/),
      },
      {
        name: 'keepalive (anvil.private.echo every 10 s) keeps one connection',
        run: async () => {
          const [before] = anvilUplinks();
          await new Promise((resolve) => setTimeout(resolve, 11_000));
          assert.equal(anvilUplinks()[0]?.providerId, before?.providerId);
        },
      },
      {
        name: 'uplink loss: disconnected by the server, reconnects and re-registers',
        run: async () => {
          const [before] = anvilUplinks();
          assert.ok(before !== undefined && hub.disconnect(before.providerId));
          await until('the reconnect', () =>
            anvilUplinks().some(
              (u) => u.providerId !== before.providerId && u.functions().length === 9,
            ),
          );
          assert.equal(await sb.call('hello', 'again'), 'Hello, again');
        },
      },
      {
        name: 'wrong key: not served, keeps retrying ("Incorrect uplink key")',
        run: async () => {
          const bad = uplink('wrong-key-0123456789012345');
          await until('the refusal', () => /Incorrect uplink key/.test(bad.output()));
          bad.child.kill();
        },
      },
      {
        name: 'client key: connects as CLIENT; its REGISTERs are refused',
        run: async () => {
          const client = uplink(CLIENT_KEY);
          await until('the refusal', () => /unprivileged \(client\) uplink/.test(client.output()));
          assert.match(client.output(), /as CLIENT/);
          client.child.kill();
        },
      },
    ];
    for (const check of checks) {
      try {
        await check.run();
        results.push({ name: check.name, ok: true });
      } catch (error) {
        results.push({ name: check.name, ok: false, detail: String(error) });
      }
    }
  } finally {
    for (const child of children) child.kill();
    await sb.close();
    await rm(dir, { recursive: true, force: true });
  }
  for (const { name, ok, detail } of results)
    console.log(
      `${ok ? 'PASS' : 'FAIL'}  ${name}${detail === undefined ? '' : `\n      ${detail}`}`,
    );
  const failed = results.filter((result) => !result.ok).length;
  console.log(`\n${results.length - failed}/${results.length} passed`);
  if (failed > 0) process.exitCode = 1;
}

await main();
