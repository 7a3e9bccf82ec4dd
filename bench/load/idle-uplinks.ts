// Opens BENCH_COUNT idle uplink connections (real clients) and holds them until SIGTERM.
import { connect, type Uplink } from '@switchboard/uplink';

const count = Number(process.env.BENCH_COUNT ?? 1000);
const uplinks: Uplink[] = [];
for (let opened = 0; opened < count;) {
  const batch = Math.min(100, count - opened);
  uplinks.push(
    ...(await Promise.all(
      Array.from({ length: batch }, () =>
        connect({
          url: process.env.BENCH_URL!,
          key: process.env.BENCH_KEY!,
          // A busy server may reset a few of 100 simultaneous opens: keep trying, as before.
          waitForServer: true,
          connectTimeoutMs: 60_000,
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
