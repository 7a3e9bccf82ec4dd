import { SwitchboardError } from '../errors/switchboard-error.ts';

/**
 * How much structure one decoded message may have. Checked before anything is built, so a
 * hostile message costs a linear scan of its bytes and nothing else.
 */
export interface DecodeLimits {
  /** Containers (arrays, maps) nested inside one another, at most. */
  maxDepth: number;
  /**
   * Values in one message, at most; every token counts: containers, scalars, map keys, each
   * frame of a batched message.
   */
  maxValues: number;
}

/** Deepest `maxDepth` accepted: the decoder recurses once per level. */
export const MAX_DECODE_DEPTH = 1000;

/** The budgets used when a caller passes none. */
export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  /** @default 64 */
  maxDepth: 64,
  /** @default 1_000_000 */
  maxValues: 1_000_000,
});

/** Throws SB_ERR_OPTIONS_INVALID unless both limits are positive integers in range. */
export function checkDecodeLimits(limits: DecodeLimits): void {
  if (limits === DEFAULT_DECODE_LIMITS) return;
  const { maxDepth, maxValues } = limits;
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > MAX_DECODE_DEPTH) {
    throw new SwitchboardError(
      'SB_ERR_OPTIONS_INVALID',
      `maxDepth must be an integer from 1 to ${MAX_DECODE_DEPTH}, not ${String(maxDepth)}`,
    );
  }
  if (!Number.isSafeInteger(maxValues) || maxValues < 1) {
    throw new SwitchboardError(
      'SB_ERR_OPTIONS_INVALID',
      `maxValues must be a positive integer, not ${String(maxValues)}`,
    );
  }
}
