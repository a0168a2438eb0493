import type { Sql } from '../db/connect.ts';
import type { DeliveryRow } from '../deliveries/store.ts';

/**
 * The reads of a trace (trace.ts): one delivery, its tasks, their events and outbox rows, with
 * the trace_parent of 0013. Read-only; each caps its rows in SQL and answers how many there were,
 * so a delivery with 10,000 tasks or a task with 100,000 tool calls costs a bounded answer.
 * Every ORDER BY names the table's column (t.seq, e.seq, o.id: bigints, never their text).
 */

/** A delivery as deliveries/store.ts reads it, with the trace it belongs to. */
export interface TraceDeliveryRow extends DeliveryRow {
  traceParent: string | null;
}

/** Never the headers or the body: a trace shows what happened, not what was sent. */
export async function findTraceDelivery(
  sql: Sql,
  id: string,
): Promise<TraceDeliveryRow | undefined> {
  const [row] = await sql<TraceDeliveryRow[]>`
    select d.id::text, d.kind, d.integration, d.endpoint, d.delivery_id as "deliveryId", d.status,
           d.attempts, d.max_attempts as "maxAttempts", d.run_at as "runAt", d.error, d.result,
           d.replay_of::text as "replayOf", d.received_at as "receivedAt",
           d.processed_at as "processedAt", d.trace_parent as "traceParent"
      from webhook_deliveries d
     where d.id = ${id}::uuid`;
  return row;
}

export interface TraceTaskRow {
  id: string;
  seq: string;
  deliveryId: string | null;
  sessionId: string | null;
  /** The session's key: an integration key may trace only its own sessions' tasks. */
  sessionKey: string | null;
  external: boolean;
  status: string;
  profile: string | null;
  attempts: number;
  maxAttempts: number;
  reason: string | null;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  traceParent: string | null;
  /** Tasks the query matched before its limit (the same for every row). */
  total: number;
}

const taskColumns = (sql: Sql) => sql`
  t.id::text, t.seq::text, t.delivery_id::text as "deliveryId", t.session_id::text as "sessionId",
  s.key as "sessionKey", t.external, t.status, t.profile, t.attempts,
  t.max_attempts as "maxAttempts", t.reason, t.error, t.created_at as "createdAt",
  t.started_at as "startedAt", t.finished_at as "finishedAt", t.trace_parent as "traceParent"`;

export async function findTraceTask(sql: Sql, id: string): Promise<TraceTaskRow | undefined> {
  const [row] = await sql<TraceTaskRow[]>`
    select ${taskColumns(sql)}, 1 as total
      from tasks t left join sessions s on s.id = t.session_id
     where t.id = ${id}::uuid`;
  return row;
}

/** The delivery's tasks in creation order (seq), the first `limit`, each with the count of all. */
export async function listTraceTasksOfDelivery(
  sql: Sql,
  deliveryId: string,
  limit: number,
): Promise<TraceTaskRow[]> {
  return sql<TraceTaskRow[]>`
    select ${taskColumns(sql)}, (count(*) over ())::int as total
      from tasks t left join sessions s on s.id = t.session_id
     where t.delivery_id = ${deliveryId}::uuid
     order by t.seq
     limit ${limit}`;
}

export interface TraceEventRow {
  seq: string;
  taskId: string;
  type: string;
  data: Record<string, unknown>;
  createdAt: Date;
  /** Events of this task and group (tool calls, or the rest) before the cap. */
  total: number;
}

/**
 * The events of `taskIds` of the given types, oldest first: per task at most `toolCalls` of type
 * task:tool_use and `others` of the other types (the first ones: how a run began is kept).
 */
export async function listTraceEvents(
  sql: Sql,
  taskIds: readonly string[],
  types: readonly string[],
  caps: { toolCalls: number; others: number },
): Promise<TraceEventRow[]> {
  return sql<TraceEventRow[]>`
    select r.seq::text, r.task_id::text as "taskId", r.type, r.data, r.created_at as "createdAt",
           r.total
      from (select e.seq, e.task_id, e.type, e.data, e.created_at,
                   row_number() over (partition by e.task_id, e.type = 'task:tool_use'
                                      order by e.seq) as n,
                   (count(*) over (partition by e.task_id, e.type = 'task:tool_use'))::int as total
              from task_events e
             where e.task_id = any(${taskIds as string[]}::uuid[])
               and e.type = any(${types as string[]}::text[])) r
     where r.n <= case when r.type = 'task:tool_use' then ${caps.toolCalls}::int
                       else ${caps.others}::int end
     order by r.seq`;
}

export interface TraceAttempt {
  at: string;
  attempt: number;
  status?: number;
  error?: string;
}

export interface TraceOutboxRow {
  id: string;
  kind: 'dispatch' | 'event';
  taskId: string;
  /** target.type: a dispatcher's name, webhook, internal, none, or subscription. */
  targetType: string | null;
  status: string;
  attempts: number;
  maxAttempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
  deadAt: Date | null;
  traceParent: string | null;
  /** The last `attemptsShown` entries of attempt_log (0004), oldest first. */
  attemptLog: TraceAttempt[];
  attemptLogLength: number;
  total: number;
}

/**
 * The outbox rows of `taskIds`, oldest first: per task and kind at most `perKind[kind]`. Only the
 * target's type: a webhook target's config holds its signing secret. The attempt log is cut to
 * its last `attemptsShown` entries (a row redriven many times keeps every attempt).
 */
export async function listTraceOutbox(
  sql: Sql,
  taskIds: readonly string[],
  caps: { dispatch: number; event: number; attemptsShown: number },
): Promise<TraceOutboxRow[]> {
  return sql<TraceOutboxRow[]>`
    select r.id::text, r.kind, r.task_id::text as "taskId", r.target->>'type' as "targetType",
           r.status, r.attempts, r.max_attempts as "maxAttempts",
           r.next_attempt_at as "nextAttemptAt", r.last_error as "lastError",
           r.created_at as "createdAt", r.delivered_at as "deliveredAt", r.dead_at as "deadAt",
           r.trace_parent as "traceParent",
           coalesce((select jsonb_agg(a.entry order by a.n)
                       from jsonb_array_elements(r.attempt_log) with ordinality as a(entry, n)
                      where a.n > jsonb_array_length(r.attempt_log) - ${caps.attemptsShown}::int),
                    '[]'::jsonb) as "attemptLog",
           jsonb_array_length(r.attempt_log) as "attemptLogLength", r.total
      from (select o.*,
                   row_number() over (partition by o.task_id, o.kind order by o.id) as n,
                   (count(*) over (partition by o.task_id, o.kind))::int as total
              from outbox o
             where o.task_id = any(${taskIds as string[]}::uuid[])) r
     where r.n <= case when r.kind = 'dispatch' then ${caps.dispatch}::int
                       else ${caps.event}::int end
     order by r.created_at, r.id`;
}
