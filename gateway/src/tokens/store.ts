import type { Sql } from '../db/connect.ts';

/** One issued per-task token, recorded so that it can be revoked and audited (never the token). */
export interface TokenRecord {
  jti: string;
  taskId: string;
  kid: string;
  audience: string;
  scope: string;
  expiresAt: Date;
}

/**
 * Records a token and, in the same statement, announces its jti on `channel` (pg_notify is
 * delivered when the transaction commits, never if it rolls back): every process then loads its
 * record (live.ts) before the agent's first call instead of during it.
 */
export async function insertToken(sql: Sql, token: TokenRecord, channel: string): Promise<void> {
  await sql`
    with t as (
      insert into tokens (jti, task_id, kid, audience, scope, expires_at)
      values (${token.jti}, ${token.taskId}, ${token.kid}, ${token.audience}, ${token.scope},
              ${token.expiresAt})
      returning jti)
    select pg_notify(${channel}, t.jti::text) from t`;
}

/**
 * What verification needs besides the signature: is the token known, live, its task running,
 * and is it what was minted — the key, audience and scope recorded for its jti.
 */
export interface TokenState {
  taskId: string;
  kid: string;
  audience: string;
  /** Space-separated, exactly as in the token's `scope` claim. */
  scope: string;
  revoked: boolean;
  taskStatus: string;
  sessionId: string | null;
  profile: string | null;
  expiresAt: Date;
}

/** The record of a token known live (not revoked, its task running): what live.ts holds. */
export type LiveTokenState = Omit<TokenState, 'revoked' | 'taskStatus'> & { jti: string };

export async function tokenState(sql: Sql, jti: string): Promise<TokenState | undefined> {
  const [row] = await sql<TokenState[]>`
    select t.task_id::text as "taskId", t.kid, t.audience, t.scope,
           t.revoked_at is not null as revoked,
           k.status as "taskStatus", k.session_id::text as "sessionId",
           k.profile, t.expires_at as "expiresAt"
      from tokens t join tasks k on k.id = t.task_id
     where t.jti = ${jti}`;
  return row;
}

const LIVE_TOKEN_COLUMNS = (sql: Sql) => sql`
  t.jti::text, t.task_id::text as "taskId", t.kid, t.audience, t.scope,
  k.session_id::text as "sessionId", k.profile, t.expires_at as "expiresAt"`;

/**
 * The records of those of `jtis` that are live now (not revoked, not expired, task running):
 * one read for many, by primary key.
 */
export async function liveTokenStates(
  sql: Sql,
  jtis: readonly string[],
): Promise<LiveTokenState[]> {
  return sql<LiveTokenState[]>`
    select ${LIVE_TOKEN_COLUMNS(sql)}
      from tokens t join tasks k on k.id = t.task_id
     where t.jti = any(${jtis as string[]}::uuid[])
       and t.revoked_at is null and t.expires_at > now() and k.status = 'running'`;
}

/** The newest `limit` live tokens' records (a process loads them when it starts). */
export async function newestLiveTokenStates(sql: Sql, limit: number): Promise<LiveTokenState[]> {
  return sql<LiveTokenState[]>`
    select ${LIVE_TOKEN_COLUMNS(sql)}
      from tokens t join tasks k on k.id = t.task_id
     where t.revoked_at is null and t.expires_at > now() and k.status = 'running'
     order by t.issued_at desc
     limit ${limit}`;
}

/** Revokes every live token a signing key signed (an emergency retirement); their ids. */
export async function revokeKeyTokens(
  sql: Sql,
  kid: string,
): Promise<{ jti: string; taskId: string }[]> {
  return sql<{ jti: string; taskId: string }[]>`
    update tokens set revoked_at = now()
     where kid = ${kid} and revoked_at is null
    returning jti::text, task_id::text as "taskId"`;
}

/** Revokes every live token of a task; returns their ids (for the caches of every process). */
export async function revokeTaskTokens(sql: Sql, taskId: string): Promise<string[]> {
  const rows = await sql<{ jti: string }[]>`
    update tokens set revoked_at = now()
     where task_id = ${taskId} and revoked_at is null
    returning jti::text`;
  return rows.map((r) => r.jti);
}

export async function revokeToken(sql: Sql, jti: string): Promise<boolean> {
  const rows = await sql`
    update tokens set revoked_at = now() where jti = ${jti} and revoked_at is null returning 1`;
  return rows.length > 0;
}

/** What the operator may see of a task's tokens: who they are for and until when (no token). */
export interface TokenMetadata {
  jti: string;
  kid: string;
  audience: string;
  /** Space-separated, as in the token's `scope` claim. */
  scope: string;
  issuedAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

/**
 * A task's tokens a list shows: a grant mints one per audience (≤ 1 + its integrations), and each
 * config asked for mints a set more, so a long-lived external task may hold many.
 */
export const TASK_TOKENS_LISTED = 1_000;

/** The tokens minted for a task, oldest first, at most TASK_TOKENS_LISTED (values are never stored). */
export async function listTaskTokens(sql: Sql, taskId: string): Promise<TokenMetadata[]> {
  return sql<TokenMetadata[]>`
    select t.jti::text, t.kid, t.audience, t.scope, t.issued_at as "issuedAt",
           t.expires_at as "expiresAt", t.revoked_at as "revokedAt"
      from tokens t
     where t.task_id = ${taskId}
     order by t.issued_at, t.jti
     limit ${TASK_TOKENS_LISTED}`;
}
