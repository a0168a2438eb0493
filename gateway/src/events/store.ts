import { HOOK_EVENT_TYPES, MAX_HOOK_EVENT_DATA_BYTES } from '@switchboard/sdk';
import type { Sql } from '../db/connect.ts';

/**
 * task_events: append-only, ordered by `seq` (a bigint identity, returned as text like every
 * bigint id here; it is the SSE event id). Rows are written in the transaction of the change
 * they describe, so a reader never sees an event of a change that rolled back.
 *
 * Every ORDER BY here (and in the other stores) names its column through the table's alias
 * (`e.seq`): a bare `seq` is the `seq::text` output column, sorted as text (1, 10, 11, 2, …;
 * issue 12). scripts/check-sql-order.ts fails CI on that mistake.
 */
export interface TaskEvent {
  seq: string;
  taskId: string;
  type: string;
  data: Record<string, unknown>;
  createdAt: Date;
}

export interface NewTaskEvent {
  taskId: string;
  type: string;
  data?: Record<string, unknown>;
}

const columns = (sql: Sql) =>
  sql`seq::text, task_id::text as "taskId", type, data, created_at as "createdAt"`;

/**
 * THE place that decides who gets a task event (ARCHITECTURE §1): fans the inserted events out
 * in the statement that writes them (a data-modifying CTE runs whether or not the outer query
 * reads it), so an event and its deliveries commit together without another round trip:
 * - one 'event' outbox row per active operator subscription whose types name the event's
 *   type, its `<prefix>:*` or `*` (target type `subscription`: a signed POST);
 * - one 'event' outbox row per lifecycle hook (manifest `events:`, table event_hooks, kept by
 *   integrations/event-hooks.ts) whose types name the event's type, for a task of a session the
 *   hook's integration owns (key `<integration>:…`) or of any session when the hook has
 *   all_sessions (granted `events.all`) (target type `hook`: its hidden tool, outbox/hooks.ts).
 *   The payload is the tool's arguments (sdk taskEventHookInputSchema: with the task's dispatch
 *   target only for the hook's own sessions), the data capped at
 *   MAX_HOOK_EVENT_DATA_BYTES. Only HOOK_EVENT_TYPES can match: a few per task attempt, never a
 *   task:tool_use flood. An event of a task without a session matches no hook.
 * `types`, when the caller knows every inserted event's type: the hook part is left out when
 * none of them is a hook type (task:tool_use batches, tasks/tool-events.ts).
 */
export const fanOut = (sql: Sql, inserted = 'inserted', types?: readonly string[]) => sql`
  fanned as (
    insert into outbox (kind, task_id, target, payload, trace_parent)
    select 'event', i.task_id,
           jsonb_build_object('type', 'subscription', 'subscriptionId', s.id::text, 'url', s.url),
           jsonb_build_object('type', i.type, 'seq', i.seq::text, 'taskId', i.task_id::text,
                              'data', i.data, 'createdAt', i.created_at),
           -- A subscription post joins its task's trace (read only for a matching event).
           (select t.trace_parent from tasks t where t.id = i.task_id)
      from ${sql(inserted)} i
      join event_subscriptions s
        on s.deleted_at is null
       and (i.type = any(s.types) or '*' = any(s.types)
            or split_part(i.type, ':', 1) || ':*' = any(s.types)))${
              types !== undefined && !types.some(isHookEventType) ? sql`` : hooked(sql, inserted)
            }`;

/**
 * fanOut's lifecycle-hook part. Left out when the caller names the inserted events' types and
 * none is a hook type: the CTE (four joins) matches nothing then, and planning and running it
 * cost ~1.6 ms of the embedded database's CPU per statement, ~14 µs a task:tool_use row at
 * 60-row batches (measured on this machine, loaded).
 */
const hooked = (sql: Sql, inserted: string) => sql`,
  hooked as (
    insert into outbox (kind, task_id, target, payload, trace_parent)
    select 'event', i.task_id,
           jsonb_build_object('type', 'hook', 'integration', h.integration, 'tool', h.tool,
                              'sessions', case when h.all_sessions then 'all' else 'own' end),
           jsonb_build_object(
             'event', jsonb_build_object(
               'type', i.type, 'seq', i.seq::text, 'taskId', i.task_id::text,
               'createdAt', i.created_at,
               'data', case when octet_length(i.data::text) <= ${MAX_HOOK_EVENT_DATA_BYTES}
                            then i.data
                            else jsonb_build_object('truncated', true,
                                                    'bytes', octet_length(i.data::text)) end),
             'session', jsonb_build_object('id', hs.id::text, 'key', hs.key),
             'integration', h.integration)
           -- The task's dispatch target only to its own session's integration (which set it):
           -- a webhook target's config may hold a signing secret.
           || case when left(hs.key, length(h.integration) + 1) = h.integration || ':'
                        and ht.dispatch is not null
                   then jsonb_build_object('dispatch', ht.dispatch) else '{}'::jsonb end,
           ht.trace_parent
      from ${sql(inserted)} i
      join tasks ht on ht.id = i.task_id
      join sessions hs on hs.id = ht.session_id
      join event_hooks h
        on i.type = any(h.types)
       and (h.all_sessions or left(hs.key, length(h.integration) + 1) = h.integration || ':')
     where i.type = any(${HOOK_EVENT_TYPES as unknown as string[]}::text[]))`;

const isHookEventType = (type: string) => (HOOK_EVENT_TYPES as readonly string[]).includes(type);

export async function insertTaskEvent(sql: Sql, event: NewTaskEvent): Promise<TaskEvent> {
  const [row] = await sql<TaskEvent[]>`
    with inserted as (
      insert into task_events (task_id, type, data)
      values (${event.taskId}, ${event.type}, ${sql.json((event.data ?? {}) as never)})
      returning *),
    ${fanOut(sql)}
    select ${columns(sql)} from inserted`;
  return row!;
}

/** One multi-row insert (a claim of N tasks writes N events); returned in seq order. */
export async function insertTaskEvents(
  sql: Sql,
  events: readonly NewTaskEvent[],
): Promise<TaskEvent[]> {
  if (events.length === 0) return [];
  const rows = events.map((e) => ({ task_id: e.taskId, type: e.type, data: e.data ?? {} }));
  return sql<TaskEvent[]>`
    with inserted as (
      insert into task_events ${sql(rows as never, 'task_id', 'type', 'data')}
      returning *),
    ${fanOut(sql)}
    select ${columns(sql)} from inserted i order by i.seq`;
}

/**
 * A batch of task:tool_use events (tasks/tool-events.ts) as two arrays and one unnest insert,
 * fanned out to subscriptions like the others. `data` is JSON text: a jsonb[] parameter would
 * have postgres.js JSON-encode each string again.
 */
export async function insertToolUseEvents(
  sql: Sql,
  taskIds: readonly string[],
  data: readonly string[],
): Promise<void> {
  await sql`
    with inserted as (
      insert into task_events (task_id, type, data)
      select task_id, 'task:tool_use', data
        from unnest(${taskIds as string[]}::uuid[], ${data as string[]}::text[]::jsonb[])
          as batch (task_id, data)
      returning *),
    ${fanOut(sql, 'inserted', ['task:tool_use'])}
    select 1`;
}

/**
 * Retention (gateway/src/retention/): deletes up to `limit` events of tasks that ended more than
 * `olderThanMs` ago (complete, failed or cancelled; a pending or running task keeps all of its
 * events, however old) and returns how many. Locked rows are skipped: replicas share the work.
 */
export async function deleteEndedTaskEvents(
  sql: Sql,
  olderThanMs: number,
  limit: number,
): Promise<number> {
  const result = await sql`
    with doomed as (
      select e.seq from task_events e
        join tasks t on t.id = e.task_id
       where e.created_at < now() - ${olderThanMs}::float8 * interval '1 millisecond'
         and t.status in ('complete', 'failed', 'cancelled')
         and t.finished_at < now() - ${olderThanMs}::float8 * interval '1 millisecond'
       limit ${limit}
       for update of e skip locked)
    delete from task_events d using doomed where d.seq = doomed.seq`;
  return result.count;
}

/** The events of a task after `afterSeq` (exclusive; SSE Last-Event-ID), oldest first. */
export async function listTaskEvents(
  sql: Sql,
  taskId: string,
  options: { afterSeq?: string | undefined; limit: number },
): Promise<TaskEvent[]> {
  return sql<TaskEvent[]>`
    select ${columns(sql)} from task_events e
     where e.task_id = ${taskId} and e.seq > ${options.afterSeq ?? '0'}::bigint
     order by e.seq
     limit ${options.limit}`;
}
