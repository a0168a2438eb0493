import { type Request, Router } from 'express';
import { z } from 'zod';
import type { Pool } from '../db/connect.ts';
import { countQueueDeliveries, listRecentFailedDeliveries } from '../deliveries/store.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import { hasScope, type Scope } from '../keys/scopes.ts';
import { countOutboxRows, listRecentDeadRows } from '../outbox/store.ts';
import { countQueueTasks, listRecentFailedTasks } from '../tasks/store.ts';

/**
 * GET /api/v1/overview (issue 16): the console's first page in one cheap request. Each section
 * is there only when the key holds its read scope (integrations, tasks, deliveries, outbox); a
 * key with none of them gets `{}`. Counts, the oldest pending item's time (the queue's age) and
 * the five newest failures of each queue; the lists themselves are the other routes'.
 */

/** How many recent failures each section lists. */
export const RECENT_FAILURES = 5;

const when = z.string().nullable();

export const OverviewAnswer = z.object({
  integrations: z
    .object({
      counts: z.record(z.string(), z.number()),
      items: z.array(
        z.object({
          name: z.string(),
          state: z.string(),
          reasons: z.number(),
          changed: z.boolean(),
        }),
      ),
    })
    .optional(),
  tasks: z
    .object({
      pending: z.number(),
      running: z.number(),
      oldestPendingAt: when,
      failedLastDay: z.number(),
      recentFailures: z.array(
        z.object({
          id: z.string(),
          profile: z.string().nullable(),
          error: z.string().nullable(),
          finishedAt: when,
        }),
      ),
    })
    .optional(),
  deliveries: z
    .object({
      pending: z.number(),
      processing: z.number(),
      oldestPendingAt: when,
      failed: z.number(),
      recentFailures: z.array(
        z.object({
          id: z.string(),
          integration: z.string(),
          endpoint: z.string(),
          error: z.string().nullable(),
          receivedAt: z.string(),
        }),
      ),
    })
    .optional(),
  outbox: z
    .object({
      pending: z.number(),
      processing: z.number(),
      oldestPendingAt: when,
      dead: z.number(),
      recentDead: z.array(
        z.object({
          id: z.string(),
          kind: z.string(),
          taskId: z.string().nullable(),
          lastError: z.string().nullable(),
          deadAt: when,
        }),
      ),
    })
    .optional(),
});

/** An error line on the overview stays short: the whole text is on the item's own page. */
const short = (text: string | null) =>
  text === null ? null : text.length > 300 ? `${text.slice(0, 299)}…` : text;

export function overviewRoutes(deps: { sql: Pool; registry: IntegrationRegistry }): Router {
  const router = Router();
  const allows = (req: Request, scope: Scope) => hasScope(req.apiKey?.scopes ?? [], scope);

  router.get('/overview', async (req, res) => {
    const sql = deps.sql;
    const answer: z.input<typeof OverviewAnswer> = {};
    if (allows(req, 'integrations:read')) {
      const items = deps.registry.list().map((i) => ({
        name: i.name,
        state: i.state,
        reasons: i.reasons.length,
        changed: (i.toolPins?.pending.size ?? 0) > 0,
      }));
      const counts: Record<string, number> = {};
      for (const i of items) counts[i.state] = (counts[i.state] ?? 0) + 1;
      answer.integrations = { counts, items };
    }
    const [tasks, deliveries, outbox] = await Promise.all([
      allows(req, 'tasks:read')
        ? Promise.all([countQueueTasks(sql), listRecentFailedTasks(sql, RECENT_FAILURES)])
        : undefined,
      allows(req, 'deliveries:read')
        ? Promise.all([countQueueDeliveries(sql), listRecentFailedDeliveries(sql, RECENT_FAILURES)])
        : undefined,
      allows(req, 'outbox:read')
        ? Promise.all([countOutboxRows(sql), listRecentDeadRows(sql, RECENT_FAILURES)])
        : undefined,
    ]);
    if (tasks) {
      const [counts, failed] = tasks;
      answer.tasks = {
        ...counts,
        oldestPendingAt: iso(counts.oldestPendingAt),
        recentFailures: failed.map((t) => ({
          ...t,
          error: short(t.error),
          finishedAt: iso(t.finishedAt),
        })),
      };
    }
    if (deliveries) {
      const [counts, failed] = deliveries;
      answer.deliveries = {
        ...counts,
        oldestPendingAt: iso(counts.oldestPendingAt),
        recentFailures: failed.map((d) => ({
          ...d,
          error: short(d.error),
          receivedAt: iso(d.receivedAt)!,
        })),
      };
    }
    if (outbox) {
      const [counts, dead] = outbox;
      answer.outbox = {
        ...counts,
        oldestPendingAt: iso(counts.oldestPendingAt),
        recentDead: dead.map((o) => ({
          ...o,
          lastError: short(o.lastError),
          deadAt: iso(o.deadAt),
        })),
      };
    }
    res.json(answer);
  });

  return router;
}

function iso(value: Date | string | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}
