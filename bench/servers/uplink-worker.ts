// An uplink serving the bench handlers as HTTP endpoints and `echo` as a function.
import { connect } from '@switchboard/uplink';
import { echo, hello } from '../lib/handlers.ts';

const uplink = await connect({
  url: process.env.BENCH_URL!,
  key: process.env.BENCH_KEY!,
  name: 'bench-worker',
});
uplink.httpEndpoint('/hello/:name', { methods: ['GET'] }, (req) => hello(req.params.name ?? ''));
uplink.httpEndpoint('/echo', { methods: ['POST'] }, (req) => echo(req.json));
uplink.callable('echo', (value: unknown) => value);
await uplink.synced();
console.log('ready');
process.once('SIGTERM', () => void uplink.close().then(() => process.exit(0)));
