import type { Sql } from '../db/connect.ts';

/**
 * The SQL of key-value storage (table kv_entries, migrations/0014_kv.sql): one function per
 * statement. A row whose expires_at has passed is absent to every read here; only the bounds'
 * count and the pruning statements see it.
 */

export interface KvEntry {
  key: string;
  value: unknown;
  version: number;
  sizeBytes: number;
  expiresAt: Date | null;
  updatedAt: Date;
}

/** A row as stored, expired or not: what a write compares against. */
export interface KvStoredRow {
  version: number;
  sizeBytes: number;
  expired: boolean;
}

/**
 * Serialises the writes of one namespace until the transaction ends: a compare-and-set and the
 * bounds' count are then exact whatever other writers do. The key is a 64-bit hash of the
 * integration's name; two names that collide only share a lock.
 */
export async function lockNamespace(sql: Sql, integration: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`switchboard:kv:${integration}`}, 0))`;
}

export async function findStoredRow(
  sql: Sql,
  integration: string,
  key: string,
): Promise<KvStoredRow | undefined> {
  const [row] = await sql<KvStoredRow[]>`
    select e.version::float8 as version, e.size_bytes as "sizeBytes",
           (e.expires_at is not null and e.expires_at <= now()) as expired
      from kv_entries e
     where e.integration = ${integration} and e.key = ${key}`;
  return row;
}

/** Rows and value bytes of a namespace, expired rows included (they hold space until pruned). */
export async function namespaceUsage(
  sql: Sql,
  integration: string,
): Promise<{ keys: number; bytes: number }> {
  const [row] = await sql<{ keys: number; bytes: number }[]>`
    select count(*)::int as keys, coalesce(sum(e.size_bytes), 0)::float8 as bytes
      from kv_entries e where e.integration = ${integration}`;
  return row!;
}

/**
 * Writes a value as `version`; `ttlSeconds` null keeps it until deleted. The value goes as its
 * JSON text, typed text then cast (sql.json(null) would be SQL NULL, not JSON null; a bare
 * ::jsonb parameter would be encoded a second time).
 */
export async function upsertEntry(
  sql: Sql,
  entry: {
    integration: string;
    key: string;
    value: unknown;
    sizeBytes: number;
    version: number;
    ttlSeconds: number | null;
  },
): Promise<{ version: number; expiresAt: Date | null; updatedAt: Date }> {
  const expires =
    entry.ttlSeconds === null
      ? sql`null::timestamptz`
      : sql`now() + ${entry.ttlSeconds}::int * interval '1 second'`;
  const [row] = await sql<{ version: number; expiresAt: Date | null; updatedAt: Date }[]>`
    insert into kv_entries (integration, key, value, size_bytes, version, expires_at, updated_at)
    values (${entry.integration}, ${entry.key}, ${JSON.stringify(entry.value)}::text::jsonb,
            ${entry.sizeBytes}, ${entry.version}, ${expires}, now())
    on conflict (integration, key) do update
       set value = excluded.value, size_bytes = excluded.size_bytes,
           version = excluded.version, expires_at = excluded.expires_at, updated_at = now()
    returning version::float8 as version, expires_at as "expiresAt", updated_at as "updatedAt"`;
  return row!;
}

export async function findEntry(
  sql: Sql,
  integration: string,
  key: string,
): Promise<KvEntry | undefined> {
  const [row] = await sql<KvEntry[]>`
    select e.key, e.value, e.version::float8 as version, e.size_bytes as "sizeBytes",
           e.expires_at as "expiresAt", e.updated_at as "updatedAt"
      from kv_entries e
     where e.integration = ${integration} and e.key = ${key}
       and (e.expires_at is null or e.expires_at > now())`;
  return row;
}

/**
 * Deletes a live entry (at `ifVersion` when given). Answers the deleted version, or undefined
 * when nothing matched: absent, expired, or at another version (the caller tells them apart).
 */
export async function deleteEntry(
  sql: Sql,
  integration: string,
  key: string,
  ifVersion: number | undefined,
): Promise<number | undefined> {
  const [row] = await sql<{ version: number }[]>`
    delete from kv_entries e
     where e.integration = ${integration} and e.key = ${key}
       and (e.expires_at is null or e.expires_at > now())
       ${ifVersion === undefined ? sql`` : sql`and e.version = ${ifVersion}`}
    returning e.version::float8 as version`;
  return row?.version;
}

/**
 * One page of a namespace's live keys in bytewise key order (the column's collation is "C"),
 * after `cursor` (the previous page's last key) and starting with `prefix`. Keys are text, not
 * ids: text order is the order meant here.
 */
export async function listEntries(
  sql: Sql,
  integration: string,
  options: { prefix: string | undefined; cursor: string | undefined; limit: number },
): Promise<Omit<KvEntry, 'value'>[]> {
  return sql<Omit<KvEntry, 'value'>[]>`
    select e.key, e.version::float8 as version, e.size_bytes as "sizeBytes",
           e.expires_at as "expiresAt", e.updated_at as "updatedAt"
      from kv_entries e
     where e.integration = ${integration}
       and (e.expires_at is null or e.expires_at > now())
       ${options.prefix ? sql`and starts_with(e.key, ${options.prefix})` : sql``}
       ${options.cursor === undefined ? sql`` : sql`and e.key > ${options.cursor}`}
     order by e.key -- check-sql-order: text order intended
     limit ${options.limit}`;
}

/** Expired rows of one namespace (a write about to pass its bounds makes room first). */
export async function deleteExpiredOf(
  sql: Sql,
  integration: string,
  limit: number,
): Promise<number> {
  const result = await sql`
    with doomed as (
      select e.integration, e.key from kv_entries e
       where e.integration = ${integration} and e.expires_at <= now()
       limit ${limit}
       for update of e skip locked)
    delete from kv_entries d using doomed
     where d.integration = doomed.integration and d.key = doomed.key`;
  return result.count;
}

/**
 * The retention job's statement: up to `limit` expired rows of any namespace. `olderThanMs` is
 * how long past expiry a row is kept (0: none; expired rows are invisible anyway).
 */
export async function deleteExpiredEntries(
  sql: Sql,
  olderThanMs: number,
  limit: number,
): Promise<number> {
  const result = await sql`
    with doomed as (
      select e.integration, e.key from kv_entries e
       where e.expires_at <= now() - ${olderThanMs}::float8 * interval '1 millisecond'
       order by e.expires_at
       limit ${limit}
       for update of e skip locked)
    delete from kv_entries d using doomed
     where d.integration = doomed.integration and d.key = doomed.key`;
  return result.count;
}
