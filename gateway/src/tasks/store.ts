import type { Sql } from '../db/connect.ts';

export type TaskStatus = 'pending' | 'running' | 'complete' | 'failed' | 'cancelled';

export interface TaskRow {
  id: string;
  sessionId: string | null;
  external: boolean;
  status: TaskStatus;
  prompt: string;
  scope: string[];
  result: string | null;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

const columns = (sql: Sql) =>
  sql`id::text, session_id::text as "sessionId", external, status, prompt, scope, result, error,
      created_at as "createdAt", started_at as "startedAt", finished_at as "finishedAt"`;

export async function findTask(sql: Sql, id: string): Promise<TaskRow | undefined> {
  const [row] = await sql<TaskRow[]>`select ${columns(sql)} from tasks where id = ${id}`;
  return row;
}

/**
 * Ends a task that is still pending or running; undefined if it had already ended (or is
 * unknown). The row lock makes two concurrent ends settle on one outcome.
 */
export async function endTask(
  sql: Sql,
  id: string,
  outcome: { status: 'complete' | 'failed' | 'cancelled'; result?: string; error?: string },
): Promise<TaskRow | undefined> {
  const [row] = await sql<TaskRow[]>`
    update tasks
       set status = ${outcome.status}, result = ${outcome.result ?? null},
           error = ${outcome.error ?? null}, finished_at = now(), updated_at = now(),
           lease_token = null, lease_expires_at = null
     where id = ${id} and status in ('pending', 'running')
    returning ${columns(sql)}`;
  return row;
}

// ── The queue (issue 5). Every query aliases tasks as `t` so that queueColumns is unambiguous in
// UPDATE … FROM. Transactions, events and validation are in queue.ts; creating a task is in
// create.ts (its statement in sql/create.ts).

export interface QueueTaskRow extends TaskRow {
  seq: string;
  messageId: string | null;
  profile: string | null;
  execution: Record<string, unknown>;
  dispatch: Record<string, unknown> | null;
  reason: string | null;
  idempotencyKey: string | null;
  timeoutMs: number | null;
  attempts: number;
  maxAttempts: number;
  runAt: Date;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
}

/** A task as its claimer sees it: with the token that every later call must present. */
export interface LeasedTaskRow extends QueueTaskRow {
  leaseToken: string;
  /** The span that created the task (telemetry/spans.ts): its run continues that trace. */
  traceParent: string | null;
}

const queueColumns = (sql: Sql) =>
  sql`t.id::text, t.session_id::text as "sessionId", t.external, t.status, t.prompt, t.scope,
      t.result, t.error, t.created_at as "createdAt", t.started_at as "startedAt",
      t.finished_at as "finishedAt", t.seq::text, t.message_id::text as "messageId", t.profile,
      t.execution, t.dispatch, t.reason, t.idempotency_key as "idempotencyKey",
      t.timeout_ms as "timeoutMs", t.attempts, t.max_attempts as "maxAttempts", t.run_at as "runAt",
      t.lease_owner as "leaseOwner", t.lease_expires_at as "leaseExpiresAt"`;

/** A pending task's scope, narrowed after its insert (a trigger's tools against its profile). */
export async function setTaskScope(sql: Sql, id: string, scope: string[]): Promise<void> {
  await sql`update tasks set scope = ${scope}::text[] where id = ${id} and status = 'pending'`;
}

export async function findTaskByIdempotencyKey(
  sql: Sql,
  key: string,
): Promise<QueueTaskRow | undefined> {
  const [row] = await sql<QueueTaskRow[]>`
    select ${queueColumns(sql)} from tasks t where t.idempotency_key = ${key}`;
  return row;
}

/** `lock`: for update, so that the caller's transaction decides alone what happens next. */
export async function findQueueTask(
  sql: Sql,
  id: string,
  options: { lock?: boolean } = {},
): Promise<QueueTaskRow | undefined> {
  const [row] = await sql<QueueTaskRow[]>`
    select ${queueColumns(sql)} from tasks t where t.id = ${id}
    ${options.lock ? sql`for update` : sql``}`;
  return row;
}

/**
 * Serialises the claims of one profile until the transaction ends (see claimTasks in queue.ts).
 * The key is a 64-bit hash of the profile name; two profiles that collide only share a lock.
 */
export async function lockProfileClaims(sql: Sql, profile: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`switchboard:claim:${profile}`}, 0))`;
}

export async function countRunningTasks(sql: Sql, profile: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from tasks t where t.status = 'running' and t.profile = ${profile}`;
  return row!.n;
}

/**
 * Leases up to `limit` runnable tasks of a profile, oldest first. Runnable: pending, due, and
 * first in its session — no other task of the session is running, and none created before it
 * is still pending (an earlier task waiting for a retry keeps the later ones waiting too).
 * Rows another transaction has locked (a concurrent claim, cancel or recovery) are skipped.
 */
export async function claimPendingTasks(
  sql: Sql,
  options: { profile: string; owner: string; leaseMs: number; limit: number },
): Promise<LeasedTaskRow[]> {
  return sql<LeasedTaskRow[]>`
    with next as (
      select c.id from tasks c
       where c.status = 'pending' and c.profile = ${options.profile} and c.run_at <= now()
         and (c.session_id is null or not exists (
               select 1 from tasks o
                where o.session_id = c.session_id and o.id <> c.id
                  and (o.status = 'running' or (o.status = 'pending' and o.seq < c.seq))))
       order by c.seq
       limit ${options.limit}
       for update of c skip locked)
    update tasks t
       set status = 'running', attempts = t.attempts + 1, lease_token = gen_random_uuid(),
           lease_owner = ${options.owner},
           lease_expires_at = now() + ${options.leaseMs} * interval '1 millisecond',
           started_at = now(), updated_at = now()
      from next
     where t.id = next.id
    returning ${queueColumns(sql)}, t.lease_token::text as "leaseToken",
              t.trace_parent as "traceParent"`;
}

/** Moves the lease's expiry to now + leaseMs; undefined unless `token` is the current lease. */
export async function extendTaskLease(
  sql: Sql,
  id: string,
  token: string,
  leaseMs: number,
): Promise<QueueTaskRow | undefined> {
  const [row] = await sql<QueueTaskRow[]>`
    update tasks t
       set lease_expires_at = now() + ${leaseMs} * interval '1 millisecond', updated_at = now()
     where t.id = ${id} and t.status = 'running' and t.lease_token = ${token}::uuid
    returning ${queueColumns(sql)}`;
  return row;
}

/**
 * Ends a running task held with `token` as complete or failed; undefined when the token is not
 * the current lease (the task was recovered, re-claimed, cancelled or already ended). An expired
 * lease that nobody recovered yet still counts: no one else has the task, and the work is done.
 */
export async function endLeasedTask(
  sql: Sql,
  id: string,
  token: string,
  outcome:
    | { status: 'complete'; result: string }
    | { status: 'failed'; reason: string; error: string | null },
): Promise<QueueTaskRow | undefined> {
  const [row] = await sql<QueueTaskRow[]>`
    update tasks t
       set status = ${outcome.status},
           result = ${outcome.status === 'complete' ? outcome.result : null},
           reason = ${outcome.status === 'failed' ? outcome.reason : null},
           error = ${outcome.status === 'failed' ? outcome.error : null},
           finished_at = now(), updated_at = now(), lease_token = null, lease_expires_at = null
     where t.id = ${id} and t.status = 'running' and t.lease_token = ${token}::uuid
    returning ${queueColumns(sql)}`;
  return row;
}

/** Cancels a pending or running task (lease dropped: its runner's next call finds it lost). */
export async function cancelUnfinishedTask(
  sql: Sql,
  id: string,
  outcome: { reason: string; error: string | null },
): Promise<QueueTaskRow | undefined> {
  const [row] = await sql<QueueTaskRow[]>`
    update tasks t
       set status = 'cancelled', reason = ${outcome.reason}, error = ${outcome.error},
           finished_at = now(), updated_at = now(), lease_token = null, lease_expires_at = null
     where t.id = ${id} and t.status in ('pending', 'running')
    returning ${queueColumns(sql)}`;
  return row;
}

export interface RecoveredTaskRow extends QueueTaskRow {
  /** Who held the lease that expired. */
  expiredOwner: string | null;
}

/**
 * Takes back up to `limit` running tasks whose lease expired (their runner died or lost the
 * database): pending again while attempts < max_attempts (attempts counts claims), otherwise
 * failed with reason lease_expired. A lease being extended right now is locked and skipped; one
 * extended after this statement's snapshot is re-checked on its new row and left alone.
 */
export async function recoverExpiredTasks(sql: Sql, limit: number): Promise<RecoveredTaskRow[]> {
  return sql<RecoveredTaskRow[]>`
    with expired as (
      select e.id, e.lease_owner from tasks e
       where e.status = 'running' and e.lease_expires_at < now()
       order by e.lease_expires_at
       limit ${limit}
       for update of e skip locked)
    update tasks t
       set status = case when t.attempts < t.max_attempts then 'pending' else 'failed' end,
           reason = case when t.attempts < t.max_attempts then null else 'lease_expired' end,
           error = case when t.attempts < t.max_attempts then null
                   else 'the lease expired ' || t.attempts || ' times (max_attempts '
                        || t.max_attempts || ')' end,
           finished_at = case when t.attempts < t.max_attempts then null else now() end,
           run_at = now(), updated_at = now(), lease_token = null, lease_expires_at = null
      from expired
     where t.id = expired.id
    returning ${queueColumns(sql)}, expired.lease_owner as "expiredOwner"`;
}

export interface TaskListFilter {
  statuses?: readonly TaskStatus[] | undefined;
  profile?: string | undefined;
  sessionId?: string | undefined;
  external?: boolean | undefined;
  /** Keyset cursor: only tasks with a smaller seq (the `seq` of the previous page's last task). */
  beforeSeq?: string | undefined;
  limit: number;
}

/**
 * Tasks newest first (by seq: created_at ties within one transaction, seq never does), for the
 * API's list. Every filter is optional; an unset one matches everything.
 */
export async function listQueueTasks(sql: Sql, filter: TaskListFilter): Promise<QueueTaskRow[]> {
  const statuses = filter.statuses && filter.statuses.length > 0 ? [...filter.statuses] : null;
  return sql<QueueTaskRow[]>`
    select ${queueColumns(sql)} from tasks t
     where (${statuses}::text[] is null or t.status = any(${statuses}::text[]))
       and (${filter.profile ?? null}::text is null or t.profile = ${filter.profile ?? null}::text)
       and (${filter.sessionId ?? null}::uuid is null or t.session_id = ${filter.sessionId ?? null}::uuid)
       and (${filter.external ?? null}::boolean is null or t.external = ${filter.external ?? null}::boolean)
       and (${filter.beforeSeq ?? null}::bigint is null or t.seq < ${filter.beforeSeq ?? null}::bigint)
     order by t.seq desc
     limit ${filter.limit}`;
}

export interface DeliveryTask {
  id: string;
  status: string;
  sessionId: string | null;
}

/** The tasks a webhook delivery (or schedule job) created, in creation order. */
export async function listDeliveryTasks(sql: Sql, deliveryId: string): Promise<DeliveryTask[]> {
  return sql<DeliveryTask[]>`
    select t.id::text, t.status, t.session_id::text as "sessionId" from tasks t
     where t.delivery_id = ${deliveryId} order by t.seq`;
}

/** The queue at a glance (GET /api/v1/overview): counts and the oldest pending task's age. */
export interface TaskQueueCounts {
  pending: number;
  running: number;
  /** created_at of the oldest pending task (waiting longest), or null. */
  oldestPendingAt: Date | null;
  /** Tasks that failed in the last 24 hours. */
  failedLastDay: number;
}

export async function countQueueTasks(sql: Sql): Promise<TaskQueueCounts> {
  const [row] = await sql<TaskQueueCounts[]>`
    select count(*) filter (where t.status = 'pending')::int as pending,
           count(*) filter (where t.status = 'running')::int as running,
           min(t.created_at) filter (where t.status = 'pending') as "oldestPendingAt",
           count(*) filter (where t.status = 'failed')::int as "failedLastDay"
      from tasks t
     where t.status in ('pending', 'running')
        or (t.status = 'failed' and t.finished_at > now() - interval '24 hours')`;
  return row!;
}

export interface FailedTaskRow {
  id: string;
  profile: string | null;
  error: string | null;
  finishedAt: Date | null;
}

/** The newest failed tasks, newest first (the overview's "recent failures"). */
export async function listRecentFailedTasks(sql: Sql, limit: number): Promise<FailedTaskRow[]> {
  return sql<FailedTaskRow[]>`
    select t.id::text, t.profile, t.error, t.finished_at as "finishedAt" from tasks t
     where t.status = 'failed'
     order by t.finished_at desc nulls last, t.seq desc
     limit ${limit}`;
}
