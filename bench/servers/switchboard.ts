// The Switchboard server. With BENCH_INPROCESS=1 the handlers are registered by app code in
// this process; otherwise uplink workers serve them.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSwitchboard } from '@switchboard/server';
import { echo, hello } from '../lib/handlers.ts';

const key = process.env.BENCH_KEY!;
const switchboard = createSwitchboard({
  // '::' (BENCH_HOST) listens on both 127.0.0.1 and ::1: the idle bench's 50,000 need two addresses.
  host: process.env.BENCH_HOST ?? '127.0.0.1',
  port: 0,
  dataDir: mkdtempSync(path.join(tmpdir(), 'sb-bench-')),
  keys: [{ name: 'bench', key, kind: 'server' }],
  maxBodyBytes: 8 * 1024 * 1024,
});
if (process.env.BENCH_INPROCESS === '1') {
  switchboard.httpEndpoint('/hello/:name', { methods: ['GET'] }, (req) =>
    hello(req.params.name ?? ''),
  );
  switchboard.httpEndpoint('/echo', { methods: ['POST'] }, (req) => echo(req.json));
}
const { url } = await switchboard.listen();
console.log(`ready ${url}`);
process.once('SIGTERM', () => void switchboard.close().then(() => process.exit(0)));
