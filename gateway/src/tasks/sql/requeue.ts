import type { Sql } from '../../db/connect.ts';

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
