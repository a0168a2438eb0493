import { type Budget, combineBudgets, type Policy } from '@switchboard/policy';
import * as z from 'zod';
import type { Sql } from '../db/connect.ts';
import { readBudgetUse } from '../tasks/sql/budgets.ts';
import type { QueueTaskRow } from '../tasks/store.ts';

/**
 * A task's budget in its API view (GET /api/v1/tasks/:id, `switchboard task watch`): the limits
 * it runs under (its profile's in the current policy, its grant's, the smaller of each) and what
 * it has used. Null for a task without a budget. One primary-key read.
 */
export const TaskBudgetView = z
  .object({
    limits: z.object({
      toolCalls: z.int().optional(),
      perTool: z.record(z.string(), z.int()).optional(),
      upstreamBytes: z.number().optional(),
      wallTimeMs: z.number().optional(),
    }),
    calls: z.int(),
    perTool: z.record(z.string(), z.int()),
    upstreamBytes: z.number(),
    /** The limits that refused a call: toolCalls, perTool:<pattern>, upstreamBytes, wallTime. */
    exceeded: z.array(z.string()),
  })
  .nullable();
export type TaskBudgetView = z.output<typeof TaskBudgetView>;

export async function taskBudgetView(
  sql: Sql,
  policy: Policy | undefined,
  task: Pick<QueueTaskRow, 'id' | 'profile'>,
): Promise<TaskBudgetView> {
  const profileBudget = task.profile ? policy?.profiles[task.profile]?.budget : undefined;
  const use = await readBudgetUse(sql, task.id);
  const limits: Budget | undefined = combineBudgets(profileBudget, use?.limits ?? undefined);
  if (!limits) return null;
  return {
    limits,
    calls: use?.calls ?? 0,
    perTool: use?.perTool ?? {},
    upstreamBytes: use?.upstreamBytes ?? 0,
    exceeded: use?.exceeded ?? [],
  };
}
