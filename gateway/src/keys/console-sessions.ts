import type { Sql } from '../db/connect.ts';
import type { ApiKeyRow } from './store.ts';

/**
 * Console sessions (migration 0012): a cookie standing in for an operator API key. One function
 * per statement; the token itself never reaches the database, only its sha256.
 */

/** Live sessions one key may hold: the 21st sign-in ends the oldest (a browser per device). */
export const MAX_SESSIONS_PER_KEY = 20;

export interface ConsoleSessionRow {
  id: string;
  expiresAt: Date;
  key: Pick<ApiKeyRow, 'id' | 'prefix' | 'name' | 'scopes' | 'integration'>;
}

export async function insertConsoleSession(
  sql: Sql,
  session: { tokenHash: Buffer; apiKeyId: string; ttlMs: number; userAgent: string | null },
): Promise<{ id: string; expiresAt: Date }> {
  const [row] = await sql<Array<{ id: string; expiresAt: Date }>>`
    insert into console_sessions (token_hash, api_key_id, expires_at, user_agent)
    values (${session.tokenHash}, ${session.apiKeyId},
            now() + ${session.ttlMs}::float8 * interval '1 millisecond', ${session.userAgent})
    returning id::text, expires_at as "expiresAt"`;
  return row!;
}

/** Ends the key's live sessions past the newest MAX_SESSIONS_PER_KEY (run after an insert). */
export async function endExcessConsoleSessions(sql: Sql, apiKeyId: string): Promise<number> {
  const result = await sql`
    update console_sessions set ended_at = now()
    where id in (
      select id from console_sessions
       where api_key_id = ${apiKeyId} and ended_at is null
       order by id desc
       offset ${MAX_SESSIONS_PER_KEY})`;
  return result.count;
}

/** The live session with this token hash and its active key; undefined for anything else. */
export async function findLiveConsoleSession(
  sql: Sql,
  tokenHash: Buffer,
): Promise<ConsoleSessionRow | undefined> {
  const [row] = await sql<
    Array<{
      id: string;
      expiresAt: Date;
      keyId: string;
      prefix: string;
      name: string;
      scopes: string[];
      integration: string | null;
    }>
  >`
    select s.id::text, s.expires_at as "expiresAt", k.id::text as "keyId", k.prefix, k.name,
           k.scopes, k.integration
      from console_sessions s join api_keys k on k.id = s.api_key_id
     where s.token_hash = ${tokenHash} and s.ended_at is null and s.expires_at > now()
       and k.revoked_at is null`;
  if (!row) return undefined;
  const { keyId, prefix, name, scopes, integration, ...session } = row;
  return { ...session, key: { id: keyId, prefix, name, scopes, integration } };
}

/** Records use at most once a minute per session, like touchApiKey. */
export async function touchConsoleSession(sql: Sql, id: string): Promise<void> {
  await sql`
    update console_sessions set last_seen_at = now()
    where id = ${id} and last_seen_at < now() - interval '1 minute'`;
}

/** Sign-out: true if the session was live. */
export async function endConsoleSession(sql: Sql, id: string): Promise<boolean> {
  const result = await sql`
    update console_sessions set ended_at = now() where id = ${id} and ended_at is null`;
  return result.count > 0;
}

/**
 * Run at each sign-in, after endExcessConsoleSessions: the key's ended and expired sessions are
 * deleted, so a key holds at most MAX_SESSIONS_PER_KEY rows after any sign-in (the audit log
 * keeps who signed in and out). No background job: nothing else writes these rows.
 */
export async function deleteDeadConsoleSessions(sql: Sql, apiKeyId: string): Promise<number> {
  const result = await sql`
    delete from console_sessions
     where api_key_id = ${apiKeyId} and (ended_at is not null or expires_at <= now())`;
  return result.count;
}
