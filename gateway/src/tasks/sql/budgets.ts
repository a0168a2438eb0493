import type { Budget } from '@switchboard/policy';
import type { Sql } from '../../db/connect.ts';

/**
 * The counts of a task's budget (0009_task_budgets.sql), one statement per function: written by
 * the budget guard (guards/budgets.ts) on every call of a budgeted task, and by an external
 * grant that carries a budget (tasks/external.ts). A task without a budget has no row.
 */

/** What a task has used of its budget, and the limits that have refused a call. */
export interface BudgetUse {
  /** The grant's own budget, when it has one (the profile's comes from the policy). */
  limits: Budget | null;
  calls: number;
  perTool: Record<string, number>;
  upstreamBytes: number;
  exceeded: string[];
  /** When the task's wall time started: started_at, or created_at for an external task. */
  startedAt: Date;
  /** The database's clock, which every replica shares (wall time is measured on it). */
  now: Date;
}

/** The limits one call is checked against, flattened for the statement. */
export interface CallLimits {
  toolCalls: number | null;
  /** The budget patterns that name the called tool, and their limits (same order). */
  patterns: string[];
  patternMaxes: number[];
  upstreamBytes: number | null;
  wallTimeMs: number | null;
}

/** Writes an external grant's budget with its task (in the grant's transaction). */
export async function insertGrantBudget(sql: Sql, taskId: string, limits: Budget): Promise<void> {
  await sql`
    insert into task_budgets (task_id, limits) values (${taskId}, ${sql.json(limits as never)})`;
}

/** The grant's own budget of a task, null when it has none (read once per task and process). */
export async function readGrantBudget(sql: Sql, taskId: string): Promise<Budget | null> {
  const [row] = await sql<{ limits: Budget | null }[]>`
    select limits from task_budgets where task_id = ${taskId}`;
  return row?.limits ?? null;
}

/**
 * Counts one call if every limit has room, in one statement (the row is created by the task's
 * first call, or by its grant): the row lock of the upsert serialises concurrent calls on every
 * replica, so `calls` never passes `toolCalls`. Returns the new count, or undefined when a
 * limit refused the call (nothing was counted). Bytes are checked, not counted: a call's size
 * is known only after it (addUpstreamBytes).
 */
export async function countBudgetCall(
  sql: Sql,
  taskId: string,
  limits: CallLimits,
): Promise<number | undefined> {
  const { toolCalls, patterns, patternMaxes, upstreamBytes, wallTimeMs } = limits;
  const [row] = await sql<{ calls: number }[]>`
    insert into task_budgets as b (task_id, calls, per_tool)
    select t.id, 1, coalesce((select jsonb_object_agg(k, 1) from unnest(${patterns}::text[]) k), '{}')
      from tasks t
     where t.id = ${taskId}
       and (${toolCalls}::int is null or ${toolCalls}::int >= 1)
       and not exists (select 1 from unnest(${patternMaxes}::int[]) m where m < 1)
       and (${upstreamBytes}::bigint is null or ${upstreamBytes}::bigint > 0)
       and (${wallTimeMs}::float8 is null
            or coalesce(t.started_at, t.created_at)
               > now() - ${wallTimeMs}::float8 * interval '1 millisecond')
    on conflict (task_id) do update
       set calls = b.calls + 1,
           per_tool = b.per_tool || coalesce(
             (select jsonb_object_agg(k, coalesce((b.per_tool ->> k)::int, 0) + 1)
                from unnest(${patterns}::text[]) k), '{}'),
           updated_at = now()
     where (${toolCalls}::int is null or b.calls < ${toolCalls}::int)
       and not exists (
         select 1 from unnest(${patterns}::text[], ${patternMaxes}::int[]) as l (k, m)
          where coalesce((b.per_tool ->> l.k)::int, 0) >= l.m)
       and (${upstreamBytes}::bigint is null or b.upstream_bytes < ${upstreamBytes}::bigint)
    returning calls`;
  return row?.calls;
}

/** Adds the bytes of a call's result (after the call; the next call is checked against them). */
export async function addUpstreamBytes(sql: Sql, taskId: string, bytes: number): Promise<void> {
  await sql`
    update task_budgets set upstream_bytes = upstream_bytes + ${bytes}::bigint, updated_at = now()
     where task_id = ${taskId}`;
}

/** A task's use of its budget; undefined when it has no row yet (no budgeted call so far). */
export async function readBudgetUse(sql: Sql, taskId: string): Promise<BudgetUse | undefined> {
  const [row] = await sql<BudgetUse[]>`
    select b.limits, b.calls, b.per_tool as "perTool", b.upstream_bytes::float8 as "upstreamBytes",
           b.exceeded, coalesce(t.started_at, t.created_at) as "startedAt", now() as now
      from task_budgets b join tasks t on t.id = b.task_id
     where b.task_id = ${taskId}`;
  return row;
}

/** When a task's wall time started, and the database's clock (for a task without a row yet). */
export async function readTaskClock(
  sql: Sql,
  taskId: string,
): Promise<{ startedAt: Date; now: Date } | undefined> {
  const [row] = await sql<{ startedAt: Date; now: Date }[]>`
    select coalesce(t.started_at, t.created_at) as "startedAt", now() as now
      from tasks t where t.id = ${taskId}`;
  return row;
}

/**
 * Marks `limit` (toolCalls, perTool:<pattern>, upstreamBytes, wallTime) as having refused a
 * call; true only for the one statement that marked it first, on any replica, so the
 * task:budget_exceeded event of a limit is written once per task.
 */
export async function markBudgetExceeded(
  sql: Sql,
  taskId: string,
  limit: string,
): Promise<boolean> {
  const [row] = await sql<{ taskId: string }[]>`
    insert into task_budgets as b (task_id, exceeded) values (${taskId}, array[${limit}::text])
    on conflict (task_id) do update
       set exceeded = b.exceeded || ${limit}::text, updated_at = now()
     where not (${limit}::text = any(b.exceeded))
    returning b.task_id::text as "taskId"`;
  return row !== undefined;
}
