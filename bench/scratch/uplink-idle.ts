import { connect } from '@switchboard/uplink';
import { echo } from '../lib/handlers.ts';
const uplink = await connect({ url: process.env.BENCH_URL!, key: process.env.BENCH_KEY!, name: 'w' });
let first: ReturnType<typeof performance.eventLoopUtilization> | undefined;
let last: ReturnType<typeof performance.eventLoopUtilization> | undefined;
let n = 0;
uplink.httpEndpoint('/echo', { methods: ['POST'] }, (req) => {
  if (!first) first = performance.eventLoopUtilization();
  n++;
  const r = echo(req.json);
  last = performance.eventLoopUtilization();
  return r;
});
await uplink.synced();
console.log('ready');
process.once('SIGTERM', () => {
  const d = performance.eventLoopUtilization(last!, first!);
  console.error(`n=${n} elu ${d.utilization.toFixed(3)} active ${d.active.toFixed(0)}ms idle ${d.idle.toFixed(0)}ms cpu ${JSON.stringify(process.cpuUsage())}`);
  process.exit(0);
});
