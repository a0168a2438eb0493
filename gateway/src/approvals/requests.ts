import { type AuditActor, appendAudit } from '../audit/store.ts';
import type { Pool, Sql } from '../db/connect.ts';
import { notFound, SwitchboardError } from '../errors.ts';
import { insertTaskEvent, type TaskEvent } from '../events/store.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import {
  type ApprovalKey,
  type ApprovalRow,
  countTaskApprovals,
  decidePending,
  expirePending,
  findApproval,
  findCallApproval,
  insertApproval,
  insertApprovalDispatchRow,
  lockTaskApprovals,
  taskIsLive,
  useApproval,
} from './store.ts';

/**
 * Approval requests (issue 15), one transaction per function: the request with its
 * task:approval_requested event and its announcement to the session (outbox), the decision with
 * its task:approval_decided event and audit entry, the expiry. Each event is published after its
 * commit; every replica's TaskEventWaker hears it, which is how a call held on one gateway learns
 * of a decision taken on another (guards/approvals.ts).
 */

/**
 * 100 requests per task and 5 waiting at once: a person answers a handful per task; a model
 * looping on a held tool (or a hostile one asking for approvals to flood a chat) is refused
 * with approval_limit instead of growing the table and the outbox without bound.
 */
export const MAX_REQUESTS_PER_TASK = 100;
export const MAX_WAITING_PER_TASK = 5;

export interface ApprovalDeps {
  sql: Pool;
  publish: PublishTaskEvents;
}

export interface ApprovalRequest {
  key: ApprovalKey;
  rule: { name: string; timeoutMs: number; message?: string | undefined };
  /** As stored for review (the guard cuts large arguments to a preview). */
  arguments: unknown;
  /** The dispatch types that announce requests (webhook, dispatchers with an approvals handler). */
  announceTypes: readonly string[];
}

export type RequestOutcome =
  /** An approved request of this very call that no call used yet: this call uses it. */
  | { kind: 'approved'; row: ApprovalRow }
  /** A request waits for a decision: made now, or this call's earlier one (a retry). */
  | { kind: 'waiting'; row: ApprovalRow; created: boolean }
  | { kind: 'limit'; message: string }
  /** The task has ended (its token may still be cached): nothing to ask for. */
  | { kind: 'ended' };

/** The approval as a task event's and an announcement's data (no token, no secret in it). */
export function approvalSummary(row: ApprovalRow, message?: string): Record<string, unknown> {
  return {
    id: row.id,
    taskId: row.taskId,
    rule: row.rule,
    integration: row.integration,
    tool: row.tool,
    arguments: row.arguments,
    ...(message === undefined ? {} : { message }),
    expiresAt: row.expiresAt.toISOString(),
  };
}

export async function requestApproval(
  deps: ApprovalDeps,
  request: ApprovalRequest,
): Promise<RequestOutcome> {
  const { key, rule } = request;
  const result = await deps.sql.begin(async (tx) => {
    await lockTaskApprovals(tx, key.taskId);
    if (!(await taskIsLive(tx, key.taskId))) {
      return { outcome: { kind: 'ended' } as const, events: [] };
    }
    const earlier = await findCallApproval(tx, key);
    if (earlier?.status === 'approved' && earlier.usedAt === null) {
      if (await useApproval(tx, earlier.id)) {
        return { outcome: { kind: 'approved', row: earlier } as const, events: [] };
      }
    }
    if (earlier?.status === 'pending') {
      return { outcome: { kind: 'waiting', row: earlier, created: false } as const, events: [] };
    }
    const counts = await countTaskApprovals(tx, key.taskId);
    if (counts.total >= MAX_REQUESTS_PER_TASK || counts.waiting >= MAX_WAITING_PER_TASK) {
      const message =
        counts.total >= MAX_REQUESTS_PER_TASK
          ? `this task asked for ${MAX_REQUESTS_PER_TASK} approvals already; no more are taken`
          : `this task has ${MAX_WAITING_PER_TASK} approvals waiting already; wait for them first`;
      return { outcome: { kind: 'limit', message } as const, events: [] };
    }
    const row = await insertApproval(tx, {
      ...key,
      rule: rule.name,
      arguments: request.arguments,
      timeoutMs: rule.timeoutMs,
    });
    const summary = approvalSummary(row, rule.message);
    const event = await insertTaskEvent(tx, {
      taskId: key.taskId,
      type: 'task:approval_requested',
      data: { approval: summary },
    });
    if (request.announceTypes.length > 0) {
      await insertApprovalDispatchRow(tx, row.id, { approval: summary }, request.announceTypes);
    }
    return { outcome: { kind: 'waiting', row, created: true } as const, events: [event] };
  });
  await publishAll(deps, result.events);
  return result.outcome;
}

/**
 * An operator's decision (API, CLI; any replica). Refused with approval_not_pending when the
 * request was decided already, has expired (a late approval never lets a call through), or its
 * task has ended.
 */
export async function decideApproval(
  deps: ApprovalDeps,
  id: string,
  decision: { status: 'approved' | 'denied'; reason: string | null },
  actor: AuditActor,
): Promise<ApprovalRow> {
  const result = await deps.sql.begin(async (tx) => {
    const row = await decidePending(tx, id, { ...decision, by: actor.actor });
    if (!row) return { row: undefined, events: [] as TaskEvent[] };
    const event = await insertTaskEvent(tx, {
      taskId: row.taskId,
      type: 'task:approval_decided',
      data: decidedData(row),
    });
    await appendAudit(tx, {
      ...actor,
      action: decision.status === 'approved' ? 'approval.approve' : 'approval.deny',
      target: row.id,
      details: {
        taskId: row.taskId,
        rule: row.rule,
        integration: row.integration,
        tool: row.tool,
        ...(decision.reason === null ? {} : { reason: decision.reason }),
      },
    });
    return { row, events: [event] };
  });
  await publishAll(deps, result.events);
  if (result.row) return result.row;
  const current = await findApproval(deps.sql, id);
  if (!current) throw notFound(`approval ${id} not found`);
  throw new SwitchboardError(
    'approval_not_pending',
    `approval ${id} is ${current.status}${current.decidedBy ? ` (by ${current.decidedBy})` : ''}; only a pending one can be decided`,
  );
}

/** Closes a request nobody decided by its expiry: once, by whichever gateway gets there first. */
export async function expireApproval(deps: ApprovalDeps, id: string): Promise<void> {
  const events = await deps.sql.begin(async (tx) => {
    const row = await expirePending(tx, id);
    if (!row) return [];
    return [
      await insertTaskEvent(tx, {
        taskId: row.taskId,
        type: 'task:approval_decided',
        data: decidedData(row),
      }),
    ];
  });
  await publishAll(deps, events);
}

/** Uses an approval the caller saw approved (false: another identical call used it first). */
export function useDecidedApproval(sql: Sql, id: string): Promise<boolean> {
  return useApproval(sql, id);
}

function decidedData(row: ApprovalRow): Record<string, unknown> {
  return {
    approvalId: row.id,
    status: row.status,
    rule: row.rule,
    integration: row.integration,
    tool: row.tool,
    ...(row.decidedBy === null ? {} : { by: row.decidedBy }),
    ...(row.reason === null ? {} : { reason: row.reason }),
  };
}

async function publishAll(deps: ApprovalDeps, events: TaskEvent[]): Promise<void> {
  if (events.length > 0) await deps.publish(events);
}
