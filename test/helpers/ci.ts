/** Running under CI (`CI` set and not false/0): tests that need a system package fail without it. */
export function inCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}
