import type { Pool } from '../db/connect.ts';
import { insertTaskEvent, type TaskEvent } from '../events/store.ts';
import { revokeTaskTokens } from '../tokens/store.ts';
import { requeueLeasedTask } from './sql/worker.ts';

/**
 * Gives a leased task back to the queue (the worker shutting down): pending again for another
 * gateway, this attempt's tokens revoked and a task:requeued event, in one transaction.
 * undefined when the lease is not ours any more.
 */
export async function requeueForShutdown(
  sql: Pool,
  task: { id: string; leaseToken: string },
  owner: string,
): Promise<{ revoked: string[]; event: TaskEvent } | undefined> {
  return sql.begin(async (tx) => {
    const row = await requeueLeasedTask(tx, task.id, task.leaseToken);
    if (!row) return undefined;
    const revoked = await revokeTaskTokens(tx, row.id);
    const event = await insertTaskEvent(tx, {
      taskId: row.id,
      type: 'task:requeued',
      data: { reason: 'shutdown', attempt: row.attempts, owner },
    });
    return { revoked, event };
  });
}
