import type { Pool } from '../db/connect.ts';
import { insertTaskEvent, type TaskEvent } from '../events/store.ts';
import { revokeTaskTokens } from '../tokens/store.ts';
import { requeueLeasedTask } from './sql/requeue.ts';

/**
 * Gives a leased task back to the queue: pending again, this attempt's tokens revoked and a
 * task:requeued event, in one transaction. undefined when the lease is not ours any more.
 */
async function requeueLeased(
  sql: Pool,
  task: { id: string; leaseToken: string },
  runInMs: number,
  data: Record<string, unknown>,
): Promise<{ revoked: string[]; event: TaskEvent } | undefined> {
  return sql.begin(async (tx) => {
    const row = await requeueLeasedTask(tx, task.id, task.leaseToken, runInMs);
    if (!row) return undefined;
    const revoked = await revokeTaskTokens(tx, row.id);
    const event = await insertTaskEvent(tx, {
      taskId: row.id,
      type: 'task:requeued',
      data: {
        ...data,
        attempt: row.attempts,
        ...(runInMs > 0 ? { runAt: new Date(row.runAt).toISOString() } : {}),
      },
    });
    return { revoked, event };
  });
}

/** The worker shutting down: pending at once, for another gateway. */
export function requeueForShutdown(
  sql: Pool,
  task: { id: string; leaseToken: string },
  owner: string,
): Promise<{ revoked: string[]; event: TaskEvent } | undefined> {
  return requeueLeased(sql, task, 0, { reason: 'shutdown', owner });
}

/**
 * A failed run of a profile with `retry:` (policy): pending again in `retryInMs`, its reason
 * and error in the task:requeued event (the row keeps none: it is not failed).
 */
export function requeueForRetry(
  sql: Pool,
  task: { id: string; leaseToken: string },
  failure: { reason: string; error: string | undefined; retryInMs: number; owner: string },
): Promise<{ revoked: string[]; event: TaskEvent } | undefined> {
  const { retryInMs, ...data } = failure;
  return requeueLeased(sql, task, retryInMs, { ...data, retryInMs });
}
