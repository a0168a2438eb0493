import type { Sql } from '../../db/connect.ts';
import { fanOut, type TaskEvent } from '../../events/store.ts';
import type { MessageRow } from '../../sessions/store.ts';
import { type QueueTaskRow, queueTaskColumns } from '../store.ts';

/**
 * The one statement that creates a task (tasks/create.ts says who calls it): the session
 * (get-or-create by key, or an existing one by id), a message in it, the task and its first
 * event fanned out to the event subscriptions (an 'event' outbox row each). One round trip: the
 * ~5 it replaced were most of a webhook delivery's cost (test/bench/RESULTS.md, issue 6).
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
}

export interface NewTask {
  session: TaskSession | null;
  message: TaskMessage | null;
  /** null: only the session and its message (a trigger with `run: false`). */
  task: TaskFields | null;
}

export interface InsertedTask {
  sessionId: string | null;
  messageId: string | null;
  /** undefined: no task was asked for, or its idempotency key is taken. */
  task: QueueTaskRow | undefined;
  event: TaskEvent | undefined;
}

/** Stands in for the task of a statement that creates none (`where false` inserts nothing). */
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

type Row = QueueTaskRow & {
  _sessionId: string | null;
  _messageId: string | null;
  _eventSeq: string | null;
  _eventType: string | null;
  _eventData: Record<string, unknown> | null;
  _eventCreatedAt: Date | null;
};

function sessionQuery(sql: Sql, session: TaskSession | null, touch: boolean) {
  const json = (value: Record<string, unknown> | null) =>
    value === null ? null : sql.json(value as never);
  if (session !== null && 'key' in session) {
    // `do update` returns an existing session's row as well, and takes its row lock for the
    // rest of the transaction: a session's triggers are serial.
    return sql`
      insert into sessions as x (key, profile, dispatch)
      values (${session.key}, ${session.profile}::text, ${json(session.dispatch)}::jsonb)
      on conflict (key) do update set updated_at = now()
      returning x.id, x.profile, x.dispatch`;
  }
  const id = session?.id ?? null;
  if (touch) {
    return sql`
      update sessions x set updated_at = now() where x.id = ${id}::uuid
      returning x.id, x.profile, x.dispatch`;
  }
  return sql`select x.id, x.profile, x.dispatch from sessions x where x.id = ${id}::uuid`;
}

function messageQuery(sql: Sql, message: TaskMessage | null) {
  if (message === null) return sql`select null::bigint as id`;
  if ('id' in message) return sql`select ${message.id}::bigint as id`;
  return sql`
    insert into messages (session_id, role, content, source)
    select s.id, ${message.role}, ${message.content},
           ${message.source === null ? null : sql.json(message.source as never)}::jsonb
      from s
    returning id`;
}

export async function insertTask(sql: Sql, t: NewTask): Promise<InsertedTask> {
  const task = t.task ?? NO_TASK;
  const newMessage = t.message !== null && !('id' in t.message);
  const byId = t.session !== null && 'id' in t.session ? t.session.id : null;
  const created = task.event?.type === 'task:created';
  // An external task takes nothing from its session: no profile runs it, it dispatches nothing.
  const inherit = (column: 'profile' | 'dispatch') =>
    task.external ? sql`null` : sql`s.${sql(column)}`;
  const [row] = await sql<Row[]>`
    with s as (${sessionQuery(sql, t.session, newMessage)}),
    m as (${messageQuery(sql, t.message)}),
    task as (
      insert into tasks as t (session_id, message_id, external, status, started_at, profile,
                              prompt, scope, execution, dispatch, timeout_ms, max_attempts,
                              idempotency_key, delivery_id)
      select coalesce(s.id, ${byId}::uuid), m.id, ${task.external},
             ${task.external ? 'running' : 'pending'},
             case when ${task.external} then now() end,
             coalesce(${task.profile}::text, ${inherit('profile')}), ${task.prompt},
             ${task.scope}::text[], ${sql.json(task.execution as never)},
             coalesce(${task.dispatch === null ? null : sql.json(task.dispatch as never)}::jsonb,
                      ${inherit('dispatch')}),
             ${task.timeoutMs}::integer, ${task.maxAttempts}::integer, ${task.idempotencyKey}::text,
             ${task.deliveryId}::uuid
        from (select 1) one left join s on true left join m on true
       where ${t.task !== null}
      on conflict (idempotency_key) do nothing
      returning ${queueTaskColumns(sql)}),
    inserted as (
      insert into task_events (task_id, type, data)
      select task.id::uuid, ${task.event?.type ?? ''},
             ${
               created
                 ? sql`jsonb_build_object('profile', task.profile, 'sessionId', task."sessionId",
                                          'seq', task.seq) || `
                 : sql``
             }${sql.json((task.event?.data ?? {}) as never)}::jsonb
        from task
       where ${task.event !== null}
      returning *),
    ${fanOut(sql)}
    select s.id::text as "_sessionId", m.id::text as "_messageId", task.*,
           inserted.seq::text as "_eventSeq", inserted.type as "_eventType",
           inserted.data as "_eventData", inserted.created_at as "_eventCreatedAt"
      from (select 1) one left join s on true left join m on true left join task on true
      left join inserted on true`;
  const { _sessionId, _messageId, _eventSeq, _eventType, _eventData, _eventCreatedAt, ...stored } =
    row!;
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
