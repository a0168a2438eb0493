import type { Sql } from '../db/connect.ts';
import type { TokenClaims } from '../tokens/claims.ts';

/**
 * The SQL of MCP tasks (table mcp_tasks, migrations/0017_mcp_tasks.sql): one function per
 * statement. A row is one durable tools/call of the tasks extension (SEP-2663); `agent_task_id`
 * is the agent task whose token made it, and every read here is by (id, agent task), so another
 * agent task's id is as absent as a missing one. Expired rows (`expires_at`) are absent to every
 * read; the retention job deletes them.
 */

export type McpTaskStatus = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';

/** The wires an upstream task can be created on (passthrough). */
export type UpstreamWire = '2026-07-28' | '2025-11-25';

export const OPEN_STATUSES: readonly McpTaskStatus[] = ['working', 'input_required'];

export interface McpTaskRow {
  id: string;
  agentTaskId: string;
  tokenId: string;
  claims: TokenClaims;
  integration: string;
  tool: string;
  viewIntegration: string | null;
  requestedName: string;
  arguments: Record<string, unknown> | null;
  inputCapabilities: Record<string, unknown>;
  idempotent: boolean;
  status: McpTaskStatus;
  inputRequests: Record<string, unknown> | null;
  inputResponses: Record<string, unknown>;
  requestState: string | null;
  result: Record<string, unknown> | null;
  error: { code: number; message: string; data?: unknown } | null;
  ttlMs: number;
  pollIntervalMs: number;
  attempts: number;
  /** The upstream's own task id (passthrough, mcp/mcp-task-upstream.ts); never shown to the agent. */
  upstreamTaskId: string | null;
  /** The wire the upstream task was created on. */
  upstreamWire: UpstreamWire | null;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `id, agent_task_id as "agentTaskId", token_id as "tokenId", claims, integration, tool,
  view_integration as "viewIntegration", requested_name as "requestedName", arguments,
  input_capabilities as "inputCapabilities", idempotent, status, input_requests as "inputRequests",
  input_responses as "inputResponses", request_state as "requestState", result, error,
  ttl_ms as "ttlMs", poll_interval_ms as "pollIntervalMs", attempts, upstream_task_id as "upstreamTaskId",
  upstream_wire as "upstreamWire", created_at as "createdAt",
  updated_at as "updatedAt"`;

export interface NewMcpTask {
  id: string;
  claims: TokenClaims;
  integration: string;
  tool: string;
  viewIntegration: string | null;
  requestedName: string;
  arguments: Record<string, unknown> | undefined;
  inputCapabilities: Record<string, unknown>;
  idempotent: boolean;
  ttlMs: number;
  pollIntervalMs: number;
  /** A later MRTR round's answers and the upstream's state (SEP-2322), sent on its first run. */
  inputResponses?: Record<string, unknown>;
  requestState?: string;
}

/**
 * Inserts a queued row unless the agent task already has `limits.open` open ones or
 * `limits.rows` unexpired ones (ended ones too, until their ttl); undefined then.
 * The count and the insert are one statement, so a burst can pass the cap by the requests in
 * flight at once (bounded by the per-token rate limit), never without bound.
 */
export async function insertMcpTask(
  sql: Sql,
  t: NewMcpTask,
  limits: { open: number; rows: number },
): Promise<McpTaskRow | undefined> {
  const json = (v: unknown) => (v === undefined || v === null ? null : sql.json(v as never));
  const rows = await sql.unsafe<McpTaskRow[]>(
    `insert into mcp_tasks (id, agent_task_id, token_id, claims, integration, tool, view_integration,
       requested_name, arguments, input_capabilities, idempotent, ttl_ms, poll_interval_ms, expires_at,
       input_responses, request_state)
     select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::boolean, $12::integer, $13::integer,
            now() + $12::integer * interval '1 millisecond', $16::jsonb, $17
      where (select count(*) filter (where o.status in ('working', 'input_required')) < $14::integer
                    and count(*) < $15::integer
               from mcp_tasks o
              where o.agent_task_id = $2 and o.expires_at > now())
     returning ${COLUMNS}`,
    [
      t.id,
      t.claims.taskId,
      t.claims.tokenId,
      json(t.claims),
      t.integration,
      t.tool,
      t.viewIntegration,
      t.requestedName,
      json(t.arguments),
      json(t.inputCapabilities),
      t.idempotent,
      t.ttlMs,
      t.pollIntervalMs,
      limits.open,
      limits.rows,
      json(t.inputResponses ?? {}),
      t.requestState ?? null,
    ] as never[],
  );
  return rows[0];
}

/** The row, if it is this agent task's and not expired. */
export async function findMcpTask(
  sql: Sql,
  id: string,
  agentTaskId: string,
): Promise<McpTaskRow | undefined> {
  const rows = await sql.unsafe<McpTaskRow[]>(
    `select ${COLUMNS} from mcp_tasks
      where id = $1 and agent_task_id = $2 and expires_at > now()`,
    [id, agentTaskId],
  );
  return rows[0];
}

/** Where a page of an agent task's rows starts: after this row (created_at in µs since epoch, id). */
export interface McpTaskListKey {
  micros: string;
  id: string;
}

/**
 * Up to `limit` unexpired rows of the agent task (of one integration when `integration` is set),
 * oldest first by (created_at, id) after `after`: a keyset page (2025-11-25 tasks/list). Each row
 * carries its key; created_at goes out as whole microseconds (PostgreSQL's precision) so a page
 * boundary never falls between rows a millisecond Date could not tell apart.
 */
export async function listMcpTasks(
  sql: Sql,
  agentTaskId: string,
  integration: string | null,
  after: McpTaskListKey | undefined,
  limit: number,
): Promise<(McpTaskRow & { micros: string })[]> {
  return sql.unsafe<(McpTaskRow & { micros: string })[]>(
    `select ${COLUMNS},
            (extract(epoch from t.created_at) * 1000000)::bigint::text as micros
       from mcp_tasks t
      where t.agent_task_id = $1 and t.expires_at > now()
        and ($2::text is null or t.integration = $2::text)
        and ($3::bigint is null
             or (t.created_at, t.id) > (timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::text))
      order by t.created_at, t.id
      limit $5::integer`,
    [agentTaskId, integration, after?.micros ?? null, after?.id ?? null, limit] as never[],
  );
}

/**
 * Deletes a row whose FIRST run ended input_required (attempts = 1), before its id was ever
 * answered to the agent: the gateway answers that round synchronously instead (SEP-2663 MRTR
 * before task creation). Returns what the upstream asked, or undefined (the row stays a task).
 */
export async function takeFirstRoundInput(
  sql: Sql,
  id: string,
  agentTaskId: string,
): Promise<{ inputRequests: Record<string, unknown>; requestState: string | null } | undefined> {
  const rows = await sql<{ inputRequests: Record<string, unknown>; requestState: string | null }[]>`
    delete from mcp_tasks
     where id = ${id} and agent_task_id = ${agentTaskId} and status = 'input_required'
       and attempts = 1 and input_requests is not null and upstream_task_id is null
    returning input_requests as "inputRequests", request_state as "requestState"`;
  return rows[0];
}

/** Open → cancelled (a terminal row stays as it is: cancel is idempotent); whether it changed. */
export async function cancelMcpTask(sql: Sql, id: string, agentTaskId: string): Promise<boolean> {
  const result = await sql`
    update mcp_tasks set status = 'cancelled', queued = false, input_requests = null,
           lease_owner = null, lease_until = null, updated_at = now()
     where id = ${id} and agent_task_id = ${agentTaskId}
       and status in ('working', 'input_required')`;
  return result.count > 0;
}

/**
 * Answers some of an input_required row's pending requests (tasks/update): answered keys leave
 * `input_requests` and join `input_responses`; keys that are not pending are ignored. When none
 * is left pending, the row is queued to run again. Returns whether it was queued.
 */
export async function answerMcpTaskInput(
  sql: Sql,
  id: string,
  agentTaskId: string,
  responses: Record<string, unknown>,
): Promise<boolean> {
  const rows = await sql<{ queued: boolean }[]>`
    with answered as (
      select t.id,
             coalesce((select jsonb_object_agg(k, v) from jsonb_each(${sql.json(responses as never)}) r(k, v)
                        where t.input_requests ? k), '{}'::jsonb) as given
        from mcp_tasks t
       where t.id = ${id} and t.agent_task_id = ${agentTaskId} and t.status = 'input_required'
       for update)
    update mcp_tasks m
       set input_responses = m.input_responses || a.given,
           input_requests = (select coalesce(jsonb_object_agg(k, v), '{}'::jsonb)
                               from jsonb_each(m.input_requests) p(k, v) where not (a.given ? k)),
           status = case when (select count(*) from jsonb_object_keys(m.input_requests) p(k)
                                where not (a.given ? k)) = 0 then 'working' else m.status end,
           queued = (select count(*) from jsonb_object_keys(m.input_requests) p(k)
                      where not (a.given ? k)) = 0,
           updated_at = now()
      from answered a
     where m.id = a.id
    returning m.queued`;
  return rows[0]?.queued === true;
}

/**
 * Leases up to `limit` queued rows for `owner` (SKIP LOCKED), due first (a parked passthrough row
 * at its next poll, any other at its creation, so rows taking turns cannot starve a new one);
 * each claim counts an attempt. A row
 * whose agent task already has `perAgentTask` calls running waits, so one agent task's calls
 * cannot take every worker slot from the others (checked per claim, so concurrent claims of
 * several replicas may pass it by their claim sizes, never without bound).
 */
export async function claimMcpTasks(
  sql: Sql,
  owner: string,
  leaseMs: number,
  limit: number,
  perAgentTask: number,
): Promise<McpTaskRow[]> {
  return sql.unsafe<McpTaskRow[]>(
    `update mcp_tasks m
        set queued = false, lease_owner = $1,
            lease_until = now() + $2::integer * interval '1 millisecond',
            attempts = m.attempts + 1, updated_at = now()
      where m.id in (select q.id from mcp_tasks q
                      where q.queued and q.status = 'working' and q.expires_at > now()
                        and coalesce(q.next_poll_at, q.created_at) <= now()
                        and (select count(*) from mcp_tasks r
                              where r.agent_task_id = q.agent_task_id and r.status = 'working'
                                and r.lease_owner is not null) < $4::integer
                      order by coalesce(q.next_poll_at, q.created_at), q.created_at
                      limit $3::integer for update skip locked)
      returning ${COLUMNS}`,
    [owner, leaseMs, limit, perAgentTask] as never[],
  );
}

/** Extends a running row's lease, if this owner still holds it. */
export async function renewMcpTaskLease(
  sql: Sql,
  id: string,
  owner: string,
  leaseMs: number,
): Promise<void> {
  await sql`
    update mcp_tasks set lease_until = now() + ${leaseMs}::float8 * interval '1 millisecond'
     where id = ${id} and lease_owner = ${owner} and status = 'working'`;
}

/**
 * Records the upstream's task id of a running row (passthrough), under its lease: whether it was
 * written (false: cancelled, or another replica took the row back; the caller cancels upstream).
 */
export async function setMcpTaskUpstream(
  sql: Sql,
  id: string,
  owner: string,
  upstream: { taskId: string; wire: UpstreamWire },
): Promise<boolean> {
  const result = await sql`
    update mcp_tasks set upstream_task_id = ${upstream.taskId}, upstream_wire = ${upstream.wire},
           updated_at = now()
     where id = ${id} and lease_owner = ${owner} and status = 'working'`;
  return result.count > 0;
}

/**
 * Gives a followed row's worker slot back until its next poll (passthrough): queued again, due
 * in `delayMs`, lease dropped, answers already sent upstream (tasks/update) cleared so the next
 * turn does not send them again; only while this owner holds it. `updated_at` is left alone (the
 * agent's `lastUpdatedAt` is about the task, not the polling). Whether it was parked.
 */
export async function parkMcpTaskRun(
  sql: Sql,
  id: string,
  owner: string,
  delayMs: number,
): Promise<boolean> {
  const result = await sql`
    update mcp_tasks
       set queued = true, next_poll_at = now() + ${delayMs}::float8 * interval '1 millisecond',
           input_responses = '{}'::jsonb, lease_owner = null, lease_until = null
     where id = ${id} and lease_owner = ${owner} and status = 'working'`;
  return result.count > 0;
}

/** How a run ended, as stored. */
export type McpTaskOutcome =
  | { status: 'completed'; result: Record<string, unknown> }
  | { status: 'failed'; error: { code: number; message: string; data?: unknown } }
  | {
      status: 'input_required';
      inputRequests: Record<string, unknown>;
      requestState: string | null;
    };

/** Ends a run under its lease (a cancelled row, or one another replica took back, is left alone). */
export async function finishMcpTaskRun(
  sql: Sql,
  id: string,
  owner: string,
  outcome: McpTaskOutcome,
): Promise<boolean> {
  const json = (v: unknown) => (v === undefined ? null : sql.json(v as never));
  const result = await sql`
    update mcp_tasks
       set status = ${outcome.status},
           result = ${outcome.status === 'completed' ? json(outcome.result) : null},
           error = ${outcome.status === 'failed' ? json(outcome.error) : null},
           input_requests = ${outcome.status === 'input_required' ? json(outcome.inputRequests) : null},
           input_responses = '{}'::jsonb,
           request_state = ${outcome.status === 'input_required' ? outcome.requestState : null},
           lease_owner = null, lease_until = null, updated_at = now()
     where id = ${id} and lease_owner = ${owner} and status = 'working'`;
  return result.count > 0;
}

/**
 * Takes back the rows of dead runs (lease expired): an idempotent tool's row is queued to run
 * again, and so is a row whose upstream task was created (its next run only resumes polling it,
 * no second tools/call); any other ends `failed` (a non-idempotent call must not run twice).
 * How many it took.
 */
export async function recoverMcpTasks(
  sql: Sql,
  error: { code: number; message: string },
): Promise<number> {
  const result = await sql`
    update mcp_tasks
       set queued = idempotent or upstream_task_id is not null,
           status = case when idempotent or upstream_task_id is not null then status else 'failed' end,
           error = case when idempotent or upstream_task_id is not null then null
                        else ${sql.json(error as never)} end,
           lease_owner = null, lease_until = null, updated_at = now()
     where id in (select id from mcp_tasks
                   where status = 'working' and not queued and lease_until < now()
                   order by lease_until limit 1000 for update skip locked)`;
  return result.count;
}

/** Deletes up to `limit` rows past their expiry (the retention job). */
export async function deleteExpiredMcpTasks(sql: Sql, limit: number): Promise<number> {
  const result = await sql`
    with doomed as (
      select t.id from mcp_tasks t where t.expires_at <= now()
       order by t.expires_at limit ${limit} for update of t skip locked)
    delete from mcp_tasks d using doomed where d.id = doomed.id`;
  return result.count;
}
