// Calls per second with N calls in flight: uplink → server → uplink, or NATS request-reply.
import { connect as natsConnect } from 'nats';
import { connect } from '@switchboard/uplink';

const kind = process.env.BENCH_KIND!;
const inFlight = Number(process.env.BENCH_INFLIGHT ?? 1);
const durationMs = Number(process.env.BENCH_DURATION_S ?? 5) * 1000;
const payload = { id: 42, name: 'widget', tags: ['a', 'b'], price: 9.5 };

let call: () => Promise<unknown>;
let close: () => Promise<void>;
if (kind === 'nats' || kind === 'nats-inbox') {
  // NATS at its best: no async stack traces; `nats` uses request() (one shared mux inbox),
  // `nats-inbox` publishes with its own reply subscription and matches answers itself.
  const nc = await natsConnect({
    servers: process.env.BENCH_NATS!,
    waitOnFirstConnect: true,
    noAsyncTraces: true,
  });
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const body = () => encoder.encode(JSON.stringify(payload));
  if (kind === 'nats') {
    call = async () =>
      JSON.parse(
        decoder.decode((await nc.request('bench.rpc', body(), { timeout: 30_000 })).data),
      ) as unknown;
  } else {
    const inbox = `_INBOX.bench.${process.pid}`;
    const waiting = new Map<string, (value: unknown) => void>();
    let next = 0;
    nc.subscribe(`${inbox}.*`, {
      callback: (_error, msg) => {
        const id = msg.subject.slice(inbox.length + 1);
        waiting.get(id)?.(JSON.parse(decoder.decode(msg.data)));
        waiting.delete(id);
      },
    });
    await nc.flush();
    call = () =>
      new Promise((resolve) => {
        const id = String(next++);
        waiting.set(id, resolve);
        nc.publish('bench.rpc', body(), { reply: `${inbox}.${id}` });
      });
  }
  close = () => nc.close();
} else {
  const uplink = await connect({
    url: process.env.BENCH_URL!,
    key: process.env.BENCH_KEY!,
    name: 'bench-caller',
  });
  call = () => uplink.call('echo', payload);
  close = () => uplink.close();
}

const latencies: number[] = [];
let errors = 0;
const deadline = performance.now() + durationMs;
async function worker(): Promise<void> {
  while (performance.now() < deadline) {
    const start = performance.now();
    try {
      await call();
      latencies.push(performance.now() - start);
    } catch {
      errors++;
    }
  }
}
const started = performance.now();
await Promise.all(Array.from({ length: inFlight }, worker));
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const at = (q: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
console.log(
  `result ${JSON.stringify({ rps: latencies.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), errors, non2xx: 0, samples: latencies.length })}`,
);
await close();
process.exit(0);
