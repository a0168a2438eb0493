import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { decideApproval } from '../approvals/requests.ts';
import {
  APPROVAL_STATUSES,
  type ApprovalRow,
  findApproval,
  listApprovals,
} from '../approvals/store.ts';
import type { Pool } from '../db/connect.ts';
import { notFound } from '../errors.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import { parseInput } from '../validate.ts';
import { actorOf, requireScope } from './auth.ts';
import { requireOperatorKey } from './integration-key-bounds.ts';
import { ListTasksQuery } from './schemas.ts';

/**
 * /api/v1/approvals (issue 15): the requests that policy `approvals` rules hold, listed and
 * decided by an operator (approvals:read, approvals:write). An integration's process key is
 * refused whatever its scopes: integration code is untrusted, and it must not approve the calls
 * of the agents it serves. The held call learns of a decision over the task event bus
 * (guards/approvals.ts), on whichever replica holds it.
 */

/**
 * 1000 characters: a sentence or two for the agent's tool error and the audit log. No control
 * characters but tab and newline: the reason is printed in terminals (`task watch`) and
 * Postgres text refuses NUL.
 */
export const REASON_MAX = 1000;
const Reason = z
  .string({ error: 'expected the reason as a string' })
  .trim()
  .min(1, 'expected a reason of 1 to 1000 characters')
  .max(REASON_MAX, `expected at most ${REASON_MAX} characters`)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
  .refine((s) => !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(s), {
    message: 'expected no control characters (tab and newline are allowed)',
  });

export const ApproveBody = z.strictObject({ reason: Reason.optional() });
export const DenyBody = z.strictObject({ reason: Reason });

const ApprovalId = z.uuid({ error: 'expected an approval id (a UUID)' });

export const ListApprovalsQuery = z.strictObject({
  status: z
    .enum(APPROVAL_STATUSES, { error: `expected one of ${APPROVAL_STATUSES.join(', ')}` })
    .optional(),
  task: z.uuid({ error: 'expected a task id' }).optional(),
  limit: ListTasksQuery.shape.limit,
  cursor: ListTasksQuery.shape.cursor,
});

const Timestamp = z.iso.datetime({ offset: true });

export const ApprovalView = z.object({
  id: z.uuid(),
  taskId: z.uuid(),
  rule: z.string(),
  integration: z.string(),
  tool: z.string(),
  /** As stored for review: over 16 KiB of JSON, {truncated: true, preview}. */
  arguments: z.unknown(),
  status: z.enum(APPROVAL_STATUSES),
  requestedAt: Timestamp,
  expiresAt: Timestamp,
  decidedAt: Timestamp.nullable(),
  /** `key:<prefix>` of the operator key that decided; null while pending or when expired. */
  decidedBy: z.string().nullable(),
  reason: z.string().nullable(),
  /** When the approved call went through (an approval lets one call through). */
  usedAt: Timestamp.nullable(),
});
export type ApprovalView = z.output<typeof ApprovalView>;

export const ApprovalAnswer = z.object({ approval: ApprovalView });
export const ApprovalListAnswer = z.object({
  approvals: z.array(ApprovalView),
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  next: z.string().nullable(),
});

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export const approvalView = (row: ApprovalRow): ApprovalView => ({
  id: row.id,
  taskId: row.taskId,
  rule: row.rule,
  integration: row.integration,
  tool: row.tool,
  arguments: row.arguments,
  status: row.status,
  requestedAt: row.requestedAt.toISOString(),
  expiresAt: row.expiresAt.toISOString(),
  decidedAt: iso(row.decidedAt),
  decidedBy: row.decidedBy,
  reason: row.reason,
  usedAt: iso(row.usedAt),
});

const WHAT = 'approvals are listed and decided with operator keys only';

export function approvalsRoutes(deps: { sql: Pool; publish: PublishTaskEvents }): Router {
  const router = Router();
  const idOf = (raw: unknown): string => parseInput(ApprovalId, raw, 'approval id');

  router.get('/approvals', requireScope('approvals:read'), async (req, res) => {
    requireOperatorKey(req.apiKey, WHAT);
    const q = parseInput(ListApprovalsQuery, req.query, 'query');
    const rows = await listApprovals(deps.sql, {
      status: q.status,
      taskId: q.task,
      beforeSeq: q.cursor,
      limit: q.limit,
    });
    res.json({
      approvals: rows.map(approvalView),
      next: rows.length === q.limit ? (rows.at(-1)?.seq ?? null) : null,
    });
  });

  router.get('/approvals/:id', requireScope('approvals:read'), async (req, res) => {
    requireOperatorKey(req.apiKey, WHAT);
    const id = idOf(req.params.id);
    const row = await findApproval(deps.sql, id);
    if (!row) throw notFound(`approval ${id} not found`);
    res.json({ approval: approvalView(row) });
  });

  const decide = (status: 'approved' | 'denied') =>
    async function decideRoute(req: Request, res: Response) {
      requireOperatorKey(req.apiKey, WHAT);
      const id = idOf(req.params.id);
      const body = parseInput(
        status === 'approved' ? ApproveBody : DenyBody,
        req.body ?? {},
        'request',
      );
      const row = await decideApproval(
        deps,
        id,
        { status, reason: body.reason ?? null },
        actorOf(req),
      );
      res.json({ approval: approvalView(row) });
    };
  router.post('/approvals/:id/approve', requireScope('approvals:write'), decide('approved'));
  router.post('/approvals/:id/deny', requireScope('approvals:write'), decide('denied'));

  return router;
}
