// The NATS worker: the same handlers behind request-reply subjects.
import { connect } from 'nats';
import { echo, hello } from '../lib/handlers.ts';

const nc = await connect({ servers: process.env.BENCH_NATS!, waitOnFirstConnect: true });
const decoder = new TextDecoder();
const encoder = new TextEncoder();
nc.subscribe('bench.hello', {
  callback: (_error, msg) =>
    msg.respond(encoder.encode(JSON.stringify(hello(decoder.decode(msg.data))))),
});
nc.subscribe('bench.echo', {
  callback: (_error, msg) =>
    msg.respond(encoder.encode(JSON.stringify(echo(JSON.parse(decoder.decode(msg.data)))))),
});
// Same work as a Switchboard function call: decode the arguments, encode the result.
nc.subscribe('bench.rpc', {
  callback: (_error, msg) =>
    msg.respond(encoder.encode(JSON.stringify(JSON.parse(decoder.decode(msg.data))))),
});
await nc.flush();
console.log('ready');
process.once('SIGTERM', () => void nc.drain().then(() => process.exit(0)));
