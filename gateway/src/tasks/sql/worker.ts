import type { Sql } from '../../db/connect.ts';
import type { MessageRow } from '../../sessions/store.ts';
import type { QueueTaskRow } from '../store.ts';

/**
 * The SQL of the task worker and the built-in task tools (issue 5), beside tasks/store.ts:
 * the result an agent hands in with `task_complete` (0003_task_result.sql), and giving a task
 * back at shutdown.
 */

export interface AgentResultState {
  status: QueueTaskRow['status'];
  agentResult: string | null;
}

/**
 * Records the result of `task_complete` on a running task (a later call replaces it: the agent
 * knows best which answer is final); undefined when the task is not running any more.
 */
export async function recordAgentResult(
  sql: Sql,
  taskId: string,
  result: string,
): Promise<{ id: string } | undefined> {
  const [row] = await sql<{ id: string }[]>`
    update tasks set agent_result = ${result}, agent_result_at = now(), updated_at = now()
     where id = ${taskId} and status = 'running'
    returning id::text`;
  return row;
}

export async function readAgentResult(
  sql: Sql,
  taskId: string,
): Promise<AgentResultState | undefined> {
  const [row] = await sql<AgentResultState[]>`
    select status, agent_result as "agentResult" from tasks where id = ${taskId}`;
  return row;
}

/**
 * Puts a running task held with `token` back to pending, due in `runInMs` (a gateway shutting
 * down gives back what it cannot finish, at once; a failed run waits for its retry); the claim
 * that started it still counts as an attempt, so a task that kills every gateway that runs it
 * still ends after max_attempts. Undefined if the lease is lost.
 */
export async function requeueLeasedTask(
  sql: Sql,
  taskId: string,
  token: string,
  runInMs = 0,
): Promise<{ id: string; attempts: number; runAt: Date } | undefined> {
  const [row] = await sql<{ id: string; attempts: number; runAt: Date }[]>`
    update tasks
       set status = 'pending', run_at = now() + ${runInMs}::float8 * interval '1 millisecond',
           updated_at = now(), lease_token = null,
           lease_owner = null, lease_expires_at = null, agent_result = null,
           agent_result_at = null
     where id = ${taskId} and status = 'running' and lease_token = ${token}::uuid
    returning id::text, attempts, run_at as "runAt"`;
  return row;
}

/** The newest message id of a session ('0' for none): ask_user waits for one after it. */
export async function lastMessageId(sql: Sql, sessionId: string): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    select coalesce(max(id), 0)::text as id from messages where session_id = ${sessionId}`;
  return row!.id;
}

/** The `limit` newest messages of a session, oldest first (task_context's history). */
export async function newestMessages(
  sql: Sql,
  sessionId: string,
  limit: number,
): Promise<MessageRow[]> {
  const rows = await sql<MessageRow[]>`
    select id::text, session_id::text as "sessionId", role, content, source,
           created_at as "createdAt"
      from messages m where m.session_id = ${sessionId}
     order by m.id desc limit ${limit}`;
  return rows.reverse();
}
