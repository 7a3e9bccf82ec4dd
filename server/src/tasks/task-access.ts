import { isTrustedCaller, type CallerInfo } from '@switchboard/shared';
import type { StoredTask, TaskLauncherRecord } from '../store/task-store.ts';

/** What is kept of a launcher: enough to tell it again later, nothing secret. */
export function launcherRecord(caller: CallerInfo): TaskLauncherRecord {
  const launcher: TaskLauncherRecord = { kind: caller.kind };
  if (caller.keyName !== undefined) launcher.keyName = caller.keyName;
  if (caller.keyKind !== undefined) launcher.keyKind = caller.keyKind;
  if (caller.user !== undefined) launcher.userId = caller.user.id;
  return launcher;
}

/**
 * Whether `caller` may see (and kill) a task. Trusted callers (app code, server keys) see every
 * task. Others see a task of a function they may call now (`mayCall`), and then only their
 * own: the same user when a user launched it, else the same key when a key did; a task an
 * anonymous caller launched is seen by whoever holds its id (128 random bits).
 */
export function maySee(
  task: StoredTask,
  caller: CallerInfo,
  mayCall: (name: string) => boolean,
): boolean {
  if (isTrustedCaller(caller)) return true;
  if (!mayCall(task.record.name)) return false;
  const { launcher } = task;
  if (launcher.userId !== undefined) return caller.user?.id === launcher.userId;
  if (launcher.keyName !== undefined) return caller.keyName === launcher.keyName;
  return true;
}
