/**
 * Delay before reconnect attempt `attempt` (1-based): exponential from `initialDelayMs`,
 * capped at `maxDelayMs`, with full jitter so a fleet of uplinks does not reconnect in step.
 */
export function backoffDelayMs(
  attempt: number,
  policy: { initialDelayMs: number; maxDelayMs: number },
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * 2 ** Math.max(0, attempt - 1),
  );
  // Never below a tenth of the initial delay, so a tight loop cannot happen.
  return Math.max(policy.initialDelayMs / 10, Math.round(ceiling * random()));
}
