import { SwitchboardError, encodeValue, isFunctionName } from '@switchboard/shared';
import { parseCron, type CronPlan } from './cron-expression.ts';
import type { ScheduleChanges, ScheduleInput } from './schedule-types.ts';

/** Largest encoded `args` of a schedule: they travel with every run (and across a cluster). */
export const MAX_SCHEDULE_ARGS_BYTES = 64 * 1024;

/** A schedule's fields, checked: the cron plan parsed, the arguments encoded. */
export interface CheckedSchedule {
  name: string;
  plan: CronPlan;
  function: string;
  args: Buffer;
  enabled: boolean;
}

/** What a change sets, checked; `plan` when the cron expression or timezone changes. */
export interface CheckedChanges {
  plan?: CronPlan;
  function?: string;
  args?: Buffer;
  enabled?: boolean;
}

/** Checks a whole schedule; SB_ERR_SCHEDULE_INVALID naming the first thing wrong. */
export function checkSchedule(input: unknown): CheckedSchedule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid('A schedule is an object { name, cron, function, args?, timezone?, enabled? }');
  }
  const fields = input as Partial<ScheduleInput>;
  return {
    name: checkName(fields.name, 'name'),
    plan: parseCron(fields.cron, fields.timezone ?? null),
    function: checkName(fields.function, 'function'),
    args: checkArgs(fields.args),
    enabled: checkEnabled(fields.enabled),
  };
}

/**
 * Checks a change to the stored schedule `current` (its cron and timezone): only the fields
 * given change; `timezone: null` goes back to UTC.
 */
export function checkChanges(
  changes: ScheduleChanges,
  current: { cron: string; timezone: string | null },
): CheckedChanges {
  const checked: CheckedChanges = {};
  if (changes.cron !== undefined || changes.timezone !== undefined) {
    checked.plan = parseCron(
      changes.cron ?? current.cron,
      changes.timezone === undefined ? current.timezone : changes.timezone,
    );
  }
  if (changes.function !== undefined) checked.function = checkName(changes.function, 'function');
  if (changes.args !== undefined) checked.args = checkArgs(changes.args);
  if (changes.enabled !== undefined) checked.enabled = checkEnabled(changes.enabled);
  return checked;
}

/** Schedule and function names follow the rules of function names (up to 200 characters). */
function checkName(value: unknown, what: 'name' | 'function'): string {
  if (!isFunctionName(value)) {
    throw invalid(
      `${what} must be a name of letters, digits and _ . : - (up to 200 characters), got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function checkArgs(args: unknown): Buffer {
  if (args === undefined) return encodeValue([]);
  if (!Array.isArray(args)) throw invalid('args must be an array (the arguments of each run)');
  let encoded: Buffer;
  try {
    encoded = encodeValue(args);
  } catch (error) {
    throw invalid(`args cannot be stored: ${(error as Error).message}`);
  }
  if (encoded.byteLength > MAX_SCHEDULE_ARGS_BYTES) {
    throw invalid(`args take ${encoded.byteLength} bytes; at most ${MAX_SCHEDULE_ARGS_BYTES}`);
  }
  return encoded;
}

function checkEnabled(enabled: unknown): boolean {
  if (enabled === undefined) return true;
  if (typeof enabled !== 'boolean') throw invalid('enabled must be true or false');
  return enabled;
}

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_SCHEDULE_INVALID', message);
}
