import type { Sql } from '../db/connect.ts';

/**
 * task_events: append-only, ordered by `seq` (a bigint identity, returned as text like every
 * bigint id here; it is the SSE event id). Rows are written in the transaction of the change
 * they describe, so a reader never sees an event of a change that rolled back.
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

export async function insertTaskEvent(sql: Sql, event: NewTaskEvent): Promise<TaskEvent> {
  const [row] = await sql<TaskEvent[]>`
    insert into task_events (task_id, type, data)
    values (${event.taskId}, ${event.type}, ${sql.json((event.data ?? {}) as never)})
    returning ${columns(sql)}`;
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
      returning *)
    select ${columns(sql)} from inserted order by seq`;
}

/** The events of a task after `afterSeq` (exclusive; SSE Last-Event-ID), oldest first. */
export async function listTaskEvents(
  sql: Sql,
  taskId: string,
  options: { afterSeq?: string | undefined; limit: number },
): Promise<TaskEvent[]> {
  return sql<TaskEvent[]>`
    select ${columns(sql)} from task_events
     where task_id = ${taskId} and seq > ${options.afterSeq ?? '0'}::bigint
     order by seq
     limit ${options.limit}`;
}
