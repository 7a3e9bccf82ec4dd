/**
 * Runs `work` and returns how far the RSS of this process peaked above its start (sampled every
 * 10 ms): in tests whose uplinks are child processes, that is the server's own growth.
 */
export async function peakRssGrowthMiB<T>(
  work: () => Promise<T>,
): Promise<{ growthMiB: number; result: T }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  try {
    const result = await work();
    return { growthMiB: (peak - before) / 1024 / 1024, result };
  } finally {
    clearInterval(sampler);
  }
}
