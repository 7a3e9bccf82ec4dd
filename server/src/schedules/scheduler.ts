import { MAX_TIMER_MS, toSwitchboardError } from '@switchboard/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { ScheduleStore, ScheduleTiming } from '../store/schedule-store.ts';
import type { TaskLauncher } from '../tasks/task-types.ts';
import { parseCron, type CronPlan } from './cron-expression.ts';
import type { ScheduleClaims, ScheduleError } from './schedule-types.ts';

/**
 * How often the stored schedules are looked at anyway: changes made by other processes on the
 * data folder (the CLI) or by other servers of a cluster.
 */
export const SCHEDULE_POLL_MS = 1_000;

/** How often a run whose function is not registered is tried again... */
const RETRY_MS = 1_000;
/** ...for at most this long after its first try (never past its next fire time). */
export const LAUNCH_GRACE_MS = 60_000;

/** A claimed run on its way to a launch. */
interface PendingRun {
  id: string;
  fireAt: number;
  /** The run after it, as planned when it was claimed. */
  nextRunAt: number | null;
  firstTriedAt: number;
}

/** What the scheduler needs. */
export interface SchedulerDeps {
  readonly store: ScheduleStore;
  readonly launcher: TaskLauncher;
  readonly claims: ScheduleClaims;
  readonly log: FastifyBaseLogger;
}

/**
 * Launches each schedule's runs as background tasks (docs/tasks.md, "Schedules"). One timer
 * waits for the earliest planned run; when it fires, every schedule due is launched once, with
 * the next run planned from the later of now and the fire time: a schedule whose planned run
 * passed while the server was down (or busy) runs once, not once per missed fire time. In a
 * cluster each run is claimed first, so that one server launches it.
 */
export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires (ms since the epoch). */
  private timerAt = Infinity;
  private poll: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;
  /**
   * Runs this server has handled (claimed, launched or lost to another server) whose schedule
   * row does not say so yet: the fire time, and the next run planned by whoever launched it.
   */
  private readonly handled = new Map<string, { fireAt: number; nextRunAt: number | null }>();
  private readonly plans = new Map<string, CronPlan>();
  /** Timers of runs waiting for their function. */
  private readonly retries = new Set<NodeJS.Timeout>();

  constructor(private readonly deps: SchedulerDeps) {}

  /** Starts firing once the claims are ready (a cluster's shared schedules are in step). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.deps.claims.ready().then(
      () => {
        if (this.closed) return;
        this.poll = setInterval(() => this.safely(() => this.arm()), SCHEDULE_POLL_MS);
        this.poll.unref();
        this.safely(() => this.wake());
      },
      (error: unknown) => this.deps.log.error({ err: error }, 'schedules: not started'),
    );
  }

  /** A schedule changed in this process: plan the timer again now. */
  changed(): void {
    if (this.poll !== undefined) this.safely(() => this.arm());
  }

  /** Stops firing; runs being claimed or waiting for their function are not launched. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.poll);
    for (const timer of this.retries) clearTimeout(timer);
    this.retries.clear();
    this.timer = undefined;
  }

  /** Launches what is due, then waits for the next. */
  private wake(): void {
    this.timerAt = Infinity;
    if (this.closed) return;
    const now = Date.now();
    for (const timing of this.deps.store.enabledTimings()) {
      const fireAt = this.nextOf(timing);
      if (fireAt === null || fireAt > now) continue;
      this.fire(timing, fireAt).catch((error: unknown) =>
        this.deps.log.error({ schedule: timing.id, err: error }, 'schedule: run failed'),
      );
    }
    this.arm();
  }

  /** Sets the timer for the earliest planned run (if it moved). */
  private arm(): void {
    if (this.closed) return;
    let earliest = Infinity;
    const timings = this.deps.store.enabledTimings();
    for (const timing of timings) {
      const fireAt = this.nextOf(timing);
      if (fireAt !== null && fireAt < earliest) earliest = fireAt;
    }
    if (this.handled.size > 0) {
      const ids = new Set(timings.map((timing) => timing.id));
      for (const id of this.handled.keys()) if (!ids.has(id)) this.handled.delete(id);
    }
    if (earliest === this.timerAt && this.timer !== undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = earliest;
    if (earliest === Infinity) return;
    const delay = Math.min(Math.max(earliest - Date.now(), 0), MAX_TIMER_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // Not there yet after the longest wait: wait on.
      this.safely(() => (delay === MAX_TIMER_MS ? this.arm() : this.wake()));
    }, delay);
    this.timer.unref();
  }

  /** The schedule's next run as this server sees it: the row's, unless handled here already. */
  private nextOf(timing: ScheduleTiming): number | null {
    const handled = this.handled.get(timing.id);
    if (handled === undefined) return timing.nextRunAt;
    if (timing.nextRunAt !== null && timing.nextRunAt > handled.fireAt) {
      this.handled.delete(timing.id); // the row has caught up
      return timing.nextRunAt;
    }
    return handled.nextRunAt;
  }

  /** Claims the run at `fireAt`, launches it if this server won, records how it went. */
  private async fire(timing: ScheduleTiming, fireAt: number): Promise<void> {
    const nextRunAt = this.planOf(timing)?.next(Math.max(Date.now(), fireAt)) ?? null;
    this.handled.set(timing.id, { fireAt, nextRunAt });
    const claim = await this.deps.claims.claim(timing.id, fireAt, nextRunAt);
    if (this.closed) return;
    if (!claim.won) {
      // Another server launched it and planned the next run; its row will say so.
      this.handled.set(timing.id, { fireAt, nextRunAt: claim.nextRunAt });
      this.arm();
      return;
    }
    this.launch({ id: timing.id, fireAt, nextRunAt, firstTriedAt: Date.now() });
    this.arm();
  }

  /**
   * Launches a claimed run and records it. A run whose function is not registered (its uplink
   * not connected again yet after a restart) is tried again each RETRY_MS for LAUNCH_GRACE_MS,
   * never past its next fire time; then its error is recorded.
   */
  private launch(run: PendingRun): void {
    const { store, launcher, log } = this.deps;
    const { id, fireAt, nextRunAt } = run;
    const schedule = store.find(id);
    // Removed, disabled or planned anew while the run was claimed: it is not launched.
    if (schedule?.nextRunAt == null || !schedule.enabled || schedule.nextRunAt > fireAt) return;
    let taskId: string | undefined;
    let error: ScheduleError | undefined;
    try {
      taskId = launcher.launch(schedule.function, schedule.args, {
        caller: { kind: 'app' },
        schedule: schedule.name,
      }).id;
      log.debug({ schedule: schedule.name, task: taskId, fireAt }, 'schedule launched a task');
    } catch (thrown) {
      const coded = toSwitchboardError(thrown);
      const deadline = Math.min(run.firstTriedAt + LAUNCH_GRACE_MS, nextRunAt ?? Infinity);
      if (coded.code === 'SB_ERR_NO_SUCH_FUNCTION' && Date.now() + RETRY_MS < deadline) {
        log.debug({ schedule: schedule.name, fireAt }, 'schedule: function not served yet');
        this.retry(run);
        return;
      }
      error = { code: coded.code, message: coded.message };
      log.warn({ schedule: schedule.name, err: thrown, fireAt }, 'schedule: launch failed');
    }
    try {
      store.recordRun(id, fireAt, { nextRunAt, taskId, error });
    } catch (thrown) {
      log.error({ schedule: schedule.name, err: thrown }, 'schedule: run not recorded');
    }
  }

  private retry(run: PendingRun): void {
    const timer = setTimeout(() => {
      this.retries.delete(timer);
      if (!this.closed) this.safely(() => this.launch(run));
    }, RETRY_MS);
    timer.unref();
    this.retries.add(timer);
  }

  /** Runs a timer's work; a failure (the store closed under it) is logged, never thrown. */
  private safely(work: () => void): void {
    try {
      work();
    } catch (error) {
      if (!this.closed) this.deps.log.error({ err: error }, 'schedules: timer failed');
    }
  }

  /** The parsed expression of a schedule (parsed once per expression and timezone). */
  private planOf(timing: ScheduleTiming): CronPlan | undefined {
    const key = `${timing.timezone ?? ''} ${timing.cron}`;
    let plan = this.plans.get(key);
    if (plan === undefined) {
      try {
        plan = parseCron(timing.cron, timing.timezone);
      } catch (error) {
        this.deps.log.warn({ schedule: timing.id, err: error }, 'schedule: bad stored expression');
        return undefined;
      }
      if (this.plans.size > 1_000) this.plans.clear();
      this.plans.set(key, plan);
    }
    return plan;
  }
}
