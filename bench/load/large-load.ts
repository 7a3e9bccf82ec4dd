// Load for large bodies, in its own process: `transfers` sequential downloads or uploads of
// `mib` MiB each; prints one JSON line with the MiB/s of each transfer.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const [url, mode, mibText, transfersText] = process.argv.slice(2);
const mib = Number(mibText);
const transfers = Number(transfersText);
const BLOCK = Buffer.alloc(256 * 1024, 7);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function download(): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(`${url}/blob?mib=${mib}`, { agent }, (response) => {
        let bytes = 0;
        response.on('data', (chunk: Buffer) => (bytes += chunk.byteLength));
        response.once('end', () => resolve(bytes));
        response.once('error', reject);
      })
      .once('error', reject);
  });
}

async function upload(): Promise<number> {
  const request = http.request(`${url}/sink`, {
    method: 'POST',
    agent,
    headers: { 'content-type': 'application/octet-stream' },
  });
  const answered = new Promise<number>((resolve, reject) => {
    request.once('error', reject);
    request.once('response', (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.once('end', () => resolve((JSON.parse(text) as { bytes: number }).bytes));
    });
  });
  for (let i = 0; i < mib * 4; i++) {
    if (!request.write(BLOCK)) await new Promise((resolve) => request.once('drain', resolve));
  }
  request.end();
  return answered;
}

const rates: number[] = [];
for (let i = 0; i < transfers; i++) {
  const started = performance.now();
  const bytes = await (mode === 'upload' ? upload() : download());
  if (bytes !== mib * 1024 * 1024)
    throw new Error(`${mode}: got ${bytes} bytes, expected ${mib} MiB`);
  rates.push(mib / ((performance.now() - started) / 1000));
}
console.log(JSON.stringify({ rates }));
agent.destroy();
