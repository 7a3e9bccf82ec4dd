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

/**
 * CPU time (s) the whole machine spent busy (user, nice, system, irq, softirq of every core)
 * since boot, from /proc/stat: with the processes' own figures, how much others used meanwhile.
 */
export function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq] = fields.slice(1).map(Number);
  return (
    ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)) / TICKS_PER_SECOND
  );
}

export interface Usage {
  cpuPercent: number;
  rssMiB: number;
  /** CPU time (utime+stime, s) over the window, unrounded: for CPU per request at low rates. */
  cpuSeconds: number;
}

/** Measures CPU% and peak RSS of `pids` while `work` runs. */
export async function measure<T>(
  pids: Record<string, number>,
  work: () => Promise<T>,
): Promise<{ result: T; usage: Record<string, Usage> }> {
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
    const usage: Record<string, Usage> = {};
    for (const [name, pid] of Object.entries(pids)) {
      const after = sampleProcess(pid);
      const start = before.get(name);
      const cpuSeconds =
        after !== undefined && start !== undefined
          ? Math.round((after.cpuSeconds - start.cpuSeconds) * 1000) / 1000
          : 0;
      usage[name] = {
        cpuPercent: Math.round((cpuSeconds / seconds) * 100),
        cpuSeconds,
        rssMiB: Math.round(Math.max(peak.get(name) ?? 0, after?.rssKiB ?? 0) / 1024),
      };
    }
    return { result, usage };
  } finally {
    clearInterval(sampler);
  }
}
