// npm run bench:floor — the round trip of one small message between two Node processes on
// 127.0.0.1, over a bare WebSocket and over a bare TCP socket: the floor under the latency a hop
// to an uplink adds. The two are measured alternately in blocks so a noisy neighbour hits both.
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { startScript, stopAll } from './lib/processes.ts';

const BLOCKS = 10;
const PER_BLOCK = 500;
const payload = Buffer.alloc(64);

const wsServer = startScript('ws-echo', 'bench/servers/ws-echo.ts');
const tcpServer = startScript('tcp-echo', 'bench/servers/tcp-echo.ts');
const wsUrl = (await wsServer.line(/^ready /)).replace(/^ready /, '');
const tcpPort = Number((await tcpServer.line(/^ready /)).replace(/^ready /, ''));

const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
await new Promise((resolve) => ws.once('open', resolve));
const tcp: Socket = connect(tcpPort, '127.0.0.1');
tcp.setNoDelay(true);
await new Promise((resolve) => tcp.once('connect', resolve));

async function wsRoundTrip(): Promise<number> {
  const started = performance.now();
  await new Promise((resolve) => {
    ws.once('message', resolve);
    ws.send(payload);
  });
  return (performance.now() - started) * 1000;
}

async function tcpRoundTrip(): Promise<number> {
  const started = performance.now();
  await new Promise<void>((resolve) => {
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received < payload.length) return;
      tcp.off('data', onData);
      resolve();
    };
    tcp.on('data', onData);
    tcp.write(payload);
  });
  return (performance.now() - started) * 1000;
}

const times = { ws: [] as number[], tcp: [] as number[] };
for (let block = 0; block < BLOCKS; block++) {
  for (let i = 0; i < PER_BLOCK; i++) times.ws.push(await wsRoundTrip());
  for (let i = 0; i < PER_BLOCK; i++) times.tcp.push(await tcpRoundTrip());
}
for (const [name, list] of Object.entries(times)) {
  list.sort((a, b) => a - b);
  const at = (q: number) => Math.round(list[Math.floor(q * (list.length - 1))]!);
  console.log(
    `bare ${name === 'ws' ? 'WebSocket' : 'TCP socket'} round trip between two processes: p50 ${at(0.5)} µs, p99 ${at(0.99)} µs (${list.length} round trips)`,
  );
}
ws.close();
tcp.destroy();
await stopAll();
