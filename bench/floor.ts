// npm run bench:floor — the round trip of one small message between two Node processes over a
// bare WebSocket on 127.0.0.1: the floor under the latency a hop to an uplink adds.
import WebSocket from 'ws';
import { startScript, stopAll } from './lib/processes.ts';

const ROUND_TRIPS = 5000;
const server = startScript('ws-echo', 'bench/servers/ws-echo.ts');
const url = (await server.line(/^ready /)).replace(/^ready /, '');
const ws = new WebSocket(url, { perMessageDeflate: false });
await new Promise((resolve) => ws.once('open', resolve));
const times: number[] = [];
const payload = Buffer.alloc(64);
for (let i = 0; i < ROUND_TRIPS; i++) {
  const started = performance.now();
  await new Promise((resolve) => {
    ws.once('message', resolve);
    ws.send(payload);
  });
  times.push((performance.now() - started) * 1000);
}
times.sort((a, b) => a - b);
const at = (q: number) => Math.round(times[Math.floor(q * (times.length - 1))]!);
console.log(
  `bare WebSocket round trip between two processes: p50 ${at(0.5)} µs, p99 ${at(0.99)} µs (${ROUND_TRIPS} round trips)`,
);
ws.close();
await stopAll();
