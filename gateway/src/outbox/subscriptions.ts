import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { type AuditActor, appendAudit } from '../audit/store.ts';
import type { Pool, Sql } from '../db/connect.ts';
import { notFound } from '../errors.ts';
import { decryptSecret, encryptSecret } from '../secrets/cipher.ts';
import { generateWebhookSecret } from './sign.ts';
import {
  findActiveSubscriptionSecret,
  insertSubscription,
  listActiveSubscriptions,
  type SubscriptionRow,
  softDeleteSubscription,
} from './store.ts';

/**
 * Operators' event subscriptions (0004 event_subscriptions): matching task events are POSTed to
 * `url` through the outbox (events/store.ts writes the rows with the event), signed with the
 * subscription's Standard Webhooks secret. The secret is shown once, at creation, and stored
 * encrypted under the master key with the associated data `subscription/<id>`.
 */

/** http(s) only; where it may point (SSRF) is the HTTP client's decision at delivery time. */
export const SubscriptionUrl = z
  .url({ protocol: /^https?$/, error: 'expected an http(s) URL' })
  .max(2_000, 'expected at most 2000 characters');

/** 'task:done', 'task:*', 'dispatch:*' or '*'. */
export const EventTypePattern = z
  .string()
  .regex(
    /^(\*|[a-z][a-z0-9_]{0,39}:(\*|[a-z][a-z0-9_]{0,39}))$/,
    'expected an event type such as "task:done", a prefix such as "task:*", or "*"',
  );

export const SubscriptionInput = z.strictObject({
  url: SubscriptionUrl,
  types: z
    .array(EventTypePattern, { error: 'expected a list of event types' })
    .min(1, 'expected at least one event type')
    .max(50, 'expected at most 50 event types'),
  description: z.string().max(500, 'expected at most 500 characters').optional(),
});
export type SubscriptionInput = z.output<typeof SubscriptionInput>;

const aad = (id: string) => `subscription/${id}`;

export async function createSubscription(
  sql: Pool,
  masterKey: Buffer,
  input: SubscriptionInput,
  actor: AuditActor,
): Promise<{ subscription: SubscriptionRow; secret: string }> {
  const id = randomUUID();
  // 24 bytes: 32 characters after whsec_, short enough to paste into a receiver's config.
  const secret = generateWebhookSecret(24);
  const subscription = await sql.begin(async (tx) => {
    const row = await insertSubscription(tx, {
      id,
      url: input.url,
      types: [...new Set(input.types)],
      secretEncrypted: encryptSecret(masterKey, secret, aad(id)),
      description: input.description ?? null,
      createdBy: actor.actor,
    });
    await appendAudit(tx, {
      ...actor,
      action: 'subscriptions.create',
      target: id,
      details: { url: input.url, types: row.types },
    });
    return row;
  });
  return { subscription, secret };
}

export function listSubscriptions(sql: Sql): Promise<SubscriptionRow[]> {
  return listActiveSubscriptions(sql);
}

/** Soft delete: its pending deliveries go dead at their next attempt. */
export async function deleteSubscription(
  sql: Pool,
  id: string,
  actor: AuditActor,
): Promise<SubscriptionRow> {
  const missing = () => notFound(`no subscription ${JSON.stringify(id)}`);
  if (!z.uuid().safeParse(id).success) throw missing();
  return sql.begin(async (tx) => {
    const row = await softDeleteSubscription(tx, id);
    if (!row) throw missing();
    await appendAudit(tx, { ...actor, action: 'subscriptions.delete', target: id });
    return row;
  });
}

/** Where to send and the signing secret, or undefined once the subscription is deleted. */
export async function subscriptionEndpoint(
  sql: Sql,
  masterKey: Buffer,
  id: string,
): Promise<{ url: string; secret: string } | undefined> {
  const row = await findActiveSubscriptionSecret(sql, id);
  if (!row) return undefined;
  return { url: row.url, secret: decryptSecret(masterKey, row.secretEncrypted, aad(id)) };
}
