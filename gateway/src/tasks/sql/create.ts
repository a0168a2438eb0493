import type { Sql } from '../../db/connect.ts';
import { fanOut, type TaskEvent } from '../../events/store.ts';
import type { MessageRow } from '../../sessions/store.ts';

/**
 * The statements that create a task (tasks/create.ts says who calls them): the session
 * (get-or-create by key, or an existing one by id), a message in it, the task and its first
 * event fanned out to the event subscriptions (an 'event' outbox row each), in one round trip:
 * the ~5 it replaced were most of a webhook delivery's cost (test/bench/HISTORY.md, issue 6).
 * insertTask takes every shape; insertSessionTask only a trigger's, with a leaner plan;
 * insertSessionTasks (create-batch.ts) many triggers' at once.
 */

export type TaskSession =
  /** Get-or-create: a new session gets these defaults; an existing one keeps its own. */
  | { key: string; profile: string | null; dispatch: Record<string, unknown> | null }
  /** An existing session (a foreign-key violation, 23503, if there is none). */
  | { id: string };

export type TaskMessage =
  /** A new message in the task's session (touching the session's updated_at). */
  | { role: MessageRow['role']; content: string; source: Record<string, unknown> | null }
  /** A message stored before (a foreign-key violation, 23503, if there is none). */
  | { id: string };

export interface TaskFields {
  /** An agent the operator runs themselves: running from the start, nothing to queue. */
  external: boolean;
  /** null: the session's profile. */
  profile: string | null;
  prompt: string;
  scope: string[];
  execution: Record<string, unknown>;
  /** null: the session's dispatch target (read when the task is created). */
  dispatch: Record<string, unknown> | null;
  timeoutMs: number | null;
  maxAttempts: number;
  /** A second insert with a taken key inserts nothing (it waits for the first to commit). */
  idempotencyKey: string | null;
  /** The webhook delivery (or schedule job) whose trigger this task answers. */
  deliveryId: string | null;
  /**
   * The task's first event. `task:created` carries the task's profile, sessionId and seq
   * besides `data`; any other type carries `data` alone.
   */
  event: { type: string; data: Record<string, unknown> } | null;
  /**
   * The W3C traceparent of the span that asked for the task (telemetry/spans.ts), which the
   * worker that runs it continues; unset: createTask takes the active span's.
   */
  traceParent?: string | null;
}

export interface NewTask {
  session: TaskSession | null;
  message: TaskMessage | null;
  /** null: only the session and its message (a trigger with `run: false`). */
  task: TaskFields | null;
}

/**
 * What the statement answers of the new task: the rest of its row (findQueueTask) would cost
 * every trigger ~45 µs of the gateway's CPU to parse (25 columns, 5 dates; issue 14 in
 * test/bench/HISTORY.md), and only the API shows it.
 */
export interface NewTaskRow {
  id: string;
  seq: string;
  profile: string | null;
  sessionId: string | null;
}

export interface InsertedTask {
  sessionId: string | null;
  messageId: string | null;
  /** undefined: no task was asked for, or its idempotency key is taken. */
  task: NewTaskRow | undefined;
  event: TaskEvent | undefined;
}

/** Stands in for the task of a statement that creates none (k.status null inserts nothing). */
const NO_TASK: TaskFields = {
  external: false,
  profile: null,
  prompt: '',
  scope: [],
  execution: {},
  dispatch: null,
  timeoutMs: null,
  maxAttempts: 3,
  idempotencyKey: null,
  deliveryId: null,
  event: null,
};

type Row = NewTaskRow & {
  _sessionId: string | null;
  _messageId: string | null;
  _eventSeq: string | null;
  _eventType: string | null;
  _eventData: Record<string, unknown> | null;
  _eventCreatedAt: Date | null;
};

export async function insertTask(sql: Sql, t: NewTask): Promise<InsertedTask> {
  const task = t.task ?? NO_TASK;
  const byKey = t.session !== null && 'key' in t.session ? t.session : null;
  const byId = t.session !== null && 'id' in t.session ? t.session.id : null;
  const newMessage = t.message !== null && !('id' in t.message) ? t.message : null;
  const messageId = t.message !== null && 'id' in t.message ? t.message.id : null;
  const status = t.task === null ? null : task.external ? 'running' : 'pending';
  const asJson = (value: Record<string, unknown> | null) =>
    value === null ? null : sql.json(value as never);
  // Every variant is this one text, steered by the parameters in k (each sent once): a nested
  // sql`` fragment cost the gateway ~12 µs of CPU per statement and a parameter ~1 µs, and this
  // statement runs for every trigger of every delivery.
  const [row] = await sql<Row[]>`
    with k as (
      select ${status}::text as status, ${task.event?.type ?? null}::text as event,
             ${byKey?.key ?? null}::text as key, ${byKey?.profile ?? null}::text as profile,
             ${asJson(byKey?.dispatch ?? null)}::jsonb as dispatch, ${byId}::uuid as session_id,
             ${newMessage?.role ?? null}::text as role, ${newMessage?.content ?? null}::text as content,
             ${asJson(newMessage?.source ?? null)}::jsonb as source,
             ${messageId}::bigint as message_id),
    -- Get-or-create by key: 'do update' returns an existing session's row as well, and takes
    -- its row lock for the rest of the transaction (a session's triggers are serial).
    by_key as (
      insert into sessions as x (key, profile, dispatch)
      select k.key, k.profile, k.dispatch from k where k.key is not null
      on conflict (key) do update set updated_at = now()
      returning x.id, x.profile, x.dispatch),
    -- By id, touched as a new message touches it (sessions/store.ts insertMessage).
    touched as (
      update sessions x set updated_at = now() from k
       where x.id = k.session_id and k.role is not null
      returning x.id, x.profile, x.dispatch),
    s as (
      select * from by_key union all select * from touched
      union all select x.id, x.profile, x.dispatch from sessions x join k on x.id = k.session_id
       where k.role is null),
    new_message as (
      insert into messages (session_id, role, content, source)
      select s.id, k.role, k.content, k.source from s cross join k where k.role is not null
      returning id),
    m as (
      select id from new_message
      union all select k.message_id from k where k.message_id is not null),
    task as (
      insert into tasks as t (session_id, message_id, external, status, started_at, profile,
                              prompt, scope, execution, dispatch, timeout_ms, max_attempts,
                              idempotency_key, delivery_id, trace_parent)
      select coalesce(s.id, k.session_id), m.id, k.status = 'running', k.status,
             case when k.status = 'running' then now() end,
             -- An external task takes nothing from its session: no profile runs it.
             coalesce(${task.profile}::text, case when k.status = 'pending' then s.profile end),
             ${task.prompt}, ${task.scope}::text[], ${sql.json(task.execution as never)},
             coalesce(${asJson(task.dispatch)}::jsonb,
                      case when k.status = 'pending' then s.dispatch end),
             ${task.timeoutMs}::integer, ${task.maxAttempts}::integer, ${task.idempotencyKey}::text,
             ${task.deliveryId}::uuid, ${task.traceParent ?? null}::text
        from k left join s on true left join m on true
       where k.status is not null
      on conflict (idempotency_key) do nothing
      returning t.id::text, t.seq::text, t.profile, t.session_id::text as "sessionId"),
    inserted as (
      insert into task_events (task_id, type, data)
      select task.id::uuid, k.event,
             case when k.event = 'task:created'
                  then jsonb_build_object('profile', task.profile, 'sessionId', task."sessionId",
                                          'seq', task.seq)
                  else '{}'::jsonb end || ${sql.json((task.event?.data ?? {}) as never)}::jsonb
        from task cross join k
       where k.event is not null
      returning *),
    ${fanOut(sql)}
    select s.id::text as "_sessionId", m.id::text as "_messageId", task.*,
           inserted.seq::text as "_eventSeq", inserted.type as "_eventType",
           inserted.data as "_eventData", inserted.created_at as "_eventCreatedAt"
      from k left join s on true left join m on true left join task on true
      left join inserted on true`;
  return answer(row!);
}

function answer(row: Row): InsertedTask {
  const { _sessionId, _messageId, _eventSeq, _eventType, _eventData, _eventCreatedAt, ...stored } =
    row;
  const taskRow = stored.id === null ? undefined : stored;
  return {
    sessionId: _sessionId ?? taskRow?.sessionId ?? null,
    messageId: _messageId,
    task: taskRow,
    event:
      _eventSeq === null || taskRow === undefined
        ? undefined
        : {
            seq: _eventSeq,
            taskId: taskRow.id,
            type: _eventType!,
            data: _eventData ?? {},
            createdAt: _eventCreatedAt!,
          },
  };
}

/**
 * The shape of every trigger (a webhook delivery's, a policy schedule's): a session by key, a
 * new message in it and a queued task, without insertTask's steering. Its plan is that of
 * deliveries/store.ts:insertTrigger before issue 14; insertTask's CTEs for the other shapes cost
 * PostgreSQL ~50 µs more per trigger (370 vs 320 µs of backend CPU, issue 14 in
 * test/bench/HISTORY.md), and this statement runs for every trigger of every delivery. Its
 * event's type is known (task:created, no hook type), so fanOut leaves out the hook CTE's four
 * joins, which could match nothing.
 */
export async function insertSessionTask(
  sql: Sql,
  session: Extract<TaskSession, { key: string }>,
  message: Extract<TaskMessage, { role: string }>,
  task: TaskFields | null,
): Promise<InsertedTask> {
  const t = task ?? NO_TASK;
  const asJson = (value: Record<string, unknown> | null) =>
    value === null ? null : sql.json(value as never);
  const [row] = await sql<Row[]>`
    with s as (
      insert into sessions as x (key, profile, dispatch)
      values (${session.key}, ${session.profile}::text, ${asJson(session.dispatch)}::jsonb)
      on conflict (key) do update set updated_at = now()
      returning x.id, x.profile, x.dispatch),
    m as (
      insert into messages (session_id, role, content, source)
      select s.id, ${message.role}, ${message.content}, ${asJson(message.source)}::jsonb from s
      returning id, session_id),
    task as (
      insert into tasks as t (session_id, message_id, profile, prompt, scope, execution, dispatch,
                              timeout_ms, max_attempts, idempotency_key, delivery_id, trace_parent)
      select m.session_id, m.id, coalesce(${t.profile}::text, s.profile), ${t.prompt},
             ${t.scope}::text[], ${sql.json(t.execution as never)},
             coalesce(${asJson(t.dispatch)}::jsonb, s.dispatch), ${t.timeoutMs}::integer,
             ${t.maxAttempts}::integer, ${t.idempotencyKey}::text, ${t.deliveryId}::uuid,
             ${t.traceParent ?? null}::text
        from m cross join s
       where ${task !== null}
      on conflict (idempotency_key) do nothing
      returning t.id::text, t.seq::text, t.profile, t.session_id::text as "sessionId"),
    inserted as (
      insert into task_events (task_id, type, data)
      select task.id::uuid, e.type,
             case when e.type = 'task:created'
                  then jsonb_build_object('profile', task.profile, 'sessionId', task."sessionId",
                                          'seq', task.seq)
                  else '{}'::jsonb end || ${sql.json((t.event?.data ?? {}) as never)}::jsonb
        from task cross join (select ${t.event?.type ?? null}::text as type) e
       where e.type is not null
      returning *),
    ${fanOut(sql, 'inserted', t.event ? [t.event.type] : [])}
    select m.session_id::text as "_sessionId", m.id::text as "_messageId", task.*,
           inserted.seq::text as "_eventSeq", inserted.type as "_eventType",
           inserted.data as "_eventData", inserted.created_at as "_eventCreatedAt"
      from m left join task on true left join inserted on true`;
  return answer(row!);
}
