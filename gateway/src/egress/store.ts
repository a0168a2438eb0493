import type { Sql } from '../db/connect.ts';
import type { EgressOutcome, EgressReason } from './types.ts';

/** One row of egress_connections as written (migration 0021). */
export interface EgressRow {
  startedAt: string;
  integration: string | null;
  taskId: string | null;
  kind: 'connect' | 'http';
  host: string;
  port: number;
  address: string | null;
  outcome: EgressOutcome;
  reason: EgressReason | null;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  mtls: boolean;
}

/** A row as read back, with its id (decimal text: ids are bigint). */
export interface EgressConnection extends Omit<EgressRow, 'startedAt'> {
  id: string;
  startedAt: Date;
}

/**
 * One statement per batch, whatever its size: the rows go as one JSON array (jsonb text made
 * NUL-free by the caller), unpacked by jsonb_to_recordset; sent as text and cast, since
 * postgres.js would encode a string bound straight to jsonb as a JSON string.
 */
export async function insertEgressConnections(sql: Sql, rowsJson: string): Promise<void> {
  await sql`
    insert into egress_connections (started_at, integration, task_id, kind, host, port, address,
                                    outcome, reason, bytes_up, bytes_down, duration_ms, mtls)
    select r."startedAt", r.integration, r."taskId", r.kind, r.host, r.port, r.address,
           r.outcome, r.reason, r."bytesUp", r."bytesDown", r."durationMs", r.mtls
      from jsonb_to_recordset(${rowsJson}::text::jsonb) as r (
        "startedAt" timestamptz, integration text, "taskId" uuid, kind text, host text,
        port integer, address text, outcome text, reason text, "bytesUp" bigint,
        "bytesDown" bigint, "durationMs" integer, mtls boolean)`;
}

/** The filters of GET /api/v1/egress and `switchboard egress list`: all together (and). */
export interface EgressFilter {
  limit: number;
  /** Rows older than this id (the previous page's `next`), compared as numbers. */
  beforeId?: string | undefined;
  integration?: string | undefined;
  outcome?: EgressOutcome | undefined;
  host?: string | undefined;
  taskId?: string | undefined;
  /** At or after this time. */
  since?: Date | undefined;
}

export async function listEgressConnections(
  sql: Sql,
  filter: EgressFilter,
): Promise<EgressConnection[]> {
  const beforeId = filter.beforeId ?? null;
  const integration = filter.integration ?? null;
  const outcome = filter.outcome ?? null;
  const host = filter.host ?? null;
  const taskId = filter.taskId ?? null;
  const since = filter.since?.toISOString() ?? null;
  const rows = await sql<
    (Omit<EgressConnection, 'bytesUp' | 'bytesDown'> & {
      bytesUp: string;
      bytesDown: string;
    })[]
  >`
    select id::text, started_at as "startedAt", integration, task_id::text as "taskId", kind,
           host, port, address, outcome, reason, bytes_up::text as "bytesUp",
           bytes_down::text as "bytesDown", duration_ms as "durationMs", mtls
      from egress_connections e
     where (${beforeId}::bigint is null or e.id < ${beforeId}::bigint)
       and (${integration}::text is null or e.integration = ${integration}::text)
       and (${outcome}::text is null or e.outcome = ${outcome}::text)
       and (${host}::text is null or e.host = ${host}::text)
       and (${taskId}::uuid is null or e.task_id = ${taskId}::uuid)
       and (${since}::timestamptz is null or e.started_at >= ${since}::timestamptz)
     order by e.id desc
     limit ${filter.limit}`;
  return rows.map((r) => ({ ...r, bytesUp: Number(r.bytesUp), bytesDown: Number(r.bytesDown) }));
}

/**
 * Retention (gateway/src/retention/): deletes up to `limit` rows older than `olderThanMs`,
 * oldest first, and returns how many. Rows another replica is deleting are skipped.
 */
export async function deleteOldEgress(
  sql: Sql,
  olderThanMs: number,
  limit: number,
): Promise<number> {
  const result = await sql`
    with doomed as (
      select e.id from egress_connections e
       where e.started_at < now() - ${olderThanMs}::float8 * interval '1 millisecond'
       order by e.started_at
       limit ${limit}
       for update of e skip locked)
    delete from egress_connections d using doomed where d.id = doomed.id`;
  return result.count;
}
