import type { Sample } from '../report.ts';
import { measure } from './proc-stats.ts';
import { startScript, stop } from './processes.ts';

/**
 * One measurement: a load script (`bench/load/*.ts`) in its own process for `durationS`, with the
 * CPU and RSS of the `watch`ed processes (name → PID) and of the load itself over the window.
 */
export async function runLoad(
  script: string,
  env: Record<string, string>,
  watch: Record<string, number>,
  durationS: number,
): Promise<Sample> {
  const load = startScript('load', script, { ...env, BENCH_DURATION_S: String(durationS) });
  const { result, usage } = await measure({ ...watch, load: load.pid }, () =>
    load.line(/^result /, (durationS + 60) * 1000),
  );
  await stop(load);
  return { ...(JSON.parse(result.replace(/^result /, '')) as Omit<Sample, 'usage'>), usage };
}
