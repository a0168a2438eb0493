import type { Sql } from '../../db/connect.ts';
import { fanOut } from '../../events/store.ts';
import type { InsertedTask, TaskFields, TaskMessage, TaskSession } from './create.ts';

/** One trigger of insertSessionTasks: insertSessionTask's arguments. */
export interface SessionTaskInput {
  session: Extract<TaskSession, { key: string }>;
  message: Extract<TaskMessage, { role: string }>;
  task: TaskFields | null;
}

type BatchRow = {
  i: number;
  sessionId: string;
  messageId: string;
  id: string | null;
  seq: string | null;
  profile: string | null;
  taskSessionId: string | null;
  eventSeq: string | null;
  eventType: string | null;
  eventData: Record<string, unknown> | null;
  eventCreatedAt: Date | null;
};

/**
 * insertSessionTask for many triggers (a batch of drained deliveries' results) in ONE statement,
 * answered in the input's order: a statement per trigger was most of a drained delivery's
 * round trips. The triggers go as one JSON document (jsonb_to_recordset), and:
 * - sessions are got-or-created once per key, in key order: two batches running at once lock
 *   their sessions in the same order (no 40P01 between them), and a key named twice in the
 *   batch is not updated twice by one statement (which PostgreSQL refuses);
 * - each trigger's message id and task id are drawn first, in input order (nextval, a random
 *   uuid), so rows are matched to their trigger by id, never by the order RETURNING happens
 *   to use; messages and tasks are inserted in input order too, so a session's messages and
 *   its tasks' seq (the order its tasks are claimed in) follow the triggers' order;
 * - a task whose idempotency key is taken inserts nothing (id null in the answer), as there.
 */
export async function insertSessionTasks(
  sql: Sql,
  inputs: readonly SessionTaskInput[],
): Promise<InsertedTask[]> {
  if (inputs.length === 0) return [];
  const doc = inputs.map(({ session, message, task }, i) => ({
    i,
    key: session.key,
    sp: session.profile,
    sd: session.dispatch,
    role: message.role,
    content: message.content,
    source: message.source,
    run: task !== null,
    ...(task !== null && {
      profile: task.profile,
      // A trigger's prompt is its message: sent once (a 2 MB message would go twice).
      ...(task.prompt !== message.content && { prompt: task.prompt }),
      scope: task.scope,
      execution: task.execution,
      dispatch: task.dispatch,
      timeout: task.timeoutMs,
      attempts: task.maxAttempts,
      ikey: task.idempotencyKey,
      delivery: task.deliveryId,
      trace: task.traceParent ?? null,
      event: task.event?.type ?? null,
      edata: task.event?.data ?? {},
    }),
  }));
  const types = [...new Set(inputs.flatMap((t) => (t.task?.event ? [t.task.event.type] : [])))];
  const rows = await sql<BatchRow[]>`
    with v as (
      select * from jsonb_to_recordset(${JSON.stringify(doc)}::text::jsonb) as v(
        i int, key text, sp text, sd jsonb, role text, content text, source jsonb, run boolean,
        profile text, prompt text, scope jsonb, execution jsonb, dispatch jsonb, timeout integer,
        attempts integer, ikey text, delivery uuid, trace text, event text, edata jsonb)),
    ids as materialized (
      select v.i, nextval('messages_id_seq') as message_id, gen_random_uuid() as task_id
        from v order by v.i),
    s as (
      insert into sessions as x (key, profile, dispatch)
      select distinct on (v.key) v.key, v.sp, v.sd from v order by v.key, v.i
      on conflict (key) do update set updated_at = now()
      returning x.id, x.key, x.profile, x.dispatch),
    m as (
      insert into messages (id, session_id, role, content, source) overriding system value
      select ids.message_id, s.id, v.role, v.content, v.source
        from v join ids on ids.i = v.i join s on s.key = v.key
       order by v.i
      returning id),
    task as (
      insert into tasks as t (id, session_id, message_id, profile, prompt, scope, execution,
                              dispatch, timeout_ms, max_attempts, idempotency_key, delivery_id,
                              trace_parent)
      select ids.task_id, s.id, ids.message_id, coalesce(v.profile, s.profile),
             coalesce(v.prompt, v.content),
             array(select jsonb_array_elements_text(v.scope)), v.execution,
             coalesce(v.dispatch, s.dispatch), v.timeout, v.attempts, v.ikey, v.delivery, v.trace
        from v join ids on ids.i = v.i join s on s.key = v.key
       where v.run
       order by v.i
      on conflict (idempotency_key) do nothing
      returning t.id, t.seq, t.profile, t.session_id),
    inserted as (
      insert into task_events (task_id, type, data)
      select task.id, v.event,
             case when v.event = 'task:created'
                  then jsonb_build_object('profile', task.profile, 'sessionId', task.session_id::text,
                                          'seq', task.seq::text)
                  else '{}'::jsonb end || v.edata
        from task join ids on ids.task_id = task.id join v on v.i = ids.i
       where v.event is not null
       order by v.i
      returning *),
    ${fanOut(sql, 'inserted', types)}
    select v.i, s.id::text as "sessionId", ids.message_id::text as "messageId",
           task.id::text, task.seq::text, task.profile, task.session_id::text as "taskSessionId",
           inserted.seq::text as "eventSeq", inserted.type as "eventType",
           inserted.data as "eventData", inserted.created_at as "eventCreatedAt"
      from v join ids on ids.i = v.i join s on s.key = v.key
      left join task on task.id = ids.task_id
      left join inserted on inserted.task_id = task.id
     order by v.i`;
  return rows.map((r) => {
    const task =
      r.id === null
        ? undefined
        : { id: r.id, seq: r.seq!, profile: r.profile, sessionId: r.taskSessionId };
    return {
      sessionId: r.sessionId,
      messageId: r.messageId,
      task,
      event:
        r.eventSeq === null || task === undefined
          ? undefined
          : {
              seq: r.eventSeq,
              taskId: task.id,
              type: r.eventType!,
              data: r.eventData ?? {},
              createdAt: r.eventCreatedAt!,
            },
    };
  });
}
