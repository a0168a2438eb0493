import { Router } from 'express';
import { z } from 'zod';
import { listAudit } from '../audit/store.ts';
import type { Sql } from '../db/connect.ts';
import { parseInput } from '../validate.ts';
import { requireScope } from './auth.ts';

const time = z.iso.datetime({
  offset: true,
  error: 'expected an ISO 8601 time with its offset, e.g. 2026-01-31T12:00:00Z',
});

/**
 * GET /api/v1/audit: newest first, each filter narrowing (exact matches; `since` inclusive,
 * `until` exclusive). `before` is the previous page's `next`: an id, compared as a number.
 */
export const AuditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z
    .string()
    .regex(/^[1-9][0-9]{0,18}$/, 'expected an audit entry id (the `next` of a previous page)')
    .optional(),
  action: z.string().min(1).max(100).optional(),
  actor: z.string().min(1).max(200).optional(),
  target: z.string().min(1).max(200).optional(),
  since: time.optional(),
  until: time.optional(),
});

export function auditRoutes(sql: Sql): Router {
  const router = Router();
  router.get('/audit', requireScope('audit:read'), async (req, res) => {
    const q = parseInput(AuditQuery, req.query, 'query');
    const entries = await listAudit(sql, {
      limit: q.limit,
      beforeId: q.before,
      action: q.action,
      actor: q.actor,
      target: q.target,
      since: q.since === undefined ? undefined : new Date(q.since),
      until: q.until === undefined ? undefined : new Date(q.until),
    });
    res.json({ entries, next: entries.length === q.limit ? entries.at(-1)?.id : null });
  });
  return router;
}
