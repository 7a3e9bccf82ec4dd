// An uplink serving the large-body routes: a streamed download and a streamed upload sink.
import { HttpResponse, connect } from '@switchboard/uplink';
import { blobSource, sink } from '../lib/large-bodies.ts';

const uplink = await connect({
  url: process.env.BENCH_URL!,
  key: process.env.BENCH_KEY!,
  name: 'bench-large',
});
uplink.httpEndpoint(
  '/blob',
  { methods: ['GET'] },
  (req) =>
    new HttpResponse(200, blobSource(Number(req.query.mib ?? '64')), {
      'content-type': 'application/octet-stream',
    }),
);
uplink.httpEndpoint(
  '/sink',
  { methods: ['POST'], maxBodyBytes: 4 * 1024 * 1024 * 1024 },
  async (req) => ({ bytes: req.body === undefined ? 0 : await sink(req.body) }),
);
await uplink.synced();
console.log('ready');
process.once('SIGTERM', () => void uplink.close().then(() => process.exit(0)));
