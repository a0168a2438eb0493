import { Router } from 'express';
import type { Pool } from '../db/connect.ts';
import { getOutboxRow, redriveAllDead, redriveOutboxRow } from '../outbox/entries.ts';
import { listOutboxRows } from '../outbox/store.ts';
import { parseInput } from '../validate.ts';
import { actorOf, requireScope } from './auth.ts';
import { ListOutboxQuery, outboxView } from './schemas-outbox.ts';

/**
 * /api/v1/outbox: task results and subscribed events on their way out (issue 6). Redrive puts
 * a dead letter back to pending with a fresh attempt budget; the workers poll every second, so
 * it goes out within about a second.
 */
export function outboxRoutes(sql: Pool): Router {
  const router = Router();

  router.get('/outbox', requireScope('outbox:read'), async (req, res) => {
    const q = parseInput(ListOutboxQuery, req.query, 'query');
    const rows = await listOutboxRows(sql, {
      status: q.status,
      kind: q.kind,
      taskId: q.taskId,
      beforeId: q.cursor,
      limit: q.limit,
    });
    res.json({
      entries: rows.map(outboxView),
      next: rows.length === q.limit ? (rows.at(-1)?.id ?? null) : null,
    });
  });

  // Before /outbox/:id/redrive only by habit: the paths differ in length, they cannot clash.
  router.post('/outbox/redrive', requireScope('outbox:write'), async (req, res) => {
    res.json({ redriven: await redriveAllDead(sql, actorOf(req)) });
  });

  router.get('/outbox/:id', requireScope('outbox:read'), async (req, res) => {
    res.json({ entry: outboxView(await getOutboxRow(sql, req.params.id as string)) });
  });

  router.post('/outbox/:id/redrive', requireScope('outbox:write'), async (req, res) => {
    const row = await redriveOutboxRow(sql, req.params.id as string, actorOf(req));
    res.json({ entry: outboxView(row) });
  });

  return router;
}
