import type { Sql } from '../db/connect.ts';
import { currentTraceparent } from '../telemetry/spans.ts';

/**
 * The approvals table (0011_approvals.sql), one statement per function. The transactions that
 * combine them with events, audit and the outbox are in requests.ts; the guard that holds calls
 * is guards/approvals.ts.
 */

/** What a reader sees: `expired` and `cancelled` are computed for rows nobody closed. */
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';
export const APPROVAL_STATUSES = [
  'pending',
  'approved',
  'denied',
  'expired',
  'cancelled',
] as const satisfies readonly ApprovalStatus[];

export interface ApprovalRow {
  id: string;
  seq: string;
  taskId: string;
  rule: string;
  integration: string;
  tool: string;
  arguments: unknown;
  argumentsHash: string;
  status: ApprovalStatus;
  requestedAt: Date;
  expiresAt: Date;
  decidedAt: Date | null;
  decidedBy: string | null;
  reason: string | null;
  usedAt: Date | null;
}

/** The call an approval is bound to: a retry of the same call finds its request. */
export interface ApprovalKey {
  taskId: string;
  integration: string;
  tool: string;
  argumentsHash: string;
}

export interface NewApproval extends ApprovalKey {
  rule: string;
  arguments: unknown;
  timeoutMs: number;
}

/**
 * The status as it stands: a pending row past its expiry is expired (its gateway may be gone,
 * and the decide statement refuses it), one whose task has ended is cancelled.
 */
const effectiveStatus = (sql: Sql) => sql`
  case when a.status = 'pending' and a.expires_at <= now() then 'expired'
       when a.status = 'pending' and t.status in ('complete', 'failed', 'cancelled')
         then 'cancelled'
       else a.status end`;

const columns = (sql: Sql) => sql`
  a.id::text, a.seq::text, a.task_id::text as "taskId", a.rule, a.integration, a.tool,
  a.arguments, a.arguments_hash as "argumentsHash", ${effectiveStatus(sql)} as status,
  a.requested_at as "requestedAt", a.expires_at as "expiresAt", a.decided_at as "decidedAt",
  a.decided_by as "decidedBy", a.reason, a.used_at as "usedAt"`;

/**
 * Serialises the requests of one task (two identical calls at once must share one request, and
 * the per-task caps must hold on every replica): a transaction-scoped advisory lock on the
 * task id, in the 2-key space with a class of its own (0x617070 = "app") so it never meets
 * the migrations' lock.
 */
export async function lockTaskApprovals(sql: Sql, taskId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${0x617070}::int, hashtext(${taskId}::text))`;
}

/** Whether the task can still make calls (pending or running): no request for an ended one. */
export async function taskIsLive(sql: Sql, taskId: string): Promise<boolean> {
  const rows = await sql`
    select 1 from tasks where id = ${taskId} and status in ('pending', 'running')`;
  return rows.length === 1;
}

/** The newest request of this very call, as it stands (undefined when there is none). */
export async function findCallApproval(
  sql: Sql,
  key: ApprovalKey,
): Promise<ApprovalRow | undefined> {
  const [row] = await sql<ApprovalRow[]>`
    select ${columns(sql)} from approvals a join tasks t on t.id = a.task_id
     where a.task_id = ${key.taskId} and a.integration = ${key.integration}
       and a.tool = ${key.tool} and a.arguments_hash = ${key.argumentsHash}
     order by a.seq desc limit 1`;
  return row;
}

/** A task's requests in all, and those still waiting (for the caps of requests.ts). */
export async function countTaskApprovals(
  sql: Sql,
  taskId: string,
): Promise<{ total: number; waiting: number }> {
  const [row] = await sql<{ total: number; waiting: number }[]>`
    select count(*)::int as total,
           count(*) filter (where status = 'pending' and expires_at > now())::int as waiting
      from approvals where task_id = ${taskId}`;
  return row ?? { total: 0, waiting: 0 };
}

export async function insertApproval(sql: Sql, approval: NewApproval): Promise<ApprovalRow> {
  const [row] = await sql<ApprovalRow[]>`
    with a as (
      insert into approvals (task_id, rule, integration, tool, arguments, arguments_hash,
                             expires_at)
      values (${approval.taskId}, ${approval.rule}, ${approval.integration}, ${approval.tool},
              ${sql.json(approval.arguments as never)}, ${approval.argumentsHash},
              now() + ${approval.timeoutMs} * interval '1 millisecond')
      returning *)
    select ${columns(sql)} from a join tasks t on t.id = a.task_id`;
  return row!;
}

export async function findApproval(sql: Sql, id: string): Promise<ApprovalRow | undefined> {
  const [row] = await sql<ApprovalRow[]>`
    select ${columns(sql)} from approvals a join tasks t on t.id = a.task_id
     where a.id = ${id}`;
  return row;
}

/**
 * Lets one call through on an approval: the first to mark it used wins, so an approval never
 * covers two calls (two identical calls that waited on one request: the second asks again).
 * Never for a task that has ended since the decision.
 */
export async function useApproval(sql: Sql, id: string): Promise<boolean> {
  const rows = await sql`
    update approvals a set used_at = now()
      from tasks t
     where a.id = ${id} and t.id = a.task_id and a.status = 'approved' and a.used_at is null
       and t.status in ('pending', 'running')
    returning a.id`;
  return rows.length === 1;
}

/**
 * Approves or denies a request that is still pending, not expired, and whose task has not
 * ended; undefined when it is not (the caller reads why). One statement: two operators
 * deciding at once on two replicas, exactly one wins.
 */
export async function decidePending(
  sql: Sql,
  id: string,
  decision: { status: 'approved' | 'denied'; by: string; reason: string | null },
): Promise<ApprovalRow | undefined> {
  const [row] = await sql<ApprovalRow[]>`
    with a as (
      update approvals a
         set status = ${decision.status}, decided_at = now(), decided_by = ${decision.by},
             reason = ${decision.reason}
        from tasks t
       where a.id = ${id} and t.id = a.task_id and a.status = 'pending'
         and a.expires_at > now() and t.status in ('pending', 'running')
      returning a.*)
    select ${columns(sql)} from a join tasks t on t.id = a.task_id`;
  return row;
}

/** Closes a request nobody decided in time (by the gateway that held its call); once. */
export async function expirePending(sql: Sql, id: string): Promise<ApprovalRow | undefined> {
  const [row] = await sql<ApprovalRow[]>`
    with a as (
      update approvals set status = 'expired', decided_at = now()
       where id = ${id} and status = 'pending' and expires_at <= now()
      returning *)
    select ${columns(sql)} from a join tasks t on t.id = a.task_id`;
  return row;
}

export interface ApprovalFilter {
  status?: ApprovalStatus | undefined;
  taskId?: string | undefined;
  /** The `next` of the previous page: rows older than this seq. */
  beforeSeq?: string | undefined;
  limit: number;
}

/** Newest first, by seq (a bigint, never compared as text). */
export async function listApprovals(sql: Sql, filter: ApprovalFilter): Promise<ApprovalRow[]> {
  const status = filter.status ?? null;
  const taskId = filter.taskId ?? null;
  const before = filter.beforeSeq ?? null;
  return sql<ApprovalRow[]>`
    select ${columns(sql)} from approvals a join tasks t on t.id = a.task_id
     where (${taskId}::uuid is null or a.task_id = ${taskId}::uuid)
       and (${before}::bigint is null or a.seq < ${before}::bigint)
       and (${status}::text is null or ${effectiveStatus(sql)} = ${status}::text)
       and (${status}::text is distinct from 'pending' or a.status = 'pending')
     order by a.seq desc
     limit ${filter.limit}`;
}

/**
 * The outbox row that tells a task's session about a request: the same target as the task's
 * result would take (tasks/sql/outbox-row.ts), when its type is one of `types` (the built-in
 * webhook, and dispatchers that declare an `approvals` handler; never `none` or `internal`: a
 * message in another session cannot answer it). In the request's transaction; its id, or
 * undefined when the session's target announces nothing.
 */
export async function insertApprovalDispatchRow(
  sql: Sql,
  approvalId: string,
  payload: Record<string, unknown>,
  types: readonly string[],
): Promise<string | undefined> {
  const [row] = await sql<{ id: string }[]>`
    insert into outbox (kind, task_id, target, payload, trace_parent)
    select 'dispatch', t.id,
           jsonb_build_object('type', d.target->>'type',
                              'config', coalesce(d.target->'config', '{}'::jsonb),
                              'sessionId', s.id::text, 'sessionKey', s.key),
           ${sql.json(payload as never)},
           -- The held tool call's span: the announcement joins the call's trace.
           coalesce(${currentTraceparent()}::text, t.trace_parent)
      from approvals a
      join tasks t on t.id = a.task_id
      left join sessions s on s.id = t.session_id
      cross join lateral (select coalesce(t.dispatch, s.dispatch) as target) d
     where a.id = ${approvalId}
       and d.target->>'type' = any(${types as string[]}::text[])
    returning id::text`;
  return row?.id;
}
