// The round trip of one small message between two Node processes on 127.0.0.1, over a bare
// WebSocket and over a bare TCP socket: the floor under the latency a hop to an uplink adds.
// The two are measured alternately in blocks so a noisy neighbour hits both.
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { startScript, stop } from './processes.ts';

const payload = Buffer.alloc(64);

export interface Floor {
  /** Round trip percentiles, µs. */
  ws: { p50: number; p99: number; count: number };
  tcp: { p50: number; p99: number; count: number };
}

export async function measureFloor(blocks = 10, perBlock = 500): Promise<Floor> {
  const wsServer = startScript('ws-echo', 'bench/servers/ws-echo.ts');
  const tcpServer = startScript('tcp-echo', 'bench/servers/tcp-echo.ts');
  try {
    const wsUrl = (await wsServer.line(/^ready /)).replace(/^ready /, '');
    const tcpPort = Number((await tcpServer.line(/^ready /)).replace(/^ready /, ''));
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
    await new Promise((resolve) => ws.once('open', resolve));
    const tcp: Socket = connect(tcpPort, '127.0.0.1');
    tcp.setNoDelay(true);
    await new Promise((resolve) => tcp.once('connect', resolve));

    const wsRoundTrip = async (): Promise<number> => {
      const started = performance.now();
      await new Promise((resolve) => {
        ws.once('message', resolve);
        ws.send(payload);
      });
      return (performance.now() - started) * 1000;
    };
    const tcpRoundTrip = async (): Promise<number> => {
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
    };

    const times = { ws: [] as number[], tcp: [] as number[] };
    for (let block = 0; block < blocks; block++) {
      for (let i = 0; i < perBlock; i++) times.ws.push(await wsRoundTrip());
      for (let i = 0; i < perBlock; i++) times.tcp.push(await tcpRoundTrip());
    }
    ws.close();
    tcp.destroy();
    const stats = (list: number[]) => {
      list.sort((a, b) => a - b);
      const at = (q: number) => Math.round(list[Math.floor(q * (list.length - 1))]!);
      return { p50: at(0.5), p99: at(0.99), count: list.length };
    };
    return { ws: stats(times.ws), tcp: stats(times.tcp) };
  } finally {
    await Promise.all([stop(wsServer), stop(tcpServer)]);
  }
}
