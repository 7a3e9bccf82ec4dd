import { ERROR_CODES, isErrorCode, type ErrorCode } from './error-codes.ts';

/** An error as it travels in a protocol frame. */
export interface WireError {
  code: string;
  type: string;
  message: string;
  stack?: string;
  data?: unknown;
}

export interface SwitchboardErrorOptions {
  cause?: unknown;
  data?: unknown;
  /** Class name of the exception on the side that threw it (for remote errors). */
  remoteType?: string;
  /** Stack trace from the side that threw it (for remote errors). */
  remoteStack?: string;
}

/** The one error class every Switchboard API throws. Branch on `code`, never on `message`. */
export class SwitchboardError extends Error {
  override readonly name = 'SwitchboardError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly data: unknown;
  readonly remoteType: string | undefined;
  readonly remoteStack: string | undefined;

  constructor(code: ErrorCode, message?: string, options: SwitchboardErrorOptions = {}) {
    const info = ERROR_CODES[code];
    super(message ?? info.message, options.cause === undefined ? {} : { cause: options.cause });
    this.code = code;
    this.status = info.status;
    this.retryable = info.retryable;
    this.data = options.data;
    this.remoteType = options.remoteType;
    this.remoteStack = options.remoteStack;
    if (options.remoteStack !== undefined && this.stack !== undefined) {
      this.stack += `\n--- remote stack (${options.remoteType ?? 'Error'}) ---\n${options.remoteStack}`;
    }
  }

  /** The frame form of this error. Remote errors keep the type and stack of the thrower. */
  toWire(includeStack = true): WireError {
    const wire: WireError = {
      code: this.code,
      type: this.remoteType ?? this.name,
      message: this.message,
    };
    const stack = this.remoteStack ?? this.stack;
    if (includeStack && stack !== undefined) wire.stack = stack;
    if (this.data !== undefined) wire.data = this.data;
    return wire;
  }

  static fromWire(wire: WireError): SwitchboardError {
    if (!isErrorCode(wire.code))
      return SwitchboardError.fromWire({
        ...wire,
        code: 'SB_ERR_REMOTE_ERROR',
        data: keepCode(wire),
      });
    const code = wire.code;
    const options: SwitchboardErrorOptions = { data: wire.data };
    if (wire.type !== 'SwitchboardError' || wire.stack !== undefined) {
      options.remoteType = wire.type;
      if (wire.stack !== undefined) options.remoteStack = wire.stack;
    }
    return new SwitchboardError(code, wire.message, options);
  }
}

/**
 * A peer's own code (not in the table) moves to `data.code`, where the TypeScript client puts an
 * exception's own code, unless `data` already names one or is not a map.
 */
function keepCode(wire: WireError): unknown {
  const { data } = wire;
  if (data === undefined) return { code: wire.code };
  if (typeof data !== 'object' || data === null || Array.isArray(data) || 'code' in data)
    return data;
  return { ...data, code: wire.code };
}

/** Turns anything thrown into a SwitchboardError; the boundary helper used everywhere. */
export function toSwitchboardError(
  error: unknown,
  fallback: ErrorCode = 'SB_ERR_INTERNAL',
): SwitchboardError {
  if (error instanceof SwitchboardError) return error;
  if (error instanceof Error) {
    return new SwitchboardError(fallback, error.message, { cause: error });
  }
  return new SwitchboardError(fallback, String(error));
}

/**
 * The wire form of an exception thrown by user code (a registered function). SwitchboardErrors
 * keep their own code (so a timeout inside a nested call stays a timeout); anything else becomes
 * SB_ERR_REMOTE_ERROR with the thrower's class name, message and stack, and its own string
 * `code` property, if any, in `data.code`.
 */
export function handlerErrorToWire(error: unknown, includeStack = true): WireError {
  if (error instanceof SwitchboardError) return error.toWire(includeStack);
  if (error instanceof Error) {
    const wire: WireError = {
      code: 'SB_ERR_REMOTE_ERROR',
      type: error.name || error.constructor.name || 'Error',
      message: error.message,
    };
    if (includeStack && error.stack !== undefined) wire.stack = error.stack;
    const ownCode = (error as { code?: unknown }).code;
    if (typeof ownCode === 'string' || typeof ownCode === 'number') wire.data = { code: ownCode };
    return wire;
  }
  return { code: 'SB_ERR_REMOTE_ERROR', type: typeof error, message: safeString(error) };
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}
