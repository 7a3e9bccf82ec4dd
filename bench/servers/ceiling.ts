// The ceiling: the handlers inside a plain Fastify process.
import Fastify from 'fastify';
import { echo, hello } from '../lib/handlers.ts';

const app = Fastify({ bodyLimit: 8 * 1024 * 1024 });
app.get<{ Params: { name: string } }>('/hello/:name', (request) => hello(request.params.name));
app.post('/echo', (request) => echo(request.body));
const url = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`ready ${url}`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
