import { Cron } from 'croner';
import { SwitchboardError } from '@switchboard/shared';

/** Longest cron expression accepted (a real one is a few dozen characters). */
const MAX_CRON_LENGTH = 200;
/** Longest timezone name accepted (IANA names are under 40 characters). */
const MAX_TIMEZONE_LENGTH = 64;

/** When a cron expression fires, in one timezone (UTC when none is given). */
export interface CronPlan {
  readonly cron: string;
  readonly timezone: string | null;
  /** The first fire time strictly after `afterMs` (ms since the epoch), or null if none. */
  next(afterMs: number): number | null;
}

/**
 * Parses a cron expression with croner: five fields (minute hour day month weekday) or six
 * (seconds first), names (`MON`, `JAN`) and nicknames (`@hourly`), read in `timezone` (an IANA
 * name such as `Europe/Paris`; null: UTC, so that every server of a cluster agrees). An
 * expression that does not parse, never fires, or a timezone that is not an IANA name is
 * SB_ERR_SCHEDULE_INVALID naming what is wrong.
 */
export function parseCron(cron: unknown, timezone: unknown = null): CronPlan {
  if (typeof cron !== 'string' || cron.trim() === '' || cron.length > MAX_CRON_LENGTH) {
    throw invalid(`cron must be a cron expression of 1 to ${MAX_CRON_LENGTH} characters`);
  }
  const zone = checkTimezone(timezone);
  let job: Cron;
  try {
    job = new Cron(cron.trim(), { mode: '5-or-6-parts', timezone: zone ?? 'UTC' });
  } catch (error) {
    throw invalid(`cron ${JSON.stringify(cron)}: ${reason(error)}`);
  }
  const next = (afterMs: number): number | null =>
    job.nextRun(new Date(afterMs))?.getTime() ?? null;
  if (next(Date.now()) === null) {
    throw invalid(`cron ${JSON.stringify(cron)} never fires`);
  }
  return { cron: cron.trim(), timezone: zone, next };
}

/** An IANA timezone name as given, or null for none (UTC). */
function checkTimezone(timezone: unknown): string | null {
  if (timezone === null || timezone === undefined) return null;
  if (typeof timezone !== 'string' || timezone === '' || timezone.length > MAX_TIMEZONE_LENGTH) {
    throw invalid('timezone must be an IANA timezone name such as "Europe/Paris"');
  }
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch {
    throw invalid(
      `timezone ${JSON.stringify(timezone)} is not an IANA timezone name such as "Europe/Paris"`,
    );
  }
  return timezone;
}

/** croner's message without its class prefix ("CronPattern: "). */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^CronPattern: /, '');
}

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_SCHEDULE_INVALID', message);
}
