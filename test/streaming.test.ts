import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { test, type TestContext } from 'node:test';
import { SwitchboardError, getCallContext } from '@switchboard/server';
import { connect } from '@switchboard/uplink';
import { spawnScript, type Child } from './helpers/child.ts';
import { peakRssGrowthMiB } from './helpers/memory.ts';
import { SERVER_KEY, startServer, until, type TestServer } from './helpers/server.ts';

/** Peak RSS growth allowed while 200 MiB pass through the server (and the reading client). */
const RSS_GROWTH_BOUND_MIB = 128;

async function withStreamUplink(
  t: Parameters<typeof startServer>[0],
  options: Parameters<typeof startServer>[1] = {},
): Promise<TestServer & { uplink: Child }> {
  const server = await startServer(t, options);
  const uplink = spawnScript(t, 'test/fixtures/stream-uplink.ts', {
    SB_URL: server.url,
    SB_KEY: SERVER_KEY,
  });
  await uplink.waitFor(/^ready$/);
  return { ...server, uplink };
}

function assertRssBound(t: TestContext, growthMiB: number, what: string): void {
  t.diagnostic(`RSS growth ${growthMiB.toFixed(1)} MiB for ${what}`);
  assert.ok(
    growthMiB < RSS_GROWTH_BOUND_MIB,
    `RSS grew by ${growthMiB.toFixed(1)} MiB for ${what} (bound ${RSS_GROWTH_BOUND_MIB} MiB)`,
  );
}

function readerOf(response: Response): ReadableStreamDefaultReader<Uint8Array> {
  return (response.body as ReadableStream<Uint8Array>).getReader();
}

function pulled(uplink: Child): number {
  const counts = uplink.lines
    .filter((line) => line.startsWith('pulled '))
    .map((line) => Number(line.slice(7)));
  return counts.length === 0 ? -1 : Math.max(...counts);
}

test('200 MiB streamed from an uplink arrive whole (SHA-256) with bounded memory', async (t) => {
  const { sb, url } = await withStreamUplink(t);
  const mib = 200;
  const expected = await sb.call('sha256OfDownload', mib);
  const { growthMiB } = await peakRssGrowthMiB(async () => {
    const response = await fetch(`${url}/_/api/download?mib=${mib}`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('transfer-encoding'), 'chunked');
    assert.equal(response.headers.get('content-type'), 'application/octet-stream');
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of response.body! as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      bytes += chunk.byteLength;
    }
    assert.equal(bytes, mib * 1024 * 1024);
    assert.equal(hash.digest('hex'), expected);
  });
  assertRssBound(t, growthMiB, `${mib} MiB downloaded`);
});

test('Node Readables, web ReadableStreams and server-sent events are streamed', async (t) => {
  const { url } = await withStreamUplink(t);
  assert.equal(await (await fetch(`${url}/_/api/readable`)).text(), 'alpha beta gamma');
  assert.equal(await (await fetch(`${url}/_/api/web`)).text(), 'one two three');
  const file = await fetch(`${url}/_/api/file`);
  assert.equal(file.headers.get('content-type'), 'text/csv');
  assert.match(file.headers.get('content-disposition') ?? '', /filename="data.csv"/);
  assert.equal(await file.text(), 'a,b\n1,2\n');
  const json = await fetch(`${url}/_/api/json-stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"a":[1,2]}',
  });
  assert.deepEqual(await json.json(), { got: { a: [1, 2] } });

  const events = await fetch(`${url}/_/api/events`);
  assert.equal(events.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  assert.equal(events.headers.get('cache-control'), 'no-cache');
  const text = await events.text();
  const parsed = text
    .trim()
    .split('\n\n')
    .map((block) =>
      Object.fromEntries(block.split('\n').map((line) => line.split(': ', 2) as [string, string])),
    );
  assert.deepEqual(parsed.slice(0, 3), [
    { event: 'tick', id: '1', data: '{"n":1}' },
    { event: 'tick', id: '2', data: '{"n":2}' },
    { event: 'tick', id: '3', data: '{"n":3}' },
  ]);
  assert.match(text, /data: multi\ndata: line\n\n$/);
});

test('a client that goes away mid-stream cancels the handler and stops the producer', async (t) => {
  const { url, uplink } = await withStreamUplink(t);
  const controller = new AbortController();
  const response = await fetch(`${url}/_/api/endless`, { signal: controller.signal });
  const reader = readerOf(response);
  let received = 0;
  while (received < 2 * 1024 * 1024) received += (await reader.read()).value?.byteLength ?? 0;
  controller.abort();
  await uplink.waitFor(/^aborted SB_ERR_CALL_CANCELLED$/);
  const stoppedAt = pulled(uplink);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(pulled(uplink), stoppedAt, 'the generator is no longer pulled');
});

test('a slow reader slows the producer: it runs at most a window and the socket buffers ahead', async (t) => {
  const { url, uplink } = await withStreamUplink(t);
  const request = http.get(`${url}/_/api/endless`);
  t.after(() => request.destroy());
  const response = await new Promise<http.IncomingMessage>((resolve) =>
    request.once('response', resolve),
  );
  response.pause(); // read nothing
  await until(() => pulled(uplink) >= 0, 5000, 'the producer to start');
  await new Promise((resolve) => setTimeout(resolve, 800));
  const first = pulled(uplink);
  await new Promise((resolve) => setTimeout(resolve, 400));
  const second = pulled(uplink);
  // 64 KiB blocks: without backpressure this would be thousands by now.
  assert.equal(second, first, 'the producer waits while nobody reads');
  assert.ok(second < 400, `produced ${second} blocks of 64 KiB with nobody reading`);
  // Reading again lets it go on.
  response.resume();
  await until(() => pulled(uplink) > second + 32, 5000, 'the producer to resume');
});

test('a provider killed mid-stream ends the response visibly incomplete', async (t) => {
  const { url, uplink } = await withStreamUplink(t);
  const response = await fetch(`${url}/_/api/endless`);
  const reader = readerOf(response);
  let received = 0;
  while (received < 1024 * 1024) received += (await reader.read()).value?.byteLength ?? 0;
  uplink.process.kill('SIGKILL');
  await assert.rejects(async () => {
    for (;;) if ((await reader.read()).done) return;
  }, 'the body must not end as if complete');
});

test('a producer that throws mid-stream, or stalls, cuts the response off', async (t) => {
  const { url } = await withStreamUplink(t, { streamStallTimeoutMs: 300 });
  const broken = await fetch(`${url}/_/api/fails`);
  assert.equal(broken.status, 200);
  await assert.rejects(broken.arrayBuffer());
  const started = Date.now();
  const stalled = await fetch(`${url}/_/api/stalls`);
  await assert.rejects(stalled.text());
  assert.ok(Date.now() - started >= 250, 'cut off by the stall timeout, not at once');
});

test('app endpoints stream too, and HEAD sends the head only', async (t) => {
  const { sb, url } = await startServer(t);
  let aborted: unknown;
  sb.httpEndpoint('/count', { methods: ['GET'] }, (req) => {
    const { signal } = getCallContext();
    signal.addEventListener('abort', () => (aborted = signal.reason as unknown));
    const upTo = Number(req.query.to ?? 'Infinity');
    return (async function* () {
      for (let i = 1; i <= upTo; i++) {
        yield `${i}\n`;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
  });
  assert.equal(await (await fetch(`${url}/_/api/count?to=5`)).text(), '1\n2\n3\n4\n5\n');
  const head = await fetch(`${url}/_/api/count?to=5`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');

  const controller = new AbortController();
  const endless = await fetch(`${url}/_/api/count`, { signal: controller.signal });
  const reader = readerOf(endless);
  await reader.read();
  controller.abort();
  await until(() => aborted !== undefined, 5000, 'the handler signal');
  assert.ok(aborted instanceof SwitchboardError);
  assert.equal(aborted.code, 'SB_ERR_CALL_CANCELLED');
});

/** Sends `mib` MiB of deterministic blocks with http.request (chunked), honouring backpressure. */
async function upload(
  url: string,
  mib: number,
  onWritten?: (bytes: number) => void,
): Promise<{ status: number; body: string; sha256: string }> {
  const hash = createHash('sha256');
  const request = http.request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
  });
  const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
    request.once('error', reject);
    request.once('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.once('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
  });
  let written = 0;
  for (let i = 0; i < mib * 4; i++) {
    const block = Buffer.alloc(256 * 1024, (i * 7) % 251);
    hash.update(block);
    written += block.byteLength;
    onWritten?.(written);
    if (!request.write(block)) {
      const drained = await Promise.race([
        new Promise((resolve) => request.once('drain', () => resolve(true))),
        answered.then(() => false),
      ]);
      if (!drained) break; // answered early (e.g. 413): stop sending
    }
  }
  request.end();
  const { status, body } = await answered;
  return { status, body, sha256: hash.digest('hex') };
}

test('200 MiB uploaded to a streaming endpoint arrive whole (SHA-256) with bounded memory', async (t) => {
  const { url } = await withStreamUplink(t);
  const mib = 200;
  const { growthMiB, result: sent } = await peakRssGrowthMiB(() =>
    upload(`${url}/_/api/upload`, mib),
  );
  assert.equal(sent.status, 200, sent.body);
  assert.deepEqual(JSON.parse(sent.body), { bytes: mib * 1024 * 1024, sha256: sent.sha256 });
  assertRssBound(t, growthMiB, `${mib} MiB uploaded`);
});

test('a slow handler slows the upload: the client is at most a window and the socket buffers ahead', async (t) => {
  const { url, uplink } = await withStreamUplink(t);
  let written = 0;
  let worstLead = 0;
  const consumed = () => {
    const lines = uplink.lines.filter((line) => line.startsWith('consumed '));
    return lines.length === 0 ? 0 : Number(lines.at(-1)!.slice(9));
  };
  const sent = await upload(`${url}/_/api/slow-upload`, 32, (bytes) => {
    written = bytes;
    worstLead = Math.max(worstLead, written - consumed());
  });
  assert.equal(sent.status, 200, sent.body);
  assert.deepEqual(JSON.parse(sent.body), { bytes: 32 * 1024 * 1024 });
  // Without backpressure the whole 32 MiB would be written long before the handler reads it.
  const leadMiB = worstLead / 1024 / 1024;
  t.diagnostic(`client ran at most ${leadMiB.toFixed(1)} MiB ahead of the handler`);
  assert.ok(leadMiB < 16, `the client ran ${leadMiB.toFixed(1)} MiB ahead of a slow handler`);
});

test('streamed bodies: echo back as a stream; over the endpoint limit is 413, by length or as it arrives', async (t) => {
  const { url } = await withStreamUplink(t);
  const echoed = await fetch(`${url}/_/api/echo-stream`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: 'streamed both ways',
  });
  assert.equal(await echoed.text(), 'streamed both ways');
  assert.equal(echoed.headers.get('content-type'), 'text/plain');

  // Content-Length over the limit: refused before reading.
  const declared = await fetch(`${url}/_/api/echo-stream`, {
    method: 'POST',
    body: Buffer.alloc(5 * 1024 * 1024),
  });
  assert.equal(declared.status, 413);
  assert.equal(((await declared.json()) as { code: string }).code, 'SB_ERR_HTTP_BODY_TOO_LARGE');

  // Chunked (no length) over the limit: the handler's read fails with the code, which becomes
  // the answer; within it, the body arrives whole.
  const chunked = await upload(`${url}/_/api/small-upload`, 5);
  assert.equal(chunked.status, 413, chunked.body);
  assert.equal((JSON.parse(chunked.body) as { code: string }).code, 'SB_ERR_HTTP_BODY_TOO_LARGE');
  const within = await upload(`${url}/_/api/small-upload`, 3);
  assert.deepEqual(JSON.parse(within.body), { bytes: 3 * 1024 * 1024 });
});

test('stream(): progressive results from an async generator, for app code, uplinks and HTTP', async (t) => {
  const { sb, url, uplink } = await withStreamUplink(t);
  const parts: unknown[] = [];
  for await (const part of sb.stream('count', 3)) parts.push(part);
  assert.deepEqual(parts, [
    { n: 1, at: new Date(0) },
    { n: 2, at: new Date(0) },
    { n: 3, at: new Date(0) },
  ]);
  // call() on a streaming function answers all parts at once; so does HTTP RPC.
  assert.equal(((await sb.call('count', 4)) as unknown[]).length, 4);
  const overHttp = await fetch(`${url}/_/call/count`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json' },
    body: '[2]',
  });
  assert.deepEqual(await overHttp.json(), [
    { n: 1, at: '1970-01-01T00:00:00.000Z' },
    { n: 2, at: '1970-01-01T00:00:00.000Z' },
  ]);

  // Uplink → uplink through the server; stopping early stops the producer (its signal fires).
  const caller = await connect({ url, key: SERVER_KEY });
  t.after(() => caller.close());
  const seen: number[] = [];
  for await (const part of caller.stream('count', Infinity)) {
    seen.push((part as { n: number }).n);
    if (seen.length === 5) break;
  }
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  await uplink.waitFor(/^count aborted SB_ERR_CALL_CANCELLED$/);

  // An app function that streams, read by an uplink.
  sb.callable('letters', async function* () {
    for (const letter of 'abc') {
      await Promise.resolve();
      yield letter;
    }
  });
  const letters: unknown[] = [];
  for await (const letter of caller.stream('letters')) letters.push(letter);
  assert.deepEqual(letters, ['a', 'b', 'c']);
  // A plain function read with stream() yields its value once.
  sb.callable('plain', () => 42);
  const plain: unknown[] = [];
  for await (const value of caller.stream('plain')) plain.push(value);
  assert.deepEqual(plain, [42]);
});
