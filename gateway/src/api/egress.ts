import { Router } from 'express';
import { z } from 'zod';
import type { Sql } from '../db/connect.ts';
import { listEgressConnections } from '../egress/store.ts';
import { parseInput } from '../validate.ts';
import { requireScope } from './auth.ts';

/**
 * GET /api/v1/egress: the egress proxy's connection log, newest first (issue 21). Each filter
 * narrows (exact matches; `since` inclusive); `before` is the previous page's `next`, an id
 * compared as a number. Read with `audit:read`: it is the audit of where integrations went.
 */
export const EgressQuery = z.strictObject({
  limit: z.coerce
    .number({ error: 'expected a whole number from 1 to 500' })
    .int('expected a whole number from 1 to 500')
    .min(1, 'expected a whole number from 1 to 500')
    .max(500, 'expected a whole number from 1 to 500')
    .default(100),
  before: z
    .string()
    .regex(/^[1-9][0-9]{0,18}$/, 'expected a connection id (the `next` of a previous page)')
    .optional(),
  integration: z.string().min(1).max(100).optional(),
  outcome: z
    .enum(['allowed', 'refused', 'failed'], { error: 'expected allowed, refused or failed' })
    .optional(),
  host: z.string().min(1).max(253).optional(),
  task: z.uuid({ error: 'expected a task id (a UUID)' }).optional(),
  since: z.iso
    .datetime({
      offset: true,
      error: 'expected an ISO 8601 time with its offset, e.g. 2026-01-31T12:00:00Z',
    })
    .optional(),
});

export function egressRoutes(sql: Sql): Router {
  const router = Router();
  router.get('/egress', requireScope('audit:read'), async (req, res) => {
    const q = parseInput(EgressQuery, req.query, 'query');
    const connections = await listEgressConnections(sql, {
      limit: q.limit,
      beforeId: q.before,
      integration: q.integration,
      outcome: q.outcome,
      host: q.host?.toLowerCase(),
      taskId: q.task,
      since: q.since === undefined ? undefined : new Date(q.since),
    });
    res.json({ connections, next: connections.length === q.limit ? connections.at(-1)?.id : null });
  });
  return router;
}
