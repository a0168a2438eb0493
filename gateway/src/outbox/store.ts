import type { Sql } from '../db/connect.ts';

/**
 * The outbox (0001, attempt_log from 0004) and event_subscriptions: one function per query.
 * Transactions, events and validation are in outbox.ts and subscriptions.ts. A task's dispatch
 * row is written where the task ends, by tasks/sql/outbox-row.ts (tasks/ is below outbox/). Every query that
 * may run in UPDATE … FROM aliases outbox as `o`.
 */

export type OutboxStatus = 'pending' | 'processing' | 'delivered' | 'dead';
export type OutboxKind = 'dispatch' | 'event';

export interface AttemptEntry {
  at: string;
  attempt: number;
  status?: number;
  error?: string;
}

export interface OutboxRow {
  id: string;
  kind: OutboxKind;
  taskId: string | null;
  target: Record<string, unknown>;
  payload: Record<string, unknown>;
  status: OutboxStatus;
  attempts: number;
  maxAttempts: number;
  nextAttemptAt: Date;
  leaseExpiresAt: Date | null;
  lastError: string | null;
  attemptLog: AttemptEntry[];
  createdAt: Date;
  deliveredAt: Date | null;
  deadAt: Date | null;
}

/** A row as its claimer sees it: with the lease token every settle must present. */
export interface LeasedOutboxRow extends OutboxRow {
  leaseToken: string;
  /** The span that queued it (a task's end): the attempt continues that trace. */
  traceParent: string | null;
}

const columns = (sql: Sql) =>
  sql`o.id::text, o.kind, o.task_id::text as "taskId", o.target, o.payload, o.status, o.attempts,
      o.max_attempts as "maxAttempts", o.next_attempt_at as "nextAttemptAt",
      o.lease_expires_at as "leaseExpiresAt", o.last_error as "lastError",
      o.attempt_log as "attemptLog", o.created_at as "createdAt",
      o.delivered_at as "deliveredAt", o.dead_at as "deadAt"`;

/** Leases up to `limit` due pending rows, oldest due first; rows locked elsewhere are skipped. */
export async function claimDueRows(
  sql: Sql,
  options: { leaseMs: number; limit: number },
): Promise<LeasedOutboxRow[]> {
  return sql<LeasedOutboxRow[]>`
    with due as (
      select d.id from outbox d
       where d.status = 'pending' and d.next_attempt_at <= now()
       order by d.next_attempt_at, d.id
       limit ${options.limit}
       for update of d skip locked)
    update outbox o
       set status = 'processing', attempts = o.attempts + 1, lease_token = gen_random_uuid(),
           lease_expires_at = now() + ${options.leaseMs}::float8 * interval '1 millisecond'
      from due
     where o.id = due.id
    returning ${columns(sql)}, o.lease_token::text as "leaseToken",
              o.trace_parent as "traceParent"`;
}

/**
 * Takes back rows whose lease expired (the gateway delivering them died or lost the database):
 * pending again at once while attempts < max_attempts, else dead. The attempt is logged: the
 * receiver may or may not have got it.
 */
export async function recoverExpiredRows(sql: Sql, limit: number): Promise<OutboxRow[]> {
  return sql<OutboxRow[]>`
    with expired as (
      select e.id from outbox e
       where e.status = 'processing' and e.lease_expires_at < now()
       order by e.lease_expires_at
       limit ${limit}
       for update of e skip locked)
    update outbox o
       set status = case when o.attempts < o.max_attempts then 'pending' else 'dead' end,
           dead_at = case when o.attempts < o.max_attempts then null else now() end,
           next_attempt_at = now(), lease_token = null, lease_expires_at = null,
           last_error = 'the delivery lease expired',
           attempt_log = o.attempt_log || jsonb_build_array(jsonb_build_object(
             'at', now(), 'attempt', o.attempts, 'error', 'the delivery lease expired'))
      from expired
     where o.id = expired.id
    returning ${columns(sql)}`;
}

export interface Settlement {
  delivered: boolean;
  /** Ignored when delivered; false makes the row dead whatever its attempts. */
  retryable: boolean;
  /** From now to the next attempt, when it is retried. */
  delayMs: number;
  httpStatus: number | null;
  error: string | null;
}

/**
 * Ends the attempt of the lease holder: delivered, pending again after `delayMs` (retryable and
 * attempts < max_attempts), or dead. Undefined when `token` is not the row's current lease (it
 * expired and was recovered, maybe re-claimed): a stale worker cannot settle a row.
 */
export async function settleLeasedRow(
  sql: Sql,
  id: string,
  token: string,
  s: Settlement,
): Promise<OutboxRow | undefined> {
  const [row] = await sql<OutboxRow[]>`
    update outbox o
       set status = case when p.ok then 'delivered'
                         when p.again and o.attempts < o.max_attempts then 'pending'
                         else 'dead' end,
           delivered_at = case when p.ok then now() end,
           dead_at = case when p.ok or (p.again and o.attempts < o.max_attempts) then null
                     else now() end,
           next_attempt_at = case when not p.ok and p.again and o.attempts < o.max_attempts
                             then now() + ${s.delayMs}::float8 * interval '1 millisecond'
                             else o.next_attempt_at end,
           last_error = ${s.error}::text, lease_token = null, lease_expires_at = null,
           attempt_log = o.attempt_log || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
             'at', now(), 'attempt', o.attempts, 'status', ${s.httpStatus}::int,
             'error', ${s.error}::text)))
      from (select ${s.delivered}::boolean as ok, ${s.retryable}::boolean as again) p
     where o.id = ${id}::bigint and o.status = 'processing' and o.lease_token = ${token}::uuid
    returning ${columns(sql)}`;
  return row;
}

export async function findOutboxRow(sql: Sql, id: string): Promise<OutboxRow | undefined> {
  const [row] = await sql<OutboxRow[]>`select ${columns(sql)} from outbox o where o.id = ${id}`;
  return row;
}

export interface OutboxFilter {
  status?: OutboxStatus | undefined;
  kind?: OutboxKind | undefined;
  taskId?: string | undefined;
  /** Keyset cursor: rows with a smaller id. */
  beforeId?: string | undefined;
  limit: number;
}

/** Newest first; unset filters match everything. */
export async function listOutboxRows(sql: Sql, f: OutboxFilter): Promise<OutboxRow[]> {
  return sql<OutboxRow[]>`
    select ${columns(sql)} from outbox o
     where (${f.status ?? null}::text is null or o.status = ${f.status ?? null}::text)
       and (${f.kind ?? null}::text is null or o.kind = ${f.kind ?? null}::text)
       and (${f.taskId ?? null}::uuid is null or o.task_id = ${f.taskId ?? null}::uuid)
       and (${f.beforeId ?? null}::bigint is null or o.id < ${f.beforeId ?? null}::bigint)
     order by o.id desc
     limit ${f.limit}`;
}

/** Dead → pending now with a fresh attempt budget; undefined unless the row is dead. */
export async function redriveDeadRow(sql: Sql, id: string): Promise<OutboxRow | undefined> {
  const [row] = await sql<OutboxRow[]>`
    update outbox o
       set status = 'pending', attempts = 0, next_attempt_at = now(), dead_at = null
     where o.id = ${id}::bigint and o.status = 'dead'
    returning ${columns(sql)}`;
  return row;
}

export async function redriveAllDeadRows(sql: Sql): Promise<number> {
  const result = await sql`
    update outbox
       set status = 'pending', attempts = 0, next_attempt_at = now(), dead_at = null
     where status = 'dead'`;
  return result.count;
}

/** The message an internal dispatch of this outbox row already posted (a redelivery). */
export async function findMessageOfOutboxRow(
  sql: Sql,
  sessionId: string,
  outboxId: string,
): Promise<string | undefined> {
  const [row] = await sql<{ id: string }[]>`
    select m.id::text from messages m
     where m.session_id = ${sessionId} and m.source->>'outboxId' = ${outboxId}
     order by m.id limit 1`;
  return row?.id;
}

/**
 * How many internal dispatches with `run` led to this task: the `depth` its message carries
 * (0 for a task that no internal dispatch started).
 */
export async function internalDepthOf(sql: Sql, taskId: string): Promise<number> {
  const [row] = await sql<{ depth: number | null }[]>`
    select (m.source->>'depth')::int as depth from tasks t
      join messages m on m.id = t.message_id
     where t.id = ${taskId} and m.source->>'dispatch' = 'internal'`;
  return row?.depth ?? 0;
}

// ── event_subscriptions (0004)

export interface SubscriptionRow {
  id: string;
  url: string;
  types: string[];
  description: string | null;
  createdBy: string | null;
  createdAt: Date;
  deletedAt: Date | null;
}

const subscriptionColumns = (sql: Sql) =>
  sql`id::text, url, types, description, created_by as "createdBy", created_at as "createdAt",
      deleted_at as "deletedAt"`;

export async function insertSubscription(
  sql: Sql,
  row: {
    id: string;
    url: string;
    types: string[];
    secretEncrypted: Buffer;
    description: string | null;
    createdBy: string;
  },
): Promise<SubscriptionRow> {
  const [inserted] = await sql<SubscriptionRow[]>`
    insert into event_subscriptions (id, url, types, secret_encrypted, description, created_by)
    values (${row.id}, ${row.url}, ${row.types}::text[], ${row.secretEncrypted},
            ${row.description}, ${row.createdBy})
    returning ${subscriptionColumns(sql)}`;
  return inserted!;
}

/** Active subscriptions, oldest first. */
export async function listActiveSubscriptions(sql: Sql): Promise<SubscriptionRow[]> {
  return sql<SubscriptionRow[]>`
    select ${subscriptionColumns(sql)} from event_subscriptions s
     where s.deleted_at is null order by s.created_at, s.id`;
}

/** Soft delete; undefined when there is no active subscription with this id. */
export async function softDeleteSubscription(
  sql: Sql,
  id: string,
): Promise<SubscriptionRow | undefined> {
  const [row] = await sql<SubscriptionRow[]>`
    update event_subscriptions set deleted_at = now()
     where id = ${id} and deleted_at is null
    returning ${subscriptionColumns(sql)}`;
  return row;
}

export async function findActiveSubscriptionSecret(
  sql: Sql,
  id: string,
): Promise<{ url: string; secretEncrypted: Buffer } | undefined> {
  const [row] = await sql<{ url: string; secretEncrypted: Buffer }[]>`
    select url, secret_encrypted as "secretEncrypted" from event_subscriptions
     where id = ${id} and deleted_at is null`;
  return row ? { url: row.url, secretEncrypted: Buffer.from(row.secretEncrypted) } : undefined;
}

/** The outbox at a glance (GET /api/v1/overview). */
export interface OutboxCounts {
  pending: number;
  /** Entries a worker holds the lease of (being delivered now). */
  processing: number;
  /** created_at of the oldest pending entry, or null. */
  oldestPendingAt: Date | null;
  /** Dead letters: entries that used up their attempts. */
  dead: number;
}

export async function countOutboxRows(sql: Sql): Promise<OutboxCounts> {
  const [row] = await sql<OutboxCounts[]>`
    select count(*) filter (where o.status = 'pending')::int as pending,
           count(*) filter (where o.status = 'processing')::int as processing,
           min(o.created_at) filter (where o.status = 'pending') as "oldestPendingAt",
           count(*) filter (where o.status = 'dead')::int as dead
      from outbox o
     where o.status in ('pending', 'processing', 'dead')`;
  return row!;
}

export interface DeadOutboxRow {
  id: string;
  kind: OutboxKind;
  taskId: string | null;
  lastError: string | null;
  deadAt: Date | null;
}

/** The newest dead letters, newest first (the overview's "recent failures"). */
export async function listRecentDeadRows(sql: Sql, limit: number): Promise<DeadOutboxRow[]> {
  return sql<DeadOutboxRow[]>`
    select o.id::text, o.kind, o.task_id::text as "taskId", o.last_error as "lastError",
           o.dead_at as "deadAt"
      from outbox o
     where o.status = 'dead'
     order by o.dead_at desc, o.id desc
     limit ${limit}`;
}
