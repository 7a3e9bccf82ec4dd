// The transport floor without WebSocket: a bare TCP server echoing every chunk.
import { createServer } from 'node:net';

const server = createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('data', (chunk) => socket.write(chunk));
});
server.listen(0, '127.0.0.1', () =>
  console.log(`ready ${(server.address() as { port: number }).port}`),
);
process.once('SIGTERM', () => server.close(() => process.exit(0)));
