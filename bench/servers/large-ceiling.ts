// The ceiling for large bodies: plain Fastify serving and sinking the same bytes as the uplink.
import Fastify from 'fastify';
import { blobSource, sink } from '../lib/large-bodies.ts';

const app = Fastify({ bodyLimit: 8 * 1024 * 1024 });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
app.get<{ Querystring: { mib?: string } }>('/blob', (request, reply) =>
  reply.type('application/octet-stream').send(blobSource(Number(request.query.mib ?? '64'))),
);
app.post('/sink', async (request) => ({
  bytes: await sink(request.body as AsyncIterable<Buffer>),
}));
const url = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`ready ${url}`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
