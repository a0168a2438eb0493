import type { Pool, Sql } from '../db/connect.ts';

export interface ApiKeyRow {
  id: string;
  prefix: string;
  name: string;
  scopes: string[];
  source: string;
  /** The integration a provisioned key (source 'integration') belongs to; null otherwise. */
  integration: string | null;
  createdBy: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const columns = (sql: Sql) =>
  sql`id::text, prefix, name, scopes, source, integration, created_by as "createdBy",
      created_at as "createdAt", last_used_at as "lastUsedAt", revoked_at as "revokedAt"`;

export async function insertApiKey(
  sql: Sql,
  key: {
    prefix: string;
    hash: Buffer;
    name: string;
    scopes: string[];
    source: 'cli' | 'api' | 'env' | 'integration';
    integration?: string | undefined;
    createdBy: string;
  },
): Promise<ApiKeyRow> {
  const [row] = await sql<ApiKeyRow[]>`
    insert into api_keys (prefix, hash, name, scopes, source, integration, created_by)
    values (${key.prefix}, ${key.hash}, ${key.name}, ${key.scopes}, ${key.source},
            ${key.integration ?? null}, ${key.createdBy})
    returning ${columns(sql)}`;
  return row!;
}

/** Revokes every active key provisioned for this integration; returns them as revoked. */
/** The integration's active keys made by one gateway instance (`createdBy`), or by any. */
export async function revokeIntegrationKeys(
  sql: Sql,
  integration: string,
  createdBy?: string,
): Promise<ApiKeyRow[]> {
  return sql<ApiKeyRow[]>`
    update api_keys set revoked_at = now()
    where source = 'integration' and integration = ${integration} and revoked_at is null
      and (${createdBy ?? null}::text is null or created_by = ${createdBy ?? null})
    returning ${columns(sql)}`;
}

/** Every active integration key one gateway instance made (its clean shutdown). */
export async function revokeInstanceKeys(sql: Sql, createdBy: string): Promise<ApiKeyRow[]> {
  return sql<ApiKeyRow[]>`
    update api_keys set revoked_at = now()
    where source = 'integration' and created_by = ${createdBy} and revoked_at is null
    returning ${columns(sql)}`;
}

/** The active key with this hash, or undefined (unknown and revoked look the same). */
export async function findActiveApiKey(sql: Sql, hash: Buffer): Promise<ApiKeyRow | undefined> {
  const [row] = await sql<ApiKeyRow[]>`
    select ${columns(sql)} from api_keys where hash = ${hash} and revoked_at is null`;
  return row;
}

/** Records use at most once a minute per key, so authenticated reads do not each cost a write. */
export async function touchApiKey(sql: Sql, id: string): Promise<void> {
  await sql`
    update api_keys set last_used_at = now()
    where id = ${id} and (last_used_at is null or last_used_at < now() - interval '1 minute')`;
}

export async function listApiKeys(sql: Sql, includeRevoked: boolean): Promise<ApiKeyRow[]> {
  return sql<ApiKeyRow[]>`
    select ${columns(sql)} from api_keys k
    where ${includeRevoked} or k.revoked_at is null
    order by k.id`;
}

/** Revoke by numeric id or by prefix; returns the row as revoked, or undefined if none matched. */
export async function revokeApiKey(sql: Sql, idOrPrefix: string): Promise<ApiKeyRow | undefined> {
  const byId = /^\d+$/.test(idOrPrefix);
  const [row] = await sql<ApiKeyRow[]>`
    update api_keys set revoked_at = coalesce(revoked_at, now())
    where ${byId ? sql`id = ${idOrPrefix}::bigint` : sql`prefix = ${idOrPrefix}`}
    returning ${columns(sql)}`;
  return row;
}

/** Revokes the active integration keys of every integration not named (ones no longer found). */
export async function revokeOtherIntegrationKeys(
  sql: Sql,
  integrations: string[],
): Promise<ApiKeyRow[]> {
  return sql<ApiKeyRow[]>`
    update api_keys set revoked_at = now()
    where source = 'integration' and revoked_at is null
      and not (integration = any(${integrations}::text[]))
    returning ${columns(sql)}`;
}

/**
 * The key given by SWITCHBOARD_ADMIN_KEY: one row (source 'env') that follows the variable. A
 * changed value revokes the old row and inserts the new one, so the old key stops working.
 * Replicas booting at once on a fresh database run this together: without the lock, two inserts
 * of the same key met on the `prefix` index (not the `on conflict` arbiter) and one replica
 * failed to start (the replica suite, in CI: duplicate key "api_keys_prefix_key").
 */
export async function syncEnvAdminKey(
  sql: Pool,
  key: { prefix: string; hash: Buffer },
): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtextextended('switchboard:env-admin-key', 0))`;
    await tx`
      update api_keys set revoked_at = now()
      where source = 'env' and revoked_at is null and hash <> ${key.hash}`;
    await tx`
      insert into api_keys (prefix, hash, name, scopes, source, created_by)
      values (${key.prefix}, ${key.hash}, 'SWITCHBOARD_ADMIN_KEY', ${['*']}, 'env', 'env')
      on conflict (hash) do update set revoked_at = null where api_keys.source = 'env'`;
  });
}
