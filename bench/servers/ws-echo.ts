// The transport floor: a bare ws server that echoes every message (no Switchboard code).
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
wss.on('listening', () =>
  console.log(`ready ws://127.0.0.1:${(wss.address() as { port: number }).port}`),
);
wss.on('connection', (ws) =>
  ws.on('message', (message, isBinary) => ws.send(message, { binary: isBinary })),
);
process.once('SIGTERM', () => wss.close(() => process.exit(0)));
