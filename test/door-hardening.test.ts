import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { HttpResponse } from '@switchboard/shared';
import { helloClient } from './helpers/raw-client.ts';
import { SERVER_KEY, startServer } from './helpers/server.ts';

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
