import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { HttpResponse, SwitchboardError, type StreamedBody } from '@switchboard/shared';
import { resolveOptions } from '../server/src/options.ts';
import { helloClient } from './helpers/raw-client.ts';
import { CLIENT_KEY, SERVER_KEY, startServer } from './helpers/server.ts';

/** One answer as it came off the socket: status line, header lines (lower-case names), body. */
interface RawAnswer {
  statusLine: string;
  headers: Array<[string, string]>;
  body: string;
  /** Whether the server closed the connection after the answer. */
  closed: boolean;
}

/**
 * Sends `head` (CRLF lines, no final blank line) plus `body` over a plain TCP socket and reads
 * until the server closes it, or until `timeoutMs` (then `closed` is false).
 */
function rawExchange(
  url: string,
  head: string[],
  options: { body?: string; timeoutMs?: number } = {},
): Promise<RawAnswer> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const lines = (split === -1 ? text : text.slice(0, split)).split('\r\n');
      const headers = lines.slice(1).map((line): [string, string] => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
      });
      resolve({
        statusLine: lines[0] ?? '',
        headers,
        body: split === -1 ? '' : text.slice(split + 4),
        closed,
      });
    };
    const timer = setTimeout(finish, options.timeoutMs ?? 3000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      closed = true;
      finish();
    });
    socket.on('error', reject);
    socket.write(`${head.join('\r\n')}\r\n\r\n${options.body ?? ''}`);
  });
}

function get(path: string, extra: string[] = []): string[] {
  return [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...extra];
}

function values(answer: RawAnswer, name: string): string[] {
  return answer.headers.filter(([key]) => key === name).map(([, value]) => value);
}

test('a handler cannot frame the answer: framing and hop-by-hop headers are dropped', async (t) => {
  const { sb, url } = await startServer(t);
  sb.httpEndpoint(
    '/te',
    {},
    () => new HttpResponse(200, 'hello', { 'Transfer-Encoding': 'chunked' }),
  );
  sb.httpEndpoint(
    '/keep',
    {},
    () => new HttpResponse(200, 'hi', { Connection: 'keep-alive', 'Keep-Alive': 'timeout=600' }),
  );
  sb.httpEndpoint('/trailer', {}, () => new HttpResponse(200, 'x', { Trailer: 'x-checksum' }));
  sb.httpEndpoint(
    '/named',
    {},
    () =>
      new HttpResponse(200, 'x', {
        Connection: 'X-Secret, upgrade',
        'X-Secret': 'internal',
        Upgrade: 'websocket',
        TE: 'trailers',
        'Proxy-Connection': 'keep-alive',
        'Content-Length': '999',
        'X-Kept': 'yes',
      }),
  );
  sb.httpEndpoint('/head', { methods: ['GET'] }, (request) =>
    request.method === 'HEAD'
      ? new HttpResponse(200, undefined, { 'content-length': '1234', 'content-type': 'text/plain' })
      : 'full body',
  );
  sb.httpEndpoint('/stream', {}, () => {
    async function* parts(): AsyncGenerator<string> {
      yield 'a';
      await new Promise((resolve) => setImmediate(resolve));
      yield 'b';
    }
    return new HttpResponse(200, parts(), {
      'Transfer-Encoding': 'gzip, chunked',
      'Content-Length': '2',
      Connection: 'keep-alive',
    });
  });

  const te = await rawExchange(url, get('/_/api/te'));
  assert.equal(te.statusLine, 'HTTP/1.1 200 OK');
  assert.deepEqual(values(te, 'transfer-encoding'), []);
  assert.deepEqual(values(te, 'content-length'), ['5']);
  assert.equal(te.body, 'hello');

  // The client's Connection: close wins over the handler's keep-alive.
  const keep = await rawExchange(url, get('/_/api/keep'));
  assert.deepEqual(values(keep, 'connection'), ['close']);
  assert.deepEqual(values(keep, 'keep-alive'), []);
  assert.equal(keep.closed, true);
  assert.equal(keep.body, 'hi');

  const trailer = await rawExchange(url, get('/_/api/trailer'));
  assert.equal(trailer.statusLine, 'HTTP/1.1 200 OK');
  assert.deepEqual(values(trailer, 'trailer'), []);
  assert.equal(trailer.body, 'x');

  const named = await rawExchange(url, get('/_/api/named'));
  assert.equal(named.statusLine, 'HTTP/1.1 200 OK');
  for (const name of ['x-secret', 'upgrade', 'te', 'proxy-connection'])
    assert.deepEqual(values(named, name), [], name);
  assert.deepEqual(values(named, 'content-length'), ['1']);
  assert.deepEqual(values(named, 'connection'), ['close']);
  assert.deepEqual(values(named, 'x-kept'), ['yes']);

  // HEAD without a body may say how long GET's body is.
  const head = await rawExchange(url, [
    'HEAD /_/api/head HTTP/1.1',
    'Host: x',
    'Connection: close',
  ]);
  assert.deepEqual(values(head, 'content-length'), ['1234']);
  assert.equal(head.body, '');

  // A streamed answer is chunked by the server, once.
  const stream = await rawExchange(url, get('/_/api/stream'));
  assert.equal(stream.statusLine, 'HTTP/1.1 200 OK');
  assert.deepEqual(values(stream, 'transfer-encoding'), ['chunked']);
  assert.deepEqual(values(stream, 'content-length'), []);
  assert.deepEqual(values(stream, 'connection'), ['close']);
  assert.equal(stream.body, '1\r\na\r\n1\r\nb\r\n0\r\n\r\n');
});

test('header names or values Node refuses give a coded 500, never a broken head', async (t) => {
  const { url, wsUrl } = await startServer(t);
  const client = await helloClient(t, wsUrl, SERVER_KEY);
  client.send({ type: 'register', id: 1, endpoints: [{ path: '/raw', methods: ['GET'] }] });
  assert.equal((await client.next()).type, 'result');
  const answers: unknown[] = [
    { status: 200, headers: { 'x-bad': 'a\r\nInjected: yes' }, body: Buffer.from('no') },
    { status: 200, headers: { 'x-nul': 'a\u0000b' }, body: Buffer.from('no') },
    { status: 200, headers: { 'bad name': 'x' }, body: Buffer.from('no') },
    { status: 200, headers: { 'x-obj': { nested: true } }, body: Buffer.from('no') },
    { status: 200, headers: { 'x-list': ['ok', null] }, body: Buffer.from('no') },
    { status: 200, headers: { Trailer: 'x', 'x-fine': 'yes' }, body: Buffer.from('ok') },
  ];
  const serve = async (): Promise<void> => {
    for (const value of answers) {
      const frame = await client.next();
      if (frame.type === 'request') client.send({ type: 'result', id: frame.id, value });
    }
  };
  const served = serve();
  for (let i = 0; i < answers.length - 1; i++) {
    const bad = await rawExchange(url, get('/_/api/raw'));
    assert.equal(bad.statusLine, 'HTTP/1.1 500 Internal Server Error', `answer ${i}`);
    assert.equal(values(bad, 'injected').length, 0);
    assert.equal((JSON.parse(bad.body) as { code: string }).code, 'SB_ERR_HTTP_BAD_RESPONSE');
    assert.equal(bad.closed, true);
  }
  const fine = await rawExchange(url, get('/_/api/raw'));
  assert.equal(fine.statusLine, 'HTTP/1.1 200 OK');
  assert.deepEqual(values(fine, 'x-fine'), ['yes']);
  assert.equal(fine.body, 'ok');
  await served;
});

type LogLine = Record<string, unknown>;

/** A logger option whose JSON lines land in `lines`. */
function capture(lines: LogLine[], level = 'info'): Record<string, unknown> {
  return {
    level,
    stream: { write: (line: string) => lines.push(JSON.parse(line) as LogLine) },
  };
}

function rpc(url: string, name: string, key?: string): Promise<Response> {
  return fetch(`${url}/_/call/${name}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
    },
    body: '[]',
  });
}

const GENERIC = 'The function threw an exception';

test("public callers get a generic message and the request id for a handler's exception; the log has it all", async (t) => {
  const log: LogLine[] = [];
  const { sb, url } = await startServer(t, { logger: capture(log) });
  const fail = (): never => {
    throw new RangeError('secret detail /srv/app/db.ts');
  };
  sb.httpEndpoint('/boom', {}, fail);
  sb.httpEndpoint('/coded', {}, () => {
    throw new SwitchboardError('SB_ERR_VALIDATION', 'name is required');
  });
  sb.callable('boomFn', fail, { allowClients: true });

  const thrown = await fetch(`${url}/_/api/boom`);
  const text = await thrown.text();
  assert.equal(thrown.status, 500);
  assert.doesNotMatch(text, /secret|RangeError|db\.ts/);
  const body = JSON.parse(text) as Record<string, unknown>;
  const requestId = thrown.headers.get('x-request-id');
  assert.deepEqual(body, { code: 'SB_ERR_REMOTE_ERROR', message: GENERIC, requestId });
  const logged = log.find((line) => line.reqId === requestId && line.type !== undefined);
  assert.equal(logged?.type, 'RangeError');
  assert.equal(logged?.reason, 'secret detail /srv/app/db.ts');
  assert.match(String(logged?.stack), /door-hardening\.test\.ts/);
  assert.ok(Number(logged?.level) >= 40, 'warn or error');

  // Coded errors thrown on purpose keep their message.
  const coded = await fetch(`${url}/_/api/coded`);
  assert.deepEqual(await coded.json(), { code: 'SB_ERR_VALIDATION', message: 'name is required' });

  // /_/call: anonymous and client-key callers are public; a server key sees the exception.
  for (const key of [undefined, CLIENT_KEY]) {
    const answer = (await (await rpc(url, 'boomFn', key)).json()) as Record<string, unknown>;
    assert.deepEqual(
      [answer.code, answer.message, answer.type],
      ['SB_ERR_REMOTE_ERROR', GENERIC, undefined],
    );
    assert.equal(typeof answer.requestId, 'string');
  }
  const trusted = (await (await rpc(url, 'boomFn', SERVER_KEY)).json()) as Record<string, unknown>;
  assert.deepEqual([trusted.message, trusted.type], ['secret detail /srv/app/db.ts', 'RangeError']);
});

test('exposeErrors (or debug, or SWITCHBOARD_EXPOSE_ERRORS) shows the exception to public callers', async (t) => {
  assert.equal(resolveOptions({}, {}).exposeErrors, false);
  assert.equal(resolveOptions({ debug: true }, {}).exposeErrors, true);
  assert.equal(resolveOptions({}, { SWITCHBOARD_EXPOSE_ERRORS: '1' }).exposeErrors, true);
  assert.equal(resolveOptions({ debug: true, exposeErrors: false }, {}).exposeErrors, false);
  const { sb, url } = await startServer(t, { exposeErrors: true });
  sb.httpEndpoint('/boom', {}, () => {
    throw new RangeError('detail');
  });
  const body = (await (await fetch(`${url}/_/api/boom`)).json()) as Record<string, unknown>;
  assert.deepEqual(
    [body.code, body.message, body.type],
    ['SB_ERR_REMOTE_ERROR', 'detail', 'RangeError'],
  );
});

test('WebSocket callers with a client key get no remote stack; server keys still do', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  sb.callable(
    'boomFn',
    () => {
      throw new RangeError('oops');
    },
    { allowClients: true },
  );
  // A streamed answer that fails part-way: the stream's `end` carries the error.
  sb.callable(
    'boomStream',
    async function* () {
      yield 1;
      await Promise.resolve();
      throw new RangeError('late oops');
    },
    { allowClients: true },
  );
  for (const [key, hasStack] of [
    [CLIENT_KEY, false],
    [SERVER_KEY, true],
  ] as const) {
    const client = await helloClient(t, wsUrl, key);
    client.send({ type: 'call', id: 1, name: 'boomFn', args: [] });
    const frame = await client.next();
    assert.equal(frame.type, 'error');
    if (frame.type !== 'error') continue;
    assert.equal(frame.error.code, 'SB_ERR_REMOTE_ERROR');
    assert.equal(frame.error.stack !== undefined, hasStack, key);
    client.send({ type: 'call', id: 2, name: 'boomStream', args: [] });
    let streamed = await client.next();
    while (streamed.type !== 'end') streamed = await client.next();
    assert.equal(streamed.error?.code, 'SB_ERR_REMOTE_ERROR', key);
    assert.equal(streamed.error.stack !== undefined, hasStack, key);
  }
});

test('every error body is {code, message}: bad URLs, unknown methods, malformed HTTP, big heads', async (t) => {
  const { sb, url } = await startServer(t);
  sb.httpEndpoint('/p/:x', { methods: ['GET', 'POST'] }, () => 'ok');
  sb.callable('f', () => 'ok', { allowClients: true }); // a body is read only for a caller allowed it
  const cases: Array<[string, string[], string, number, string]> = [
    ['bad percent-encoding', get('/_/api/p/%zz'), '', 400, 'SB_ERR_HTTP_BAD_REQUEST'],
    [
      'QUERY',
      ['QUERY /_/api/p/1 HTTP/1.1', 'Host: x', 'Connection: close'],
      '',
      404,
      'SB_ERR_HTTP_NOT_FOUND',
    ],
    [
      'PROPFIND',
      ['PROPFIND /_/api/p/1 HTTP/1.1', 'Host: x', 'Connection: close'],
      '',
      404,
      'SB_ERR_HTTP_NOT_FOUND',
    ],
    ['unknown route', get('/nowhere'), '', 404, 'SB_ERR_HTTP_NOT_FOUND'],
    [
      'bad JSON to no route',
      [
        'POST /nowhere HTTP/1.1',
        'Host: x',
        'Content-Type: application/json',
        'Content-Length: 2',
        'Connection: close',
      ],
      '{x',
      404,
      'SB_ERR_HTTP_NOT_FOUND',
    ],
    [
      'bad content type for /_/call',
      [
        'POST /_/call/f HTTP/1.1',
        'Host: x',
        'Content-Type: text/plain',
        'Content-Length: 2',
        'Connection: close',
      ],
      'hi',
      415,
      'SB_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE',
    ],
    ['not HTTP at all', ['HELLO THERE'], '', 400, 'SB_ERR_HTTP_BAD_REQUEST'],
    [
      'bad Content-Length',
      ['POST /_/api/p/1 HTTP/1.1', 'Host: x', 'Content-Length: abc'],
      '',
      400,
      'SB_ERR_HTTP_BAD_REQUEST',
    ],
    [
      'a 20 KiB header',
      get('/', [`X-Big: ${'a'.repeat(20_000)}`]),
      '',
      431,
      'SB_ERR_HTTP_HEADERS_TOO_LARGE',
    ],
  ];
  for (const [what, head, body, status, code] of cases) {
    const answer = await rawExchange(url, head, { body });
    assert.equal(answer.statusLine.split(' ')[1], String(status), what);
    const parsed = JSON.parse(answer.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed).sort(), ['code', 'message'], what);
    assert.equal(parsed.code, code, what);
  }
  const tooBig = await fetch(`${url}/_/api/p/1`, {
    method: 'POST',
    body: 'x'.repeat(21 * 1024 * 1024),
  });
  assert.equal(tooBig.status, 413);
  assert.deepEqual(Object.keys((await tooBig.json()) as object).sort(), ['code', 'message']);
});

/**
 * Opens a TCP connection, writes `head` (an array: complete head lines; a string: as is) and
 * then `pieces` every `everyMs`, and reads until the server closes it (at most 10 s).
 */
function trickle(
  url: string,
  head: string[] | string,
  pieces: string[],
  everyMs: number,
): Promise<{ text: string; elapsedMs: number }> {
  const { port } = new URL(url);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let text = '';
    let next = 0;
    const timer = setInterval(() => {
      if (next < pieces.length && socket.writable) socket.write(pieces[next++]!);
    }, everyMs);
    const guard = setTimeout(() => socket.destroy(), 10_000);
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(guard);
      resolve({ text, elapsedMs: Date.now() - started });
    });
    socket.on('error', reject);
    socket.write(typeof head === 'string' ? head : `${head.join('\r\n')}\r\n\r\n`);
  });
}

test('timeouts: a slow head, a stalled body and a trickled buffered body get 408; a streamed upload that keeps sending does not', async (t) => {
  const { sb, url } = await startServer(t, {
    headersTimeoutMs: 300,
    bodyTimeoutMs: 600,
    bodyIdleTimeoutMs: 300,
  });
  sb.httpEndpoint('/buffered', { methods: ['POST'] }, () => 'ok');
  sb.httpEndpoint('/upload', { methods: ['POST'], maxBodyBytes: 1024 * 1024 }, async (request) => {
    let bytes = 0;
    for await (const chunk of request.body as StreamedBody) bytes += chunk.byteLength;
    return String(bytes);
  });
  const post = (path: string, length: number): string[] => [
    `POST ${path} HTTP/1.1`,
    'Host: x',
    'Content-Type: application/octet-stream',
    `Content-Length: ${length}`,
  ];
  const codeOf = (text: string): unknown =>
    (JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { code: unknown }).code;

  // A head that never ends.
  const head = await trickle(url, 'GET /_/api/x HTTP/1.1\r\nHost: x\r\n', [], 50);
  assert.match(head.text, /^HTTP\/1\.1 408 /);
  assert.equal(codeOf(head.text), 'SB_ERR_HTTP_REQUEST_TIMEOUT');

  // A body that stops after a few bytes.
  const stalled = await trickle(url, post('/_/api/buffered', 100), ['abc'], 10);
  assert.match(stalled.text, /^HTTP\/1\.1 408 /);
  assert.match(stalled.text, /\r\nconnection: close\r\n/i);
  assert.equal(codeOf(stalled.text), 'SB_ERR_HTTP_REQUEST_TIMEOUT');

  // A buffered body that keeps trickling past bodyTimeoutMs.
  const slow = await trickle(url, post('/_/api/buffered', 100), Array<string>(100).fill('x'), 50);
  assert.match(slow.text, /^HTTP\/1\.1 408 /);
  assert.ok(slow.elapsedMs < 3000, `cut off after ${slow.elapsedMs} ms`);

  // The same pace to a streamed endpoint: past bodyTimeoutMs, but never idle, so it completes.
  const pieces = Array<string>(20).fill('y');
  const streamed = await trickle(
    url,
    [...post('/_/api/upload', pieces.length), 'Connection: close'],
    pieces,
    50,
  );
  assert.ok(streamed.elapsedMs > 600, `took ${streamed.elapsedMs} ms`);
  assert.match(streamed.text, /^HTTP\/1\.1 200 /);
  assert.ok(streamed.text.endsWith('\r\n\r\n20'), streamed.text);
});

test('trustProxy: X-Forwarded-For and -Proto are believed from trusted proxies only', async (t) => {
  assert.throws(() => resolveOptions({ trustProxy: ['not an address'] }, {}), {
    code: 'SB_ERR_OPTIONS_INVALID',
  });
  assert.deepEqual(
    resolveOptions({}, { SWITCHBOARD_TRUST_PROXY: '10.0.0.0/8, loopback' }).trustProxy,
    ['10.0.0.0/8', 'loopback'],
  );
  assert.equal(resolveOptions({}, { SWITCHBOARD_TRUST_PROXY: '2' }).trustProxy, 2);
  const forwarded = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' };
  for (const [trustProxy, expected] of [
    [false, '127.0.0.1'],
    [['loopback'], '203.0.113.7'],
    [1, '203.0.113.7'],
    [['10.0.0.0/8'], '127.0.0.1'],
  ] as const) {
    const { sb, url } = await startServer(t, {
      trustProxy: trustProxy as never,
      rateLimit: { max: 1, windowMs: 60_000 },
    });
    sb.httpEndpoint('/who', {}, (request) => ({ ip: request.remoteAddress }));
    sb.httpEndpoint('/login', {}, (request) => {
      request.session.seen = true;
      return 'ok';
    });
    const who = await fetch(`${url}/_/api/who`, { headers: forwarded });
    assert.equal(((await who.json()) as { ip: string }).ip.replace(/^::ffff:/, ''), expected);
    // Rate limits count per client: another forwarded client is not limited by the first.
    const other = await fetch(`${url}/_/api/who`, {
      headers: { ...forwarded, 'x-forwarded-for': '203.0.113.8' },
    });
    assert.equal(other.status, expected === '127.0.0.1' ? 429 : 200, String(trustProxy));
    // The session cookie is Secure when the trusted proxy says the client came over https.
    const login = await fetch(`${url}/_/api/login`, { headers: forwarded });
    const secure = /;\s*secure/i.test(login.headers.getSetCookie().join('\n'));
    assert.equal(secure, expected !== '127.0.0.1', String(trustProxy));
    const address = sb.app.switchboard.clientAddress({
      headers: forwarded,
      socket: { remoteAddress: '127.0.0.1' },
    } as never);
    assert.equal(address, expected);
  }
});

test('the private API key never reaches the request log', async (t) => {
  const key = 'private-key-0123456789abcdef';
  const log: LogLine[] = [];
  const { sb, url } = await startServer(t, { privateApiKeys: [key], logger: capture(log) });
  sb.httpEndpoint('/hello', {}, () => 'hi');
  assert.equal(await (await fetch(`${url}/_/private_api/${key}/hello?x=1`)).text(), 'hi');
  assert.equal((await fetch(`${url}/_/private%5Fapi/${key}/nope`)).status, 404);
  assert.equal((await fetch(`${url}/_/private_api/${key}/%zz`)).status, 400);
  await sb.close();
  const text = JSON.stringify(log);
  assert.ok(log.some((line) => line.msg === 'incoming request'));
  assert.ok(!text.includes(key), 'the key is in the log');
  assert.match(text, /\/_\/private_api\/\[redacted\]\/hello\?x=1/);
});
