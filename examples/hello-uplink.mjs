// The first uplink, in plain JavaScript: registers `add` and `greet`, then waits for calls.
//   SWITCHBOARD_URL=http://127.0.0.1:3030 SWITCHBOARD_KEY=sbk_s_... node examples/hello-uplink.mjs
/* global console, process */
import { connect, getCallContext } from '@switchboard/uplink';

const uplink = await connect({
  url: process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:3030',
  key: process.env.SWITCHBOARD_KEY ?? '',
  name: 'hello-uplink',
}).catch((error) => {
  // One line, not a stack: the code says what is wrong (SB_ERR_AUTH_BAD_KEY: the key;
  // SB_ERR_CONNECTION_FAILED: no server at that URL).
  console.error(`[hello-uplink] could not connect: ${error.code ?? 'error'}: ${error.message}`);
  process.exit(1);
});

uplink.callable('add', (a, b) => a + b);
uplink.callable('greet', (name) => {
  const { caller } = getCallContext();
  return `Hello, ${name}! (called by ${caller.kind}${caller.keyName ? ` with key ${caller.keyName}` : ''})`;
});
await uplink.synced();

uplink.on('status', (status) => console.log(`[hello-uplink] ${status.state}`));
console.log('[hello-uplink] ready: add, greet');

// Ctrl-C leaves at once; SIGTERM (a deploy) first lets the calls in flight finish: no new calls
// come from the moment the server gets the drain, and it does not reconnect afterwards.
process.once('SIGINT', () => void uplink.close().then(() => process.exit(0)));
process.once('SIGTERM', () => {
  uplink.drain({ timeoutMs: 30_000 }).then(
    () => process.exit(0),
    () => process.exit(1), // SB_ERR_DRAIN_TIMEOUT: the deadline cut some calls off
  );
});
