import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

/** CPU time (s) and resident memory (KiB) of a process, read from /proc. */
export function sampleProcess(pid: number): { cpuSeconds: number; rssKiB: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return { cpuSeconds: ticks / TICKS_PER_SECOND, rssKiB: rss === null ? 0 : Number(rss[1]) };
  } catch {
    return undefined;
  }
}

/** Measures CPU% and peak RSS of `pids` while `work` runs. */
export async function measure<T>(
  pids: Record<string, number>,
  work: () => Promise<T>,
): Promise<{ result: T; usage: Record<string, { cpuPercent: number; rssMiB: number }> }> {
  const before = new Map(Object.entries(pids).map(([name, pid]) => [name, sampleProcess(pid)]));
  const peak = new Map<string, number>();
  const sampler = setInterval(() => {
    for (const [name, pid] of Object.entries(pids)) {
      const sample = sampleProcess(pid);
      if (sample !== undefined) peak.set(name, Math.max(peak.get(name) ?? 0, sample.rssKiB));
    }
  }, 200);
  const started = process.hrtime.bigint();
  try {
    const result = await work();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const usage: Record<string, { cpuPercent: number; rssMiB: number }> = {};
    for (const [name, pid] of Object.entries(pids)) {
      const after = sampleProcess(pid);
      const start = before.get(name);
      const cpu =
        after !== undefined && start !== undefined
          ? ((after.cpuSeconds - start.cpuSeconds) / seconds) * 100
          : 0;
      usage[name] = {
        cpuPercent: Math.round(cpu),
        rssMiB: Math.round(Math.max(peak.get(name) ?? 0, after?.rssKiB ?? 0) / 1024),
      };
    }
    return { result, usage };
  } finally {
    clearInterval(sampler);
  }
}
