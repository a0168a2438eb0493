import type { Sql } from '../../db/connect.ts';
import type { QueueTaskRow } from '../store.ts';

/**
 * The result an agent hands in with `task_complete` (0003_task_result.sql): written by the
 * built-in task tools (mcp/task-tools.ts), read by the task worker when the run ends.
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
