import { SwitchboardError } from '@switchboard/shared';
import type { Emitter, UplinkEvents } from './events.ts';

/**
 * Where an uplink logs: any object with pino's method shapes (a pino logger works as is, or a
 * child of one). Fields are plain data; the message is a short constant string.
 */
export interface UplinkLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVELS: Readonly<Record<LogLevel, number>> = { debug: 20, info: 30, warn: 40, error: 50 };

/**
 * A logger that writes one JSON object per line (pino's shape: `level`, `time`, `msg`, the
 * fields), from `level` up, to `write` (by default standard output).
 */
export function jsonLogger(
  options: { level?: LogLevel; write?: (line: string) => void } = {},
): UplinkLogger {
  const threshold = LEVELS[options.level ?? 'info'];
  if (threshold === undefined)
    throw new SwitchboardError(
      'SB_ERR_OPTIONS_INVALID',
      `log level must be debug, info, warn or error, got ${JSON.stringify(options.level)}`,
    );
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const at =
    (level: LogLevel) =>
    (fields: Record<string, unknown>, message: string): void => {
      if (LEVELS[level] < threshold) return;
      write(
        `${JSON.stringify({ level: LEVELS[level], time: Date.now(), ...fields, msg: message })}\n`,
      );
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Logs an uplink's status changes and errors to `logger`. */
export function logEvents(events: Emitter<UplinkEvents>, logger: UplinkLogger): void {
  events.on('status', (status) => {
    if (status.state === 'connected')
      logger.info({ connectionId: status.connectionId }, 'uplink connected');
    else if (status.state === 'reconnecting')
      logger.info(
        { attempt: status.attempt, delayMs: status.delayMs, code: status.error.code },
        'uplink reconnecting',
      );
    else if (status.state === 'closed') logger.info({ code: status.error?.code }, 'uplink closed');
  });
  events.on('error', (error) =>
    logger.warn({ code: error.code, reason: error.message }, 'uplink error'),
  );
}
