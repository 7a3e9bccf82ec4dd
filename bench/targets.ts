// npm run bench:targets [-- file.json …]
// The performance targets (lib/targets.ts), checked against the median of several full runs
// (default: the three newest bench/results/bench-*.json that measured every route, RPC and idle
// connections).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TARGETS, renderTargets, type Run } from './lib/targets.ts';

const RESULTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');

function load(file: string): Run {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { summary?: Record<string, number> };
  return { file: path.basename(file), summary: parsed.summary ?? {} };
}

function complete(run: Run): boolean {
  return TARGETS.every((target) => run.summary[target.key] !== undefined);
}

const given = process.argv.slice(2).filter((arg) => arg !== '--');
const runs =
  given.length > 0
    ? given.map(load)
    : readdirSync(RESULTS)
        .filter((name) => /^bench-.*\.json$/.test(name))
        .sort()
        .reverse()
        .map((name) => load(path.join(RESULTS, name)))
        .filter(complete)
        .slice(0, 3)
        .reverse();
if (runs.length === 0) {
  console.error('No complete runs found: run `npm run bench` (full mode, nats-server installed).');
  process.exit(1);
}

console.log(`Median of ${runs.length} run(s): ${runs.map((run) => run.file).join(', ')}\n`);
console.log(renderTargets(runs));
