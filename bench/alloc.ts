// npm run bench:alloc -- --scenario switchboard-inprocess --route get [--rate 3000] [--duration 5]
// (scenarios as bench:profile: ceiling, switchboard-inprocess, switchboard-uplink, anvil-uplink)
// How many bytes each request allocates, and where: starts one scenario with V8's sampling heap
// profiler preloaded in its server (and uplink) processes (bench/lib/alloc-sampling.mjs,
// counting objects the garbage collector already took: allocation volume, the GC's work), warms
// it up, samples while it serves a fixed rate, and prints bytes per request per process, by
// where the code lives and by function. Sampling is statistical (one sample per KiB): compare
// scenarios in the same run, not small differences.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ROUTES, group, startScenario } from './lib/profiled-scenario.ts';
import { ROOT, startScript, stop, stopAll } from './lib/processes.ts';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'switchboard-inprocess' },
    route: { type: 'string', default: 'get' },
    duration: { type: 'string', default: '5' },
    rate: { type: 'string', default: '3000' },
    connections: { type: 'string', default: '50' },
    top: { type: 'string', default: '20' },
  },
});
const route = ROUTES[values.route];
if (route === undefined) throw new Error(`unknown route ${values.route}`);
const dir = mkdtempSync(path.join(tmpdir(), 'sb-alloc-'));
process.env.ALLOC_DIR = dir; // the scenario's processes inherit it
const preload = path.join(ROOT, 'bench', 'lib', 'alloc-sampling.mjs');

const { base, procs } = await startScenario(values.scenario, () => ['--import', preload]);
const names = new Map(procs.map((p) => [p.pid, p.name]));

/** Serves the route at the fixed rate for `seconds`; resolves with the requests served. */
async function load(seconds: number): Promise<number> {
  const generator = startScript('load', 'bench/load/http-load.ts', {
    BENCH_TARGET: `${base}${route!.path}`,
    BENCH_METHOD: route!.method,
    BENCH_BODY_BYTES: String(route!.bodyBytes),
    BENCH_CONNECTIONS: values.connections,
    BENCH_DURATION_S: String(seconds),
    BENCH_RATE: values.rate,
  });
  const line = await generator.line(/^result /, (seconds + 60) * 1000);
  await stop(generator);
  return (JSON.parse(line.replace(/^result /, '')) as { rps: number }).rps * seconds;
}

try {
  await load(2); // warm-up: the JIT and the pools settle before sampling
  writeFileSync(path.join(dir, 'start'), '');
  await sleep(200);
  const requests = await load(Number(values.duration));
  writeFileSync(path.join(dir, 'stop'), '');
  const expected = procs.filter((p) => p.name !== 'anvil').length;
  for (let waited = 0; profiles().length < expected && waited < 10_000; waited += 100)
    await sleep(100);
  console.log(`${values.scenario} ${values.route}: ${Math.round(requests)} requests sampled`);
  for (const file of profiles()) report(file, requests);
} finally {
  for (const p of procs) await stop(p);
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}

function profiles(): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.heapprofile')) : [];
}

interface SampledNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampledNode[];
}

function report(file: string, requests: number): void {
  const { head } = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as {
    head: SampledNode;
  };
  const groups = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  const walk = (node: SampledNode): void => {
    const { functionName, url, lineNumber } = node.callFrame;
    if (node.selfSize > 0) {
      total += node.selfSize;
      const where = group(url, functionName);
      groups.set(where, (groups.get(where) ?? 0) + node.selfSize);
      const fn = `${functionName || '(anon)'} ${url.split('/').pop()}:${lineNumber + 1} [${where}]`;
      fns.set(fn, (fns.get(fn) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child);
  };
  walk(head);
  const per = (bytes: number) => (bytes / requests).toFixed(0).padStart(7);
  const pid = Number(file.replace('.heapprofile', ''));
  console.log(`\n${names.get(pid) ?? pid}: ${per(total)} B allocated per request`);
  for (const [where, bytes] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, 12))
    console.log(`  ${per(bytes)} B  ${where}`);
  console.log('  top functions:');
  for (const [fn, bytes] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)))
    console.log(`  ${per(bytes)} B  ${fn}`);
}
