import type { Sql } from '../db/connect.ts';

export type TaskStatus = 'pending' | 'running' | 'complete' | 'failed' | 'cancelled';

export interface TaskRow {
  id: string;
  sessionId: string | null;
  external: boolean;
  status: TaskStatus;
  prompt: string;
  scope: string[];
  result: string | null;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

const columns = (sql: Sql) =>
  sql`id::text, session_id::text as "sessionId", external, status, prompt, scope, result, error,
      created_at as "createdAt", started_at as "startedAt", finished_at as "finishedAt"`;

/**
 * An external task: an agent the operator runs themselves. It is running from the start (there
 * is nothing to queue) and lives until it is completed or cancelled; its tokens expire on their
 * own schedule meanwhile.
 */
export async function insertExternalTask(
  sql: Sql,
  task: { scope: string[]; prompt: string; sessionId: string | null },
): Promise<TaskRow> {
  const [row] = await sql<TaskRow[]>`
    insert into tasks (external, status, scope, prompt, session_id, started_at)
    values (true, 'running', ${task.scope}, ${task.prompt}, ${task.sessionId}, now())
    returning ${columns(sql)}`;
  return row!;
}

export async function findTask(sql: Sql, id: string): Promise<TaskRow | undefined> {
  const [row] = await sql<TaskRow[]>`select ${columns(sql)} from tasks where id = ${id}`;
  return row;
}

/**
 * Ends a task that is still pending or running; undefined if it had already ended (or is
 * unknown). The row lock makes two concurrent ends settle on one outcome.
 */
export async function endTask(
  sql: Sql,
  id: string,
  outcome: { status: 'complete' | 'failed' | 'cancelled'; result?: string; error?: string },
): Promise<TaskRow | undefined> {
  const [row] = await sql<TaskRow[]>`
    update tasks
       set status = ${outcome.status}, result = ${outcome.result ?? null},
           error = ${outcome.error ?? null}, finished_at = now(), updated_at = now(),
           lease_token = null, lease_expires_at = null
     where id = ${id} and status in ('pending', 'running')
    returning ${columns(sql)}`;
  return row;
}

export async function appendTaskEvent(
  sql: Sql,
  event: { taskId: string; type: string; data: Record<string, unknown> },
): Promise<void> {
  await sql`
    insert into task_events (task_id, type, data)
    values (${event.taskId}, ${event.type}, ${sql.json(event.data as never)})`;
}
