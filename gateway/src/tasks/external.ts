import { budgetSchema, formatDuration, parseDuration } from '@switchboard/policy';
import * as z from 'zod';
import { type AuditActor, appendAudit } from '../audit/store.ts';
import type { Pool } from '../db/connect.ts';
import { badRequest, notFound, SwitchboardError } from '../errors.ts';
import { insertTaskEvent } from '../events/store.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import { SCOPE_EXPECTED, SCOPE_PATTERN } from '../tokens/scope.ts';
import type { TokenService } from '../tokens/service.ts';
import { revokeTaskTokens } from '../tokens/store.ts';
import { createExternalTask } from './create.ts';
import { grantTask, requirePolicy } from './grant.ts';
import { insertGrantBudget } from './sql/budgets.ts';
import { insertDispatchRow } from './sql/outbox-row.ts';
import { endTask, findTask, type TaskRow } from './store.ts';

export const ExternalTaskInput = z.strictObject({
  external: z.literal(true, {
    error:
      'expected true: only external tasks (an agent you run yourself) can be created until the task queue exists',
  }),
  scope: z
    .array(z.string().regex(SCOPE_PATTERN, `expected ${SCOPE_EXPECTED}`), {
      error: 'expected a list of scope patterns',
    })
    .min(1, 'expected at least one scope pattern, e.g. "github:*"'),
  ttl: z.string({ error: 'expected a duration such as 15m or 1h30m' }).optional(),
  prompt: z.string().max(100_000, 'expected at most 100000 characters').default(''),
  /**
   * The task's budget (policy/src/budget.ts): an external task has no profile, so the grant's
   * is its only one; the agent's tokens reach no route that changes it (guards/budgets.ts).
   */
  budget: budgetSchema.optional(),
});
export type ExternalTaskInput = z.output<typeof ExternalTaskInput>;

export const EndTaskInput = z.strictObject({
  result: z.string().max(1_000_000, 'expected at most 1000000 characters').optional(),
  reason: z.string().max(10_000, 'expected at most 10000 characters').optional(),
});

export interface TaskDeps {
  sql: Pool;
  tokens: TokenService;
  registry: IntegrationRegistry;
  /** The gateway's public URL (no trailing slash). */
  publicUrl: () => string;
  /**
   * Tells listeners (an event stream, the outbox worker for a completed task's dispatch) after
   * the commit; without it they find the event on their next poll (1 s).
   */
  publish?: PublishTaskEvents | undefined;
}

export interface GrantedTask {
  task: TaskRow;
  expiresAt: string;
  /** The aggregate endpoint and its token (aud = <public>/mcp). */
  mcp: { url: string; token: string };
  /** One endpoint per integration the scope covers, each with its own token (aud = that URL). */
  integrations: Array<{ name: string; url: string; token: string; scope: string[] }>;
}

/**
 * Creates an external task and its tokens in one transaction: one for /mcp and one for each
 * integration the scope covers (the injection bundle gives agents one MCP server per integration).
 */
export async function grantExternalTask(
  deps: TaskDeps,
  input: ExternalTaskInput,
  actor: AuditActor,
): Promise<GrantedTask> {
  const limits = requirePolicy(deps.registry).tokens;
  const ttlMs = input.ttl === undefined ? limits.defaultTtlMs : parseDuration(input.ttl);
  if (ttlMs === undefined || ttlMs <= 0) {
    throw badRequest(
      `invalid task: ttl: found ${JSON.stringify(input.ttl)}, expected a duration such as 15m or 1h30m`,
    );
  }
  if (ttlMs > limits.maxTtlMs) {
    throw badRequest(
      `invalid task: ttl: found ${input.ttl}, expected at most the policy's maxTtl (${formatDuration(limits.maxTtlMs)})`,
    );
  }
  const granted = await deps.sql.begin(async (tx) => {
    const { task, event } = await createExternalTask(tx, {
      scope: input.scope,
      prompt: input.prompt,
      sessionId: null,
      timeoutMs: ttlMs,
      event: {
        type: 'task:running',
        data: {
          external: true,
          scope: input.scope,
          grantedBy: actor.actor,
          ...(input.budget && { budget: input.budget }),
        },
      },
    });
    // Before any token exists: no call of the task can run without its budget.
    if (input.budget) await insertGrantBudget(tx, task.id, input.budget);
    // No profile: the operator's key grants this scope as asked. No built-in server token
    // either: the operator's agent reports through the API (POST /tasks/:id/config has one).
    const grant = await grantTask(
      deps,
      {
        taskId: task.id,
        sessionId: null,
        scope: input.scope,
        profileTools: null,
        ttlMs,
        builtin: false,
      },
      tx,
    );
    const names = grant.integrations.map((i) => i.name);
    await appendAudit(tx, {
      ...actor,
      action: 'tasks.grant',
      target: task.id,
      details: {
        scope: input.scope,
        ttlMs,
        integrations: names,
        ...(input.budget && { budget: input.budget }),
      },
    });
    return {
      event: event!,
      task,
      expiresAt: grant.expiresAt.toISOString(),
      mcp: grant.mcp,
      integrations: grant.integrations,
    };
  });
  const { event, ...result } = granted;
  await deps.publish?.([event]);
  return result;
}

/** Completes or cancels a task; its tokens are revoked in the same transaction. */
export async function finishTask(
  deps: Pick<TaskDeps, 'sql' | 'tokens' | 'publish'>,
  id: string,
  outcome: {
    status: 'complete' | 'cancelled';
    result?: string | undefined;
    reason?: string | undefined;
  },
  actor: AuditActor,
): Promise<TaskRow> {
  if (!z.uuid().safeParse(id).success) throw notFound(`no task ${JSON.stringify(id)}`);
  const { task, revoked, event } = await deps.sql.begin(async (tx) => {
    const task = await endTask(tx, id, {
      status: outcome.status,
      ...(outcome.result === undefined ? {} : { result: outcome.result }),
      ...(outcome.reason === undefined ? {} : { error: outcome.reason }),
    });
    if (!task) {
      const existing = await findTask(tx, id);
      if (!existing) throw notFound(`no task ${JSON.stringify(id)}`);
      throw new SwitchboardError('task_ended', `task ${id} has already ended (${existing.status})`);
    }
    const revoked = await revokeTaskTokens(tx, id);
    // A completed external task is delivered like a queued one; a cancelled one is not.
    if (outcome.status === 'complete') await insertDispatchRow(tx, id);
    const event = await insertTaskEvent(tx, {
      taskId: id,
      type: `task:${outcome.status}`,
      data: { by: actor.actor, ...(outcome.reason ? { reason: outcome.reason } : {}) },
    });
    await appendAudit(tx, {
      ...actor,
      action: `tasks.${outcome.status === 'complete' ? 'complete' : 'cancel'}`,
      target: id,
      details: { revokedTokens: revoked.length },
    });
    return { task, revoked, event };
  });
  await deps.tokens.revoked([id], revoked);
  await deps.publish?.([event]);
  return task;
}
