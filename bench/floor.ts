// npm run bench:floor — the bare round trip between two processes (see lib/floor.ts); `npm run
// bench` measures it too, in the same run as the figures compared with it.
import { measureFloor } from './lib/floor.ts';

const floor = await measureFloor();
for (const [name, { p50, p99, count }] of Object.entries(floor)) {
  console.log(
    `bare ${name === 'ws' ? 'WebSocket' : 'TCP socket'} round trip between two processes: p50 ${p50} µs, p99 ${p99} µs (${count} round trips)`,
  );
}
