// One load measurement with autocannon, run in its own process. Latency is recorded per
// response (autocannon's own histogram has whole-millisecond resolution).
import autocannon from 'autocannon';
import { jsonBody } from '../lib/handlers.ts';

const url = process.env.BENCH_TARGET!;
const method = (process.env.BENCH_METHOD ?? 'GET') as 'GET' | 'POST';
const bodyBytes = Number(process.env.BENCH_BODY_BYTES ?? 0);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const duration = Number(process.env.BENCH_DURATION_S ?? 5);
/** Fixed total request rate (req/s) instead of as fast as possible: for CPU cost per request. */
const rate = process.env.BENCH_RATE === undefined ? undefined : Number(process.env.BENCH_RATE);
const body = bodyBytes > 0 ? jsonBody(bodyBytes) : undefined;

const latencies: number[] = [];
const result = await new Promise<autocannon.Result>((resolve, reject) => {
  const instance = autocannon(
    {
      url,
      method,
      connections,
      duration,
      ...(rate === undefined ? {} : { overallRate: rate }),
      ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
    },
    (error: Error | null, done) => (error ? reject(error) : resolve(done)),
  );
  instance.on('response', (_client, _status, _bytes, responseTime) => {
    latencies.push(responseTime);
  });
});
latencies.sort((a, b) => a - b);
const at = (q: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
console.log(
  `result ${JSON.stringify({
    rps: result.requests.total / duration,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    samples: latencies.length,
  })}`,
);
// BENCH_HOLD=1: stay until stopped, so the measurement still finds this process's CPU time.
if (process.env.BENCH_HOLD === '1') setInterval(() => undefined, 60_000);
