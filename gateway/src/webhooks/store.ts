import type { Sql } from '../db/connect.ts';

/**
 * webhook_deliveries: every accepted webhook request (kind 'webhook') and every schedule fire of
 * a manifest schedule (kind 'schedule'), queued for the integration's handler. Claims take
 * `FOR UPDATE SKIP LOCKED` and a lease; every transition out of `processing` checks the lease.
 */

export type DeliveryStatus = 'pending' | 'processing' | 'done' | 'ignored' | 'failed';

export interface DeliveryRow {
  id: string;
  kind: 'webhook' | 'schedule';
  integration: string;
  endpoint: string;
  deliveryId: string;
  status: DeliveryStatus;
  attempts: number;
  maxAttempts: number;
  runAt: Date;
  error: string | null;
  result: Record<string, unknown> | null;
  replayOf: string | null;
  receivedAt: Date;
  processedAt: Date | null;
}

export interface LeasedDelivery extends DeliveryRow {
  headers: Record<string, string>;
  body: Buffer;
  leaseToken: string;
}

const columns = (sql: Sql) => sql`
  id::text, kind, integration, endpoint, delivery_id as "deliveryId", status, attempts,
  max_attempts as "maxAttempts", run_at as "runAt", error, result, replay_of::text as "replayOf",
  received_at as "receivedAt", processed_at as "processedAt"`;

export interface NewDelivery {
  integration: string;
  endpoint: string;
  deliveryId: string;
  headers: Record<string, string>;
  body: Buffer;
  kind?: 'webhook' | 'schedule';
  replayOf?: string | null;
  /** Sync webhooks insert their row already leased to the request that will process it. */
  lease?: { token: string; ms: number };
}

/** The new row's id, or undefined when (integration, deliveryId) is already stored. */
export async function insertDelivery(sql: Sql, d: NewDelivery): Promise<string | undefined> {
  const leased = d.lease !== undefined;
  const [row] = await sql<{ id: string }[]>`
    insert into webhook_deliveries
      (integration, endpoint, delivery_id, headers, body, kind, replay_of, status, attempts,
       lease_token, lease_expires_at)
    values (${d.integration}, ${d.endpoint}, ${d.deliveryId}, ${sql.json(d.headers)}, ${d.body},
            ${d.kind ?? 'webhook'}, ${d.replayOf ?? null}, ${leased ? 'processing' : 'pending'},
            ${leased ? 1 : 0}, ${d.lease?.token ?? null},
            ${leased ? sql`now() + ${d.lease!.ms} * interval '1 millisecond'` : null})
    on conflict (integration, delivery_id) do nothing
    returning id::text`;
  return row?.id;
}

/** Leases up to `limit` due pending rows, oldest first; attempts counts the claim. */
export async function claimDeliveries(
  sql: Sql,
  options: { token: string; leaseMs: number; limit: number },
): Promise<LeasedDelivery[]> {
  return sql<LeasedDelivery[]>`
    with due as (
      select id from webhook_deliveries
       where status = 'pending' and run_at <= now()
       order by run_at, received_at
       limit ${options.limit}
       for update skip locked)
    update webhook_deliveries
       set status = 'processing', attempts = attempts + 1, lease_token = ${options.token}::uuid,
           lease_expires_at = now() + ${options.leaseMs} * interval '1 millisecond'
     where id in (select id from due)
    returning ${columns(sql)}, headers, body, lease_token::text as "leaseToken"`;
}

/** Ends a leased row as done/ignored with what processing did; false when the lease is gone. */
export async function finishDelivery(
  sql: Sql,
  id: string,
  token: string,
  outcome: { status: 'done' | 'ignored'; result: Record<string, unknown> },
): Promise<boolean> {
  const rows = await sql`
    update webhook_deliveries
       set status = ${outcome.status}, result = ${sql.json(outcome.result as never)}, error = null,
           processed_at = now(), lease_token = null, lease_expires_at = null
     where id = ${id} and status = 'processing' and lease_token = ${token}::uuid
    returning id`;
  return rows.length === 1;
}

/** A failed attempt: pending again at `retryInMs`, or failed for good; false if the lease is gone. */
export async function retryOrFailDelivery(
  sql: Sql,
  id: string,
  token: string,
  failure: { error: string; retryInMs: number | null },
): Promise<DeliveryStatus | undefined> {
  const [row] = await sql<{ status: DeliveryStatus }[]>`
    update webhook_deliveries
       set status = case when ${failure.retryInMs}::integer is null or attempts >= max_attempts
                         then 'failed' else 'pending' end,
           run_at = now() + coalesce(${failure.retryInMs}::integer, 0) * interval '1 millisecond',
           error = ${failure.error},
           processed_at = case when ${failure.retryInMs}::integer is null or attempts >= max_attempts
                               then now() end,
           lease_token = null, lease_expires_at = null
     where id = ${id} and status = 'processing' and lease_token = ${token}::uuid
    returning status`;
  return row?.status;
}

/** Rows whose processor died: pending again (their attempt counted), or failed at the limit. */
export async function recoverExpiredDeliveries(sql: Sql, limit: number): Promise<number> {
  const rows = await sql`
    with expired as (
      select id from webhook_deliveries
       where status = 'processing' and lease_expires_at < now()
       limit ${limit}
       for update skip locked)
    update webhook_deliveries
       set status = case when attempts >= max_attempts then 'failed' else 'pending' end,
           error = coalesce(error, 'the gateway processing it stopped (lease expired)'),
           run_at = now(), lease_token = null, lease_expires_at = null
     where id in (select id from expired)
    returning id`;
  return rows.length;
}

export interface DeliveryFilter {
  integration?: string | undefined;
  status?: DeliveryStatus | undefined;
  kind?: 'webhook' | 'schedule' | undefined;
  /** Cursor: the id of the last row of the previous page. */
  before?: string | undefined;
  limit: number;
}

export async function listDeliveries(sql: Sql, f: DeliveryFilter): Promise<DeliveryRow[]> {
  return sql<DeliveryRow[]>`
    select ${columns(sql)} from webhook_deliveries
     where (${f.integration ?? null}::text is null or integration = ${f.integration ?? null})
       and (${f.status ?? null}::text is null or status = ${f.status ?? null})
       and (${f.kind ?? null}::text is null or kind = ${f.kind ?? null})
       and (${f.before ?? null}::uuid is null
            or (received_at, id) < (select received_at, id from webhook_deliveries
                                     where id = ${f.before ?? null}::uuid))
     order by received_at desc, id desc
     limit ${f.limit}`;
}

export async function findDelivery(
  sql: Sql,
  id: string,
): Promise<(DeliveryRow & { headers: Record<string, string>; body: Buffer }) | undefined> {
  const [row] = await sql<(DeliveryRow & { headers: Record<string, string>; body: Buffer })[]>`
    select ${columns(sql)}, headers, body from webhook_deliveries where id = ${id}`;
  return row;
}

/** Replays of one delivery so far (the next replay's id is '<deliveryId>:replay:<n + 1>'). */
export async function countReplays(sql: Sql, id: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from webhook_deliveries where replay_of = ${id}`;
  return row!.n;
}

export interface DeliveryTask {
  id: string;
  status: string;
  sessionId: string | null;
}

export async function listDeliveryTasks(sql: Sql, deliveryId: string): Promise<DeliveryTask[]> {
  return sql<DeliveryTask[]>`
    select id::text, status, session_id::text as "sessionId" from tasks
     where delivery_id = ${deliveryId} order by seq`;
}
