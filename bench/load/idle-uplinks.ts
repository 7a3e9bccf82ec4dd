// Opens BENCH_COUNT idle uplink connections (real clients), BENCH_BATCH at a time, and holds
// them until SIGTERM.
import { connect, type Uplink } from '@switchboard/uplink';

const count = Number(process.env.BENCH_COUNT ?? 1000);
const batchSize = Number(process.env.BENCH_BATCH ?? 100);
const uplinks: Uplink[] = [];
for (let opened = 0; opened < count;) {
  const batch = Math.min(batchSize, count - opened);
  uplinks.push(
    ...(await Promise.all(
      Array.from({ length: batch }, () =>
        connect({
          url: process.env.BENCH_URL!,
          key: process.env.BENCH_KEY!,
          // A busy server may refuse a few simultaneous opens: keep trying, as before.
          waitForServer: true,
          connectTimeoutMs: 120_000,
        }),
      ),
    )),
  );
  opened += batch;
}
console.log(`open ${uplinks.length}`);
process.once(
  'SIGTERM',
  () => void Promise.all(uplinks.map((u) => u.close())).then(() => process.exit(0)),
);
