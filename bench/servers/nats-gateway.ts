// The peer a user would otherwise build: Fastify forwarding each request to a worker over NATS
// request-reply. The gateway forwards raw body bytes; the worker parses and serializes.
import Fastify from 'fastify';
import { connect } from 'nats';

const nc = await connect({ servers: process.env.BENCH_NATS!, waitOnFirstConnect: true });
const app = Fastify({ bodyLimit: 8 * 1024 * 1024 });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body: Buffer, done) =>
  done(null, body),
);
const encoder = new TextEncoder();
app.get<{ Params: { name: string } }>('/hello/:name', async (request, reply) => {
  const answer = await nc.request('bench.hello', encoder.encode(request.params.name), {
    timeout: 30_000,
  });
  return reply.type('application/json; charset=utf-8').send(Buffer.from(answer.data));
});
app.post('/echo', async (request, reply) => {
  const answer = await nc.request('bench.echo', request.body as Buffer, { timeout: 30_000 });
  return reply.type('application/json; charset=utf-8').send(Buffer.from(answer.data));
});
const url = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`ready ${url}`);
process.once(
  'SIGTERM',
  () =>
    void app
      .close()
      .then(() => nc.close())
      .then(() => process.exit(0)),
);
