import type { Sql } from '../../db/connect.ts';
import { currentTraceparent } from '../../telemetry/spans.ts';

/**
 * The outbox row of a task that just ended: written by tasks/ in the transaction of the end
 * (queue.ts, external.ts), delivered by outbox/worker.ts. It lives here, below
 * outbox/, so that tasks/ never imports outbox/ (issue 14: that import made a cycle).
 */

/**
 * One 'dispatch' row per task of `taskIds` that ended complete or failed and has a dispatch
 * target (the task's own, else its session's) other than `none`. One statement, so a task end
 * costs one more round trip whatever the number of tasks. A failed task carries its error text
 * (or, without one, its reason code); a complete one its result. The dispatch continues
 * `traceParent` (the span that ended the task), else the trace the task itself continued.
 */
export async function insertDispatchRows(
  sql: Sql,
  taskIds: readonly string[],
  traceParent: string | null = null,
): Promise<string[]> {
  if (taskIds.length === 0) return [];
  const rows = await sql<{ id: string }[]>`
    insert into outbox (kind, task_id, target, payload, trace_parent)
    select 'dispatch', t.id,
           jsonb_build_object('type', d.target->>'type',
                              'config', coalesce(d.target->'config', '{}'::jsonb),
                              'sessionId', s.id::text, 'sessionKey', s.key),
           jsonb_build_object('task', case when t.status = 'complete'
             then jsonb_build_object('id', t.id::text, 'status', t.status,
                                     'result', coalesce(t.result, ''))
             else jsonb_build_object('id', t.id::text, 'status', t.status,
                                     'error', coalesce(t.error, t.reason, 'failed')) end),
           coalesce(${traceParent}::text, t.trace_parent)
      from tasks t
      left join sessions s on s.id = t.session_id
      cross join lateral (select coalesce(t.dispatch, s.dispatch) as target) d
     where t.id = any(${taskIds as string[]}::uuid[])
       and t.status in ('complete', 'failed')
       and d.target is not null and d.target->>'type' <> 'none'
    returning id::text`;
  return rows.map((r) => r.id);
}

/**
 * The same for one task, as a child of the active span (the task's run, or the API request
 * that completed an external task): its row's id, or undefined when its target is `none`.
 */
export async function insertDispatchRow(sql: Sql, taskId: string): Promise<string | undefined> {
  return (await insertDispatchRows(sql, [taskId], currentTraceparent()))[0];
}
