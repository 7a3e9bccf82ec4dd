// npm run bench:profile -- --scenario switchboard-uplink --route get [--duration 5] [--connections 50]
// (scenarios: ceiling, switchboard-inprocess, switchboard-uplink, anvil-uplink: GET only, the
// real Python Anvil client as the uplink, see bench/anvil.ts)
// Starts one scenario with `node --cpu-prof` on its server (and uplink) processes, loads it with
// the bench's load generator, stops everything by PID and prints self time per request, grouped
// by where the code lives (Node internals, Fastify, ws, msgpackr, Switchboard, GC, …) and by
// function. Profiles are kept in bench/results/profiles/.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROUTES, group, startScenario } from './lib/profiled-scenario.ts';
import { ROOT, startScript, stop, stopAll } from './lib/processes.ts';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'switchboard-uplink' },
    route: { type: 'string', default: 'get' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    /** Fixed request rate (req/s), to compare processes at the same load. */
    rate: { type: 'string' },
    top: { type: 'string', default: '25' },
    /** Also print the call paths (3 frames up) of samples whose function has this name. */
    callers: { type: 'string' },
  },
});
const route = ROUTES[values.route]!;
const dir = path.join(ROOT, 'bench', 'results', 'profiles', `${values.scenario}-${values.route}`);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
// One folder per process (the tsx loader thread writes a profile of its own, skipped below).
const prof = (name: string) => ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, name)}`];

const { base, procs } = await startScenario(values.scenario, prof);
const load = startScript('load', 'bench/load/http-load.ts', {
  BENCH_TARGET: `${base}${route.path}`,
  BENCH_METHOD: route.method,
  BENCH_BODY_BYTES: String(route.bodyBytes),
  BENCH_CONNECTIONS: values.connections,
  BENCH_DURATION_S: values.duration,
  ...(values.rate === undefined ? {} : { BENCH_RATE: values.rate }),
});
const result = JSON.parse(
  (await load.line(/^result /, (Number(values.duration) + 60) * 1000)).replace(/^result /, ''),
) as { rps: number };
await stop(load);
for (const p of procs) await stop(p);
await stopAll();
const requests = result.rps * Number(values.duration);
console.log(`${values.scenario} ${values.route}: ${Math.round(result.rps)} req/s (profiled)`);

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

for (const file of readdirSync(dir, { recursive: true }).map(String).sort()) {
  if (!file.endsWith('.cpuprofile')) continue;
  const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Profile;
  // The loader thread of tsx: a few hundred ms of compiling at start, nothing per request.
  if (profile.samples.length < 2000) continue;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) =>
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)),
  );
  const groups = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const g = group(url, functionName);
    if (functionName === '(idle)') continue;
    total += us;
    groups.set(g, (groups.get(g) ?? 0) + us);
    const key = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1} [${g}]`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const per = (us: number) => (us / requests).toFixed(2).padStart(7);
  console.log(`\n${file}: ${(total / 1e6).toFixed(2)} s busy, ${per(total)} µs/request`);
  for (const [g, us] of [...groups].sort((a, b) => b[1] - a[1]))
    console.log(`  ${per(us)} µs  ${g}`);
  console.log('  top functions (self):');
  for (const [f, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)))
    console.log(`  ${per(us)} µs  ${f}`);
  // Inclusive time of every function (each counted once per sample), to see where subtrees go.
  const inclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const { functionName, url, lineNumber } = byId.get(at)!.callFrame;
      if (functionName === '(idle)' || functionName === '(root)') continue;
      const key = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  console.log('  top functions (inclusive):');
  for (const [f, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)))
    console.log(`  ${per(us)} µs  ${f}`);
  if (values.callers !== undefined) {
    const paths = new Map<string, number>();
    for (const [id, us] of self) {
      if (byId.get(id)!.callFrame.functionName !== values.callers) continue;
      const chain: string[] = [];
      for (
        let at = parent.get(id);
        at !== undefined && chain.length < Number(process.env.PROFILE_DEPTH ?? 4);
        at = parent.get(at)
      ) {
        const { functionName, url, lineNumber } = byId.get(at)!.callFrame;
        chain.push(`${functionName || '(anon)'}@${url.split('/').pop()}:${lineNumber + 1}`);
      }
      const key = chain.join(' < ');
      paths.set(key, (paths.get(key) ?? 0) + us);
    }
    console.log(`  callers of ${values.callers}:`);
    for (const [chain, us] of [...paths].sort((a, b) => b[1] - a[1]).slice(0, 12))
      console.log(`  ${per(us)} µs  ${chain}`);
  }
}
