import type { ClientCapabilities, LoggingLevel } from '@modelcontextprotocol/server';
import type { Sql } from '../db/connect.ts';

/**
 * The era2025_handshakes table (migration 0018): one row per token, what its 2025-era client
 * declared. Era2025Clients (era-2025-clients.ts) is its only user, with a cache in front.
 */

export interface HandshakeRow {
  capabilities: ClientCapabilities;
  logLevel: LoggingLevel | undefined;
}

/** An initialize: the capabilities replace the old ones and the log level is cleared. */
export async function upsertInitialize(
  sql: Sql,
  tokenId: string,
  capabilities: ClientCapabilities,
  expiresAt: number,
): Promise<void> {
  await sql`
    insert into era2025_handshakes (token_id, capabilities, log_level, expires_at)
    values (${tokenId}, ${sql.json(capabilities as never)}, null, to_timestamp(${expiresAt}))
    on conflict (token_id) do update
       set capabilities = excluded.capabilities, log_level = null,
           expires_at = excluded.expires_at, updated_at = now()`;
}

/** A logging/setLevel: the level changes, the capabilities stay (none if there was no row). */
export async function upsertLogLevel(
  sql: Sql,
  tokenId: string,
  level: LoggingLevel,
  expiresAt: number,
): Promise<HandshakeRow> {
  const [row] = await sql<Array<{ capabilities: ClientCapabilities; log_level: LoggingLevel }>>`
    insert into era2025_handshakes (token_id, capabilities, log_level, expires_at)
    values (${tokenId}, '{}'::jsonb, ${level}, to_timestamp(${expiresAt}))
    on conflict (token_id) do update
       set log_level = excluded.log_level, expires_at = excluded.expires_at, updated_at = now()
    returning capabilities, log_level`;
  return { capabilities: row?.capabilities ?? {}, logLevel: row?.log_level ?? level };
}

/** The token's handshake, unless it has none or it has expired. */
export async function selectHandshake(
  sql: Sql,
  tokenId: string,
): Promise<HandshakeRow | undefined> {
  const [row] = await sql<Array<{ capabilities: ClientCapabilities; log_level: string | null }>>`
    select capabilities, log_level from era2025_handshakes
     where token_id = ${tokenId} and expires_at > now()`;
  if (!row) return undefined;
  return { capabilities: row.capabilities, logLevel: (row.log_level ?? undefined) as never };
}

/** The retention job's sweep (retention/job.ts): expired rows, oldest first, `limit` at most. */
export async function deleteExpiredHandshakes(
  sql: Sql,
  olderThanMs: number,
  limit: number,
): Promise<number> {
  const result = await sql`
    with doomed as (
      select h.token_id from era2025_handshakes h
       where h.expires_at <= now() - ${olderThanMs}::float8 * interval '1 millisecond'
       order by h.expires_at
       limit ${limit}
       for update of h skip locked)
    delete from era2025_handshakes d using doomed where d.token_id = doomed.token_id`;
  return result.count;
}
