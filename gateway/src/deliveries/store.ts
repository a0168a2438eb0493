import type { Sql } from '../db/connect.ts';

/**
 * webhook_deliveries: every accepted webhook request (kind 'webhook') and every schedule fire of
 * a manifest schedule (kind 'schedule'), queued for the integration's handler. Claims take
 * `FOR UPDATE SKIP LOCKED` and a lease; every transition out of `processing` checks the lease.
 * What a delivery's triggers create (sessions, messages, tasks) is written by tasks/create.ts.
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

/**
 * A claimed row: what processing reads of it, no more (the rest of DeliveryRow, three dates
 * among it, would be parsed for every drained delivery and never read).
 */
export interface LeasedDelivery
  extends Pick<
    DeliveryRow,
    'id' | 'kind' | 'integration' | 'endpoint' | 'deliveryId' | 'attempts'
  > {
  headers: Record<string, string>;
  body: Buffer;
  leaseToken: string;
  /** The span that stored it (the webhook request's): processing continues its trace. */
  traceParent: string | null;
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
  /** Set for schemes whose delivery id is not signed (github): unique per integration too. */
  bodySha256?: Buffer | null;
  kind?: 'webhook' | 'schedule';
  replayOf?: string | null;
  /** Sync webhooks insert their row already leased to the request that will process it. */
  lease?: { token: string; ms: number };
  /** The W3C traceparent of the span that stored it (telemetry/spans.ts); null when off. */
  traceParent?: string | null;
}

/**
 * The new row's id, or undefined when (integration, deliveryId), or (integration, bodySha256)
 * when set, is already stored. `on conflict do nothing` has no target so that it covers both
 * unique indexes.
 */
export async function insertDelivery(sql: Sql, d: NewDelivery): Promise<string | undefined> {
  const leased = d.lease !== undefined;
  const [row] = await sql<{ id: string }[]>`
    insert into webhook_deliveries
      (integration, endpoint, delivery_id, headers, body, body_sha256, kind, replay_of, status,
       attempts, lease_token, lease_expires_at, trace_parent)
    values (${d.integration}, ${d.endpoint}, ${d.deliveryId}, ${sql.json(d.headers)}, ${d.body},
            ${d.bodySha256 ?? null}, ${d.kind ?? 'webhook'}, ${d.replayOf ?? null},
            ${leased ? 'processing' : 'pending'}, ${leased ? 1 : 0}, ${d.lease?.token ?? null},
            ${leased ? sql`now() + ${d.lease!.ms} * interval '1 millisecond'` : null},
            ${d.traceParent ?? null})
    on conflict do nothing
    returning id::text`;
  return row?.id;
}

/**
 * Several new async deliveries in one statement (the ingest batch, ingest-batch.ts): the ids
 * of the rows it stored by `${integration}\n${deliveryId}`; a delivery id (or body hash)
 * stored before, or twice in this batch, is stored once and the rest are duplicates.
 */
export async function insertDeliveries(
  sql: Sql,
  deliveries: readonly Pick<
    NewDelivery,
    'integration' | 'endpoint' | 'deliveryId' | 'headers' | 'body' | 'bodySha256' | 'traceParent'
  >[],
): Promise<Map<string, string>> {
  const rows = deliveries.map((d) => ({
    integration: d.integration,
    endpoint: d.endpoint,
    delivery_id: d.deliveryId,
    headers: d.headers,
    body: d.body,
    body_sha256: d.bodySha256 ?? null,
    trace_parent: d.traceParent ?? null,
  }));
  const stored = await sql<{ id: string; integration: string; deliveryId: string }[]>`
    insert into webhook_deliveries
      ${sql(rows as never, 'integration', 'endpoint', 'delivery_id', 'headers', 'body', 'body_sha256', 'trace_parent')}
    on conflict do nothing
    returning id::text, integration, delivery_id as "deliveryId"`;
  return new Map(stored.map((r) => [`${r.integration}\n${r.deliveryId}`, r.id]));
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
    returning id::text, kind, integration, endpoint, delivery_id as "deliveryId", attempts,
              headers, body, lease_token::text as "leaseToken", trace_parent as "traceParent"`;
}

export interface FinishedDelivery {
  id: string;
  token: string;
  status: 'done' | 'ignored';
  result: Record<string, unknown>;
}

/**
 * Ends leased rows as done/ignored with what processing did, in one statement; returns the ids
 * of the rows it ended: a row whose lease is gone is left alone and missing from the answer.
 * The results go as JSON text (a jsonb[] parameter would be JSON-encoded twice).
 */
export async function finishDeliveries(
  sql: Sql,
  rows: readonly FinishedDelivery[],
): Promise<string[]> {
  const ended = await sql<{ id: string }[]>`
    update webhook_deliveries d
       set status = v.status, result = v.result::jsonb, error = null, processed_at = now(),
           lease_token = null, lease_expires_at = null
      from unnest(${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => r.token)}::uuid[],
                  ${rows.map((r) => r.status)}::text[],
                  ${rows.map((r) => JSON.stringify(r.result))}::text[]) as v(id, token, status, result)
     where d.id = v.id and d.status = 'processing' and d.lease_token = v.token
    returning d.id::text`;
  return ended.map((r) => r.id);
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
    select ${columns(sql)} from webhook_deliveries d
     where (${f.integration ?? null}::text is null or d.integration = ${f.integration ?? null})
       and (${f.status ?? null}::text is null or d.status = ${f.status ?? null})
       and (${f.kind ?? null}::text is null or d.kind = ${f.kind ?? null})
       and (${f.before ?? null}::uuid is null
            or (d.received_at, d.id) < (select b.received_at, b.id from webhook_deliveries b
                                         where b.id = ${f.before ?? null}::uuid))
     order by d.received_at desc, d.id desc
     limit ${f.limit}`;
}

/**
 * Retention (gateway/src/retention/): deletes up to `limit` settled deliveries (done, ignored or
 * failed; never pending or processing) received more than `olderThanMs` ago, oldest first, and
 * returns how many. One with a replay still stored stays (replay_of points at it) until the
 * replay goes; tasks and schedule runs that name a deleted one keep running with delivery_id
 * null. Locked rows are skipped: replicas share the work.
 */
export async function deleteSettledDeliveries(
  sql: Sql,
  olderThanMs: number,
  limit: number,
): Promise<number> {
  const result = await sql`
    with doomed as (
      select d.id from webhook_deliveries d
       where d.received_at < now() - ${olderThanMs}::float8 * interval '1 millisecond'
         and d.status in ('done', 'ignored', 'failed')
         and not exists (select 1 from webhook_deliveries r where r.replay_of = d.id)
       order by d.received_at
       limit ${limit}
       for update of d skip locked)
    delete from webhook_deliveries w using doomed where w.id = doomed.id`;
  return result.count;
}

export async function findDelivery(
  sql: Sql,
  id: string,
): Promise<(DeliveryRow & { headers: Record<string, string>; body: Buffer }) | undefined> {
  const [row] = await sql<(DeliveryRow & { headers: Record<string, string>; body: Buffer })[]>`
    select ${columns(sql)}, headers, body from webhook_deliveries where id = ${id}`;
  return row;
}

/** Candidate replay numbers looked at per query, and queries before giving up (1,000 ids). */
const REPLAY_PROBE = 100;
const REPLAY_ROUNDS = 10;

/**
 * A copy of a stored delivery, to be processed anew: delivery id `<deliveryId>:replay:<n>` with
 * n the smallest number past the replays so far that no row of the integration holds. Senders
 * choose their own ids (an Idempotency-Key, an X-GitHub-Delivery), so one may already hold
 * `X:replay:1`; that number is skipped rather than refusing every replay of X. Undefined only
 * when REPLAY_ROUNDS × REPLAY_PROBE such ids are all taken (someone is squatting them).
 */
export async function insertReplay(
  sql: Sql,
  original: Pick<
    DeliveryRow & NewDelivery,
    'id' | 'integration' | 'endpoint' | 'deliveryId' | 'headers' | 'body' | 'kind'
  >,
): Promise<string | undefined> {
  const [done] = await sql<{ n: number }[]>`
    select count(*)::int as n from webhook_deliveries where replay_of = ${original.id}`;
  let from = done!.n + 1;
  for (let round = 0; round < REPLAY_ROUNDS; ) {
    const [free] = await sql<{ n: string }[]>`
      select g::text as n from generate_series(${from}::bigint, ${from + REPLAY_PROBE - 1}::bigint) g
       where not exists (
         select 1 from webhook_deliveries
          where integration = ${original.integration}
            and delivery_id = ${`${original.deliveryId}:replay:`} || g::text)
       order by g limit 1`;
    if (!free) {
      from += REPLAY_PROBE;
      round++;
      continue;
    }
    const id = await insertDelivery(sql, {
      integration: original.integration,
      endpoint: original.endpoint,
      deliveryId: `${original.deliveryId}:replay:${free.n}`,
      headers: original.headers,
      body: original.body,
      kind: original.kind,
      replayOf: original.id,
    });
    if (id !== undefined) return id;
    // A replay committed between the query and the insert took that number: look again.
    from = Number(free.n) + 1;
  }
  return undefined;
}

/** The delivery queue at a glance (GET /api/v1/overview). */
export interface DeliveryQueueCounts {
  pending: number;
  processing: number;
  /** received_at of the oldest pending delivery, or null. */
  oldestPendingAt: Date | null;
  /** Deliveries that used up their attempts (status failed): the dead letters. */
  failed: number;
}

export async function countQueueDeliveries(sql: Sql): Promise<DeliveryQueueCounts> {
  const [row] = await sql<DeliveryQueueCounts[]>`
    select count(*) filter (where d.status = 'pending')::int as pending,
           count(*) filter (where d.status = 'processing')::int as processing,
           min(d.received_at) filter (where d.status = 'pending') as "oldestPendingAt",
           count(*) filter (where d.status = 'failed')::int as failed
      from webhook_deliveries d
     where d.status in ('pending', 'processing', 'failed')`;
  return row!;
}

export interface FailedDeliveryRow {
  id: string;
  integration: string;
  endpoint: string;
  error: string | null;
  receivedAt: Date;
}

/** The newest failed deliveries, newest first (the overview's "recent failures"). */
export async function listRecentFailedDeliveries(
  sql: Sql,
  limit: number,
): Promise<FailedDeliveryRow[]> {
  return sql<FailedDeliveryRow[]>`
    select d.id::text, d.integration, d.endpoint, d.error, d.received_at as "receivedAt"
      from webhook_deliveries d
     where d.status = 'failed'
     order by d.received_at desc, d.id desc
     limit ${limit}`;
}
