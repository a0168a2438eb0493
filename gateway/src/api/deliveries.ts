import { Router } from 'express';
import * as z from 'zod';
import { appendAudit } from '../audit/store.ts';
import type { Pool } from '../db/connect.ts';
import {
  type DeliveryRow,
  findDelivery,
  insertReplay,
  listDeliveries,
} from '../deliveries/store.ts';
import { notFound, SwitchboardError } from '../errors.ts';
import { listDeliveryTasks } from '../tasks/store.ts';
import { parseInput } from '../validate.ts';
import { SECRET_HEADERS } from '../webhooks/signatures.ts';
import { actorOf, requireScope } from './auth.ts';

/**
 * /api/v1/deliveries: what came in through webhooks (and manifest schedule fires), what each
 * became, and a replay that queues a copy of a delivery to be processed again (a new row
 * pointing at the original, so the history of both stays).
 */

export const DeliveryStatus = z.enum(['pending', 'processing', 'done', 'ignored', 'failed']);

export const ListDeliveriesQuery = z.strictObject({
  integration: z.string().min(1).max(100).optional(),
  status: DeliveryStatus.optional(),
  kind: z.enum(['webhook', 'schedule']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.uuid({ error: 'expected the `next` of a previous page' }).optional(),
});

export const DeliveryView = z.object({
  id: z.string(),
  kind: z.enum(['webhook', 'schedule']),
  integration: z.string(),
  endpoint: z.string(),
  deliveryId: z.string(),
  status: DeliveryStatus,
  attempts: z.number(),
  maxAttempts: z.number(),
  runAt: z.string(),
  error: z.string().nullable(),
  result: z.record(z.string(), z.unknown()).nullable(),
  replayOf: z.string().nullable(),
  receivedAt: z.string(),
  processedAt: z.string().nullable(),
});

export const DeliveryListAnswer = z.object({
  deliveries: z.array(DeliveryView),
  next: z.string().nullable(),
});

export const DeliveryAnswer = z.object({
  delivery: DeliveryView.extend({
    headers: z.record(z.string(), z.string()),
    body: z.string(),
    tasks: z.array(
      z.object({ id: z.string(), status: z.string(), sessionId: z.string().nullable() }),
    ),
  }),
});

const view = (d: DeliveryRow): z.output<typeof DeliveryView> => ({
  id: d.id,
  kind: d.kind,
  integration: d.integration,
  endpoint: d.endpoint,
  deliveryId: d.deliveryId,
  status: d.status,
  attempts: d.attempts,
  maxAttempts: d.maxAttempts,
  runAt: d.runAt.toISOString(),
  error: d.error,
  result: d.result,
  replayOf: d.replayOf,
  receivedAt: d.receivedAt.toISOString(),
  processedAt: d.processedAt?.toISOString() ?? null,
});

/**
 * Header names that look like they carry a secret. The webhook route never stores the ones it
 * knows (SECRET_HEADERS); a sender's own (x-gitlab-token, x-webhook-secret, …) is stored, for
 * the handler, but its value is not shown.
 */
const SECRET_LOOKING =
  /secret|token|signature|passw|credential|cookie|authoriz|api-?key|private-?key|(^|-)auth(-|$)/i;

/** The value a hidden header is shown with: it was sent, its value is not for display. */
export const HIDDEN_HEADER = '[hidden]';

/** Stored headers as shown by the API: secret-looking values replaced by HIDDEN_HEADER. */
export function shownHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = SECRET_HEADERS.has(name) || SECRET_LOOKING.test(name) ? HIDDEN_HEADER : value;
  }
  return out;
}

/** Bodies are shown as text up to 64 KiB; the rest is cut (the full bytes stay in the row). */
const MAX_SHOWN_BODY = 64 * 1024;

export function deliveriesRoutes(deps: { sql: Pool; wakeDeliveries?: () => void }): Router {
  const router = Router();
  const find = async (id: string) => {
    const row = z.uuid().safeParse(id).success ? await findDelivery(deps.sql, id) : undefined;
    if (!row) throw notFound(`no delivery ${JSON.stringify(id)}`);
    return row;
  };

  router.get('/deliveries', requireScope('deliveries:read'), async (req, res) => {
    const q = parseInput(ListDeliveriesQuery, req.query, 'query');
    const rows = await listDeliveries(deps.sql, {
      integration: q.integration,
      status: q.status,
      kind: q.kind,
      before: q.cursor,
      limit: q.limit,
    });
    res.json({
      deliveries: rows.map(view),
      next: rows.length === q.limit ? (rows.at(-1)?.id ?? null) : null,
    });
  });

  router.get('/deliveries/:id', requireScope('deliveries:read'), async (req, res) => {
    const row = await find(req.params.id as string);
    const text = row.body.toString('utf8');
    res.json({
      delivery: {
        ...view(row),
        headers: shownHeaders(row.headers),
        body: text.length > MAX_SHOWN_BODY ? `${text.slice(0, MAX_SHOWN_BODY)}…` : text,
        tasks: await listDeliveryTasks(deps.sql, row.id),
      },
    });
  });

  // A copy, not a reset: the original keeps its status and tasks; the copy gets new ones.
  router.post('/deliveries/:id/replay', requireScope('deliveries:write'), async (req, res) => {
    const original = await find(req.params.id as string);
    const actor = actorOf(req);
    const id = await deps.sql.begin(async (tx) => {
      const copy = await insertReplay(tx, original);
      if (copy === undefined) {
        throw new SwitchboardError(
          'replay_ids_taken',
          `every replay id of ${original.id} this gateway tried (${original.deliveryId}:replay:<n>) is held by another delivery of ${original.integration}`,
        );
      }
      await appendAudit(tx, {
        ...actor,
        action: 'deliveries.replay',
        target: original.id,
        details: { replay: copy },
      });
      return copy;
    });
    deps.wakeDeliveries?.();
    const row = (await findDelivery(deps.sql, id))!;
    res.status(201).json({ delivery: view(row) });
  });

  return router;
}
