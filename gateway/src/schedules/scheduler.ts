import schedule, { type Job } from 'node-schedule';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import {
  type FireDeps,
  type FireResult,
  fireOnce,
  fireTimeIso,
  type Schedule,
  schedulesOf,
} from './fire.ts';
import { latestScheduleRuns } from './store.ts';

export { type FireDeps, type FireResult, fireOnce, type Schedule, schedulesOf } from './fire.ts';

/**
 * Cron triggers (ARCHITECTURE §2 schedules/, §5, §7; issue 6): one node-schedule job per
 * manifest schedule of every ready integration and per policy schedule, in UTC. Every replica
 * runs every job; the fire time is node-schedule's scheduled date (not the clock when the
 * callback runs), floored to the second, so all replicas insert the same schedule_runs key and
 * its primary key lets exactly one of them do the work (fire.ts).
 *
 * No catch-up: fires that fell while no gateway ran are skipped, never replayed at start (a
 * gateway down for a weekend would otherwise start a burst of stale tasks). The start-up log
 * says so, with each schedule's newest run and next fire, so a gap is visible.
 */

export const SCHEDULE_TZ = 'Etc/UTC';

export interface SchedulerDeps extends FireDeps {
  registry: IntegrationRegistry;
}

interface Armed {
  schedule: Schedule;
  /** What the job depends on: a change of any of it re-arms the job. */
  signature: string;
  job: Job;
}

export class Scheduler {
  private readonly armed = new Map<string, Armed>();
  private readonly running = new Set<Promise<void>>();
  private unsubscribe: (() => void) | undefined;
  private closed = false;

  private constructor(private readonly deps: SchedulerDeps) {}

  /**
   * Arms every schedule known now, then follows the registry: an integration that becomes ready
   * (or stops being) or a re-read policy re-computes the jobs.
   */
  static async start(deps: SchedulerDeps): Promise<Scheduler> {
    const scheduler = new Scheduler(deps);
    scheduler.unsubscribe = deps.registry.onChange(() => scheduler.reload());
    const armed = scheduler.reload();
    deps.log.info(
      { schedules: scheduler.armed.size },
      'schedules do not catch up: fires missed while no gateway ran are skipped',
    );
    await armed;
    return scheduler;
  }

  /** The armed schedules' ids (`github/nightly-triage`, `policy/weekly-report`). */
  scheduleIds(): string[] {
    return [...this.armed.keys()].sort();
  }

  /**
   * Re-computes the jobs from the registry's integrations and policy: new schedules are armed,
   * gone or changed ones cancelled (a changed one re-armed). Unchanged jobs are left alone, so
   * the many change notices of a reload do not disturb a fire that is about to happen.
   * Resolves once the newly armed schedules' start-up lines are logged.
   */
  async reload(): Promise<void> {
    if (this.closed) return;
    const wanted = new Map(
      schedulesOf(this.deps.registry.list(), this.deps.registry.currentPolicy()).map((s) => [
        s.id,
        s,
      ]),
    );
    for (const [id, armed] of this.armed) {
      const next = wanted.get(id);
      if (next && JSON.stringify(next) === armed.signature) continue;
      armed.job.cancel();
      this.armed.delete(id);
      if (!next) this.deps.log.info({ schedule: id }, 'schedule disarmed');
    }
    const added: Armed[] = [];
    for (const [id, s] of wanted) {
      if (this.armed.has(id)) continue;
      const job = schedule.scheduleJob(id, { rule: s.cron, tz: SCHEDULE_TZ }, (date) =>
        this.fire(s, date),
      );
      // null: the rule has no future fire (e.g. "0 0 30 2 *", 30 February).
      if (!job) {
        this.deps.log.warn({ schedule: id, cron: s.cron }, 'schedule never fires; not armed');
        continue;
      }
      const armed = { schedule: s, signature: JSON.stringify(s), job };
      this.armed.set(id, armed);
      added.push(armed);
    }
    if (added.length > 0) await this.logArmed(added);
  }

  /** Cancels every job and waits for fires in progress (each is one short transaction). */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    for (const armed of this.armed.values()) armed.job.cancel();
    this.armed.clear();
    await Promise.allSettled([...this.running]);
  }

  private fire(s: Schedule, date: Date): void {
    if (this.closed) return;
    const run = this.fireLogged(s, date).finally(() => this.running.delete(run));
    this.running.add(run);
  }

  private async fireLogged(s: Schedule, date: Date): Promise<void> {
    const fireTime = fireTimeIso(date);
    let result: FireResult;
    try {
      result = await fireOnce(this.deps, s, date);
    } catch (error) {
      // Not retried: the next fire time is the retry (a fire is one transaction, so a failed
      // one left nothing behind, and another replica may have taken it meanwhile).
      this.deps.log.error({ schedule: s.id, fireTime, err: error }, 'schedule fire failed');
      return;
    }
    if (result.outcome === 'taken') {
      this.deps.log.debug({ schedule: s.id, fireTime }, 'schedule fire taken by another gateway');
    } else {
      this.deps.log.info({ schedule: s.id, fireTime, ...result }, 'schedule fired');
    }
  }

  /** One line per newly armed schedule: its newest run (before this start) and next fire. */
  private async logArmed(added: readonly Armed[]): Promise<void> {
    let latest = new Map<string, Date>();
    try {
      latest = await latestScheduleRuns(
        this.deps.sql,
        added.map((a) => a.schedule.id),
      );
    } catch (error) {
      this.deps.log.warn({ err: error }, 'could not read the newest schedule runs');
    }
    for (const { schedule: s, job } of added) {
      const lastRun = latest.get(s.id);
      const next = job.nextInvocation();
      this.deps.log.info(
        {
          schedule: s.id,
          cron: s.cron,
          lastRun: lastRun ? fireTimeIso(lastRun) : null,
          nextFire: next ? fireTimeIso(next) : null,
        },
        'schedule armed',
      );
    }
  }
}

/**
 * When `cron` fires next (UTC, as the Scheduler arms it), or null when it never does; for the
 * API's integration page. node-schedule computes it the same way as for an armed job: the job
 * is armed and cancelled at once, and never fires.
 */
export function nextFireOf(cron: string): Date | null {
  const job = schedule.scheduleJob({ rule: cron, tz: SCHEDULE_TZ }, () => {});
  if (!job) return null;
  const next = job.nextInvocation();
  job.cancel();
  return next ? new Date(next.getTime()) : null;
}
