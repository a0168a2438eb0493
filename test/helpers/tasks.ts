import { expect } from 'vitest';
import type { Pool } from '../../gateway/src/db/connect.ts';
import { getQueueTask } from '../../gateway/src/tasks/queue.ts';

/** Waits (30 s at most) until a queued task has ended, then answers its row. */
export async function taskEnded(sql: Pool, taskId: string) {
  await expect
    .poll(async () => (await getQueueTask(sql, taskId)).status, { timeout: 30_000, interval: 50 })
    .toMatch(/^(complete|failed|cancelled)$/);
  return getQueueTask(sql, taskId);
}
