import type { Sql } from '../db/connect.ts';

export interface AuditEntry {
  actor: string;
  action: string;
  target?: string | undefined;
  apiKeyId?: string | undefined;
  requestId?: string | undefined;
  details?: Record<string, unknown>;
}

/**
 * Who made a change (an API key, the CLI, the gateway): an audit entry without the what. Every
 * audited write takes this one type (api/, keys/, tasks/, outbox/, tokens/).
 */
export type AuditActor = Pick<AuditEntry, 'actor' | 'apiKeyId' | 'requestId'>;

export interface AuditRow {
  id: string;
  at: Date;
  actor: string;
  action: string;
  target: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

/** Call inside the transaction that makes the change, so the record and the change commit together. */
export async function appendAudit(sql: Sql, entry: AuditEntry): Promise<void> {
  await sql`
    insert into audit_log (actor, api_key_id, action, target, request_id, details)
    values (${entry.actor}, ${entry.apiKeyId ?? null}, ${entry.action}, ${entry.target ?? null},
            ${entry.requestId ?? null}, ${sql.json((entry.details ?? {}) as never)})`;
}

/**
 * Retention (gateway/src/retention/): deletes up to `limit` entries older than `olderThanMs`,
 * oldest first, and returns how many. Rows a concurrent run (another replica) is deleting are
 * skipped rather than waited for, so runs share the work and neither fails.
 */
export async function deleteOldAudit(
  sql: Sql,
  olderThanMs: number,
  limit: number,
): Promise<number> {
  const result = await sql`
    with doomed as (
      select a.id from audit_log a
       where a.at < now() - ${olderThanMs}::float8 * interval '1 millisecond'
       order by a.at
       limit ${limit}
       for update of a skip locked)
    delete from audit_log d using doomed where d.id = doomed.id`;
  return result.count;
}

/** The filters of GET /api/v1/audit: each narrows, all together (and). */
export interface AuditFilter {
  limit: number;
  /** Entries older than this id (the previous page's `next`), compared as numbers. */
  beforeId?: string | undefined;
  action?: string | undefined;
  actor?: string | undefined;
  target?: string | undefined;
  /** At or after this time. */
  since?: Date | undefined;
  /** Before this time. */
  until?: Date | undefined;
}

export async function listAudit(sql: Sql, options: AuditFilter): Promise<AuditRow[]> {
  const since = options.since?.toISOString() ?? null;
  const until = options.until?.toISOString() ?? null;
  return sql<AuditRow[]>`
    select id::text, at, actor, action, target, request_id as "requestId", details
    from audit_log a
    where (${options.beforeId ?? null}::bigint is null or a.id < ${options.beforeId ?? null}::bigint)
      and (${options.action ?? null}::text is null or a.action = ${options.action ?? null}::text)
      and (${options.actor ?? null}::text is null or a.actor = ${options.actor ?? null}::text)
      and (${options.target ?? null}::text is null or a.target = ${options.target ?? null}::text)
      and (${since}::timestamptz is null or a.at >= ${since}::timestamptz)
      and (${until}::timestamptz is null or a.at < ${until}::timestamptz)
    order by a.id desc
    limit ${options.limit}`;
}
