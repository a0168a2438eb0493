import { Router } from 'express';
import { z } from 'zod';
import { listAudit } from '../audit/store.ts';
import type { Sql } from '../db/connect.ts';
import { parseInput } from '../validate.ts';
import { requireScope } from './auth.ts';

const query = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.string().regex(/^\d+$/, 'expected an audit entry id').optional(),
  action: z.string().max(100).optional(),
});

export function auditRoutes(sql: Sql): Router {
  const router = Router();
  router.get('/audit', requireScope('audit:read'), async (req, res) => {
    const q = parseInput(query, req.query, 'query');
    const entries = await listAudit(sql, { limit: q.limit, beforeId: q.before, action: q.action });
    res.json({ entries, next: entries.length === q.limit ? entries.at(-1)?.id : null });
  });
  return router;
}
