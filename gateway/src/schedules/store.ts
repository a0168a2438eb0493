import type { Sql } from '../db/connect.ts';

/**
 * schedule_runs (0001, 0004): one row per schedule and fire time. The primary key is what makes
 * a fire happen once across replicas: every gateway inserts, one insert wins, the others do
 * nothing. A manifest schedule's run points at the job it queued (webhook_deliveries, kind
 * 'schedule'), a policy schedule's run at its task.
 */

export interface ScheduleRunRow {
  schedule: string;
  fireTime: Date;
  claimedBy: string;
  taskId: string | null;
  deliveryId: string | null;
  createdAt: Date;
}

const runColumns = (sql: Sql) =>
  sql`schedule, fire_time as "fireTime", claimed_by as "claimedBy", task_id::text as "taskId",
      delivery_id::text as "deliveryId", created_at as "createdAt"`;

/**
 * The run of this fire, or undefined when another gateway's insert got there first. A
 * concurrent insert of the same key waits on the primary key until the first commits (then does
 * nothing) or rolls back (then inserts): exactly one transaction goes on to create the work.
 */
export async function insertScheduleRun(
  sql: Sql,
  run: { schedule: string; fireTime: Date; claimedBy: string },
): Promise<ScheduleRunRow | undefined> {
  const [row] = await sql<ScheduleRunRow[]>`
    insert into schedule_runs (schedule, fire_time, claimed_by)
    values (${run.schedule}, ${run.fireTime}, ${run.claimedBy})
    on conflict (schedule, fire_time) do nothing
    returning ${runColumns(sql)}`;
  return row;
}

export async function setScheduleRunTask(
  sql: Sql,
  run: { schedule: string; fireTime: Date; taskId: string },
): Promise<void> {
  await sql`
    update schedule_runs set task_id = ${run.taskId}
     where schedule = ${run.schedule} and fire_time = ${run.fireTime}`;
}

export async function setScheduleRunDelivery(
  sql: Sql,
  run: { schedule: string; fireTime: Date; deliveryId: string },
): Promise<void> {
  await sql`
    update schedule_runs set delivery_id = ${run.deliveryId}
     where schedule = ${run.schedule} and fire_time = ${run.fireTime}`;
}

/**
 * Queues a manifest schedule's fire for the delivery worker (0004: kind 'schedule'); returns the
 * row id, or undefined if (integration, delivery_id) exists already — only possible when the
 * schedule_runs row was deleted by hand, since that row is inserted first in the same transaction.
 */
export async function insertScheduleDelivery(
  sql: Sql,
  job: {
    integration: string;
    endpoint: string;
    deliveryId: string;
    body: Buffer;
    traceParent?: string | null;
  },
): Promise<string | undefined> {
  const [row] = await sql<{ id: string }[]>`
    insert into webhook_deliveries (kind, integration, endpoint, delivery_id, headers, body,
                                    trace_parent)
    values ('schedule', ${job.integration}, ${job.endpoint}, ${job.deliveryId},
            ${sql.json({})}, ${job.body}, ${job.traceParent ?? null})
    on conflict (integration, delivery_id) do nothing
    returning id::text`;
  return row?.id;
}

/** The newest fire time that ran, per schedule (for the start-up "no catch-up" log line). */
export async function latestScheduleRuns(
  sql: Sql,
  schedules: readonly string[],
): Promise<Map<string, Date>> {
  if (schedules.length === 0) return new Map();
  const rows = await sql<{ schedule: string; fireTime: Date }[]>`
    select schedule, max(fire_time) as "fireTime" from schedule_runs
     where schedule = any(${schedules as string[]}::text[])
     group by schedule`;
  return new Map(rows.map((r) => [r.schedule, r.fireTime]));
}

export async function listScheduleRuns(sql: Sql, schedule: string): Promise<ScheduleRunRow[]> {
  return sql<ScheduleRunRow[]>`
    select ${runColumns(sql)} from schedule_runs
     where schedule = ${schedule} order by fire_time`;
}
