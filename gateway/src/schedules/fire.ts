import type { Policy } from '@switchboard/policy';
import type { Pool } from '../db/connect.ts';
import type { TaskEvent } from '../events/store.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import type { Integration } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import { createTask } from '../tasks/create.ts';
import { currentTraceparent, inSpan, SpanKind } from '../telemetry/spans.ts';
import {
  insertScheduleDelivery,
  insertScheduleRun,
  setScheduleRunDelivery,
  setScheduleRunTask,
} from './store.ts';

/**
 * What one schedule fire does (ARCHITECTURE §5, §7; issue 6), apart from when it happens:
 * - a manifest schedule queues a job (webhook_deliveries, kind 'schedule') that the delivery
 *   worker turns into a call of the integration's handler, with that worker's retries;
 * - a policy schedule creates its session (get-or-create by key), a message and a task.
 * Either way the schedule_runs row and the work are one transaction: the row's primary key
 * decides which replica does the work, and a crash leaves either both or neither.
 */

export interface ManifestSchedule {
  kind: 'manifest';
  /** `<integration>/<name>`: the schedule_runs key. */
  id: string;
  integration: string;
  name: string;
  cron: string;
  handler: string;
}

export interface PolicySchedule {
  kind: 'policy';
  /** `policy/<name>`. */
  id: string;
  name: string;
  cron: string;
  session: string;
  prompt: string;
  profile: string;
  /** The profile's tools and timeout, resolved when the jobs were computed. */
  scope: string[];
  timeoutMs: number | undefined;
}

export type Schedule = ManifestSchedule | PolicySchedule;

export interface FireDeps {
  sql: Pool;
  log: Logger;
  publish: PublishTaskEvents;
  /** This gateway instance: schedule_runs.claimed_by. */
  owner: string;
  /** Tells the delivery worker a job is waiting (it also polls). */
  wakeDeliveries: () => void;
}

export type FireResult =
  | { outcome: 'fired'; taskId: string }
  | { outcome: 'queued'; deliveryId: string }
  /** Another gateway (or an earlier call) took this fire time. */
  | { outcome: 'taken' };

/** The manifest schedules of every ready integration, and the policy's schedules. */
export function schedulesOf(integrations: readonly Integration[], policy: Policy | undefined) {
  const schedules: Schedule[] = [];
  for (const item of integrations) {
    const manifest = item.manifest;
    // Ready implies the policy granted every requested capability, and a manifest with
    // schedules must request `schedules` (sdk manifest-rules); checked again all the same.
    if (item.state !== 'ready' || !manifest?.capabilities.includes('schedules')) continue;
    for (const s of manifest.schedules) {
      schedules.push({
        kind: 'manifest',
        id: `${item.name}/${s.name}`,
        integration: item.name,
        name: s.name,
        cron: s.cron,
        handler: s.handler,
      });
    }
  }
  for (const s of policy?.schedules ?? []) {
    const profile = policy?.profiles[s.profile];
    if (!profile) continue; // the policy schema refuses this; nothing to run it with anyway
    schedules.push({
      kind: 'policy',
      id: `policy/${s.name}`,
      name: s.name,
      cron: s.cron,
      session: s.session,
      prompt: s.prompt,
      profile: s.profile,
      scope: profile.tools,
      timeoutMs: profile.timeoutMs,
    });
  }
  return schedules;
}

/** Fire times are whole seconds (the finest cron field), the same on every replica. */
export function fireTimeOf(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/** `2026-01-05T06:00:00Z`, as in the handler contract (docs/manifest.md). */
export function fireTimeIso(fireTime: Date): string {
  return fireTimeOf(fireTime).toISOString().replace('.000Z', 'Z');
}

/** Runs one fire of `schedule` at `fireTime` (floored to the second); safe on every replica. */
export async function fireOnce(
  deps: FireDeps,
  schedule: Schedule,
  fireTime: Date,
): Promise<FireResult> {
  const at = fireTimeOf(fireTime);
  // A fire is the root of its own trace: the delivery or task it queues continues it.
  return inSpan(
    'schedule fire',
    {
      kind: SpanKind.PRODUCER,
      parent: null,
      attributes: {
        'switchboard.schedule': schedule.id.slice(0, 200),
        'switchboard.schedule.fire_time': at.toISOString(),
      },
    },
    async (span) => {
      const result =
        schedule.kind === 'manifest'
          ? await fireManifest(deps, schedule, at)
          : await firePolicy(deps, schedule, at);
      span.setAttribute('switchboard.schedule.outcome', result.outcome);
      return result;
    },
  );
}

async function fireManifest(
  deps: FireDeps,
  schedule: ManifestSchedule,
  fireTime: Date,
): Promise<FireResult> {
  const iso = fireTimeIso(fireTime);
  const result = await deps.sql.begin(async (tx): Promise<FireResult> => {
    const run = await insertScheduleRun(tx, {
      schedule: schedule.id,
      fireTime,
      claimedBy: deps.owner,
    });
    if (!run) return { outcome: 'taken' };
    const deliveryId = await insertScheduleDelivery(tx, {
      integration: schedule.integration,
      endpoint: schedule.name,
      deliveryId: `schedule:${schedule.name}:${iso}`,
      // The handler's input (sdk scheduleInputSchema): the local name, not `<integration>/…`.
      body: Buffer.from(JSON.stringify({ schedule: schedule.name, fireTime: iso }), 'utf8'),
      traceParent: currentTraceparent(),
    });
    if (!deliveryId) return { outcome: 'taken' };
    await setScheduleRunDelivery(tx, { schedule: schedule.id, fireTime, deliveryId });
    return { outcome: 'queued', deliveryId };
  });
  if (result.outcome === 'queued') deps.wakeDeliveries();
  return result;
}

async function firePolicy(
  deps: FireDeps,
  schedule: PolicySchedule,
  fireTime: Date,
): Promise<FireResult> {
  const iso = fireTimeIso(fireTime);
  const idempotencyKey = `schedule:${schedule.id}:${iso}`;
  const result = await deps.sql.begin(async (tx) => {
    const run = await insertScheduleRun(tx, {
      schedule: schedule.id,
      fireTime,
      claimedBy: deps.owner,
    });
    if (!run) return { outcome: 'taken' as const, events: [] as TaskEvent[] };
    const created = await createTask(tx, {
      session: { key: schedule.session, profile: schedule.profile, dispatch: null },
      message: {
        role: 'system',
        content: schedule.prompt,
        source: { schedule: schedule.id, fireTime: iso },
      },
      task: {
        external: false,
        profile: schedule.profile,
        prompt: schedule.prompt,
        scope: schedule.scope,
        execution: {},
        dispatch: null,
        timeoutMs: schedule.timeoutMs ?? null,
        // 3 as enqueueTask's default (0001's column default).
        maxAttempts: 3,
        idempotencyKey,
        deliveryId: null,
        event: { type: 'task:created', data: { schedule: schedule.id, fireTime: iso } },
      },
    });
    const task = created.task!;
    await setScheduleRunTask(tx, { schedule: schedule.id, fireTime, taskId: task.id });
    // Not created only if the schedule_runs row was deleted by hand: the task of this fire exists.
    return {
      outcome: 'fired' as const,
      taskId: task.id,
      events: created.event ? [created.event] : ([] as TaskEvent[]),
    };
  });
  if (result.events.length > 0) await deps.publish(result.events);
  if (result.outcome === 'taken') return { outcome: 'taken' };
  return { outcome: 'fired', taskId: result.taskId };
}
