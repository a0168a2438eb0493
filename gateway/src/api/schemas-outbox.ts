import * as z from 'zod';
import type { OutboxRow, SubscriptionRow } from '../outbox/store.ts';
import { iso, ListTasksQuery, Timestamp } from './schemas.ts';

/**
 * The zod schemas of the /api/v1 outbox and event-subscription queries and answers (split from
 * schemas.ts, which holds the tasks' and sessions'; same rules: routes and openapi.ts share them).
 */

// ── Outbox and event subscriptions (issue 6)

export const OUTBOX_STATUSES = ['pending', 'processing', 'delivered', 'dead'] as const;

export const ListOutboxQuery = z.strictObject({
  status: z
    .enum(OUTBOX_STATUSES, { error: `expected one of ${OUTBOX_STATUSES.join(', ')}` })
    .optional(),
  kind: z.enum(['dispatch', 'event'], { error: 'expected dispatch or event' }).optional(),
  taskId: z.uuid({ error: 'expected a task id' }).optional(),
  limit: ListTasksQuery.shape.limit,
  cursor: ListTasksQuery.shape.cursor,
});

export const OutboxView = z.object({
  id: z.string(),
  kind: z.enum(['dispatch', 'event']),
  taskId: z.uuid().nullable(),
  /** config.secret of a webhook target is shown as "***". */
  target: z.record(z.string(), z.unknown()),
  payload: z.record(z.string(), z.unknown()),
  status: z.enum(OUTBOX_STATUSES),
  attempts: z.int(),
  maxAttempts: z.int(),
  nextAttemptAt: Timestamp,
  lastError: z.string().nullable(),
  attemptLog: z.array(
    z.object({
      at: z.string(),
      attempt: z.int(),
      status: z.int().optional(),
      error: z.string().optional(),
    }),
  ),
  createdAt: Timestamp,
  deliveredAt: Timestamp.nullable(),
  deadAt: Timestamp.nullable(),
});
export type OutboxView = z.output<typeof OutboxView>;

export function outboxView(row: OutboxRow): OutboxView {
  const config = row.target.config as Record<string, unknown> | undefined;
  const target =
    config && typeof config.secret === 'string'
      ? { ...row.target, config: { ...config, secret: '***' } }
      : row.target;
  return {
    id: row.id,
    kind: row.kind,
    taskId: row.taskId,
    target,
    payload: row.payload,
    status: row.status,
    attempts: row.attempts,
    maxAttempts: row.maxAttempts,
    nextAttemptAt: row.nextAttemptAt.toISOString(),
    lastError: row.lastError,
    attemptLog: row.attemptLog,
    createdAt: row.createdAt.toISOString(),
    deliveredAt: iso(row.deliveredAt),
    deadAt: iso(row.deadAt),
  };
}

export const OutboxAnswer = z.object({ entry: OutboxView });
export const OutboxListAnswer = z.object({
  entries: z.array(OutboxView),
  next: z.string().nullable(),
});
export const RedriveAllAnswer = z.object({ redriven: z.int() });

export const SubscriptionView = z.object({
  id: z.uuid(),
  url: z.string(),
  types: z.array(z.string()),
  description: z.string().nullable(),
  createdBy: z.string().nullable(),
  createdAt: Timestamp,
});
export type SubscriptionView = z.output<typeof SubscriptionView>;

export const subscriptionView = (s: SubscriptionRow): SubscriptionView => ({
  id: s.id,
  url: s.url,
  types: s.types,
  description: s.description,
  createdBy: s.createdBy,
  createdAt: s.createdAt.toISOString(),
});

export const SubscriptionAnswer = z.object({ subscription: SubscriptionView });
/** The signing secret is in this answer and nowhere else. */
export const CreatedSubscriptionAnswer = z.object({
  subscription: SubscriptionView,
  secret: z.string().startsWith('whsec_'),
});
export const SubscriptionListAnswer = z.object({ subscriptions: z.array(SubscriptionView) });
