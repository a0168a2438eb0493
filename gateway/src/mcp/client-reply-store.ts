import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import type { Sql } from '../db/connect.ts';

/**
 * The client_reply_waits table (migration 0018): the server→client requests a replica waits
 * for, and replies handed over to it by another replica. ClientReplies (client-replies.ts) is
 * its only user. Ids are bigint, read as text (postgres.js returns int8 as strings).
 */

/**
 * Records a wait and returns its id, unless `token` already has `max` rows (then undefined).
 * Two inserts of one token racing may both pass the count: the overshoot is bounded by the
 * token's requests in flight at that instant (tokens.maxInFlight).
 */
export async function insertWait(
  sql: Sql,
  tokenId: string,
  instance: string,
  expiresAt: number,
  max: number,
): Promise<string | undefined> {
  const [row] = await sql<Array<{ id: string }>>`
    insert into client_reply_waits (token_id, instance, expires_at)
    select ${tokenId}, ${instance}, to_timestamp(${expiresAt})
     where (select count(*) from (select 1 from client_reply_waits
                                   where token_id = ${tokenId} limit ${max}) mine) < ${max}
    returning id::text`;
  return row?.id;
}

/** Waits that ended (answered here, or their call ended). */
export async function deleteWaits(sql: Sql, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`delete from client_reply_waits where id = any(${ids as string[]}::bigint[])`;
}

/**
 * Writes a reply into the wait it answers: only a row of this token, still waiting, not
 * expired. Returns whether one was (a reply to anything else writes nothing).
 */
export async function handOverReply(
  sql: Sql,
  id: string,
  tokenId: string,
  reply: JSONRPCMessage,
): Promise<boolean> {
  const rows = await sql`
    update client_reply_waits set reply = ${JSON.stringify(reply)}
     where id = ${id}::bigint and token_id = ${tokenId} and reply is null and expires_at > now()
    returning id`;
  return rows.length > 0;
}

/** The holder takes a handed-over reply: the row is deleted as it is read. */
export async function takeReply(
  sql: Sql,
  id: string,
  instance: string,
): Promise<{ tokenId: string; reply: JSONRPCMessage } | undefined> {
  const [row] = await sql<Array<{ token_id: string; reply: string }>>`
    delete from client_reply_waits
     where id = ${id}::bigint and instance = ${instance} and reply is not null
    returning token_id, reply`;
  return row
    ? { tokenId: row.token_id, reply: JSON.parse(row.reply) as JSONRPCMessage }
    : undefined;
}

/** The retention job's sweep (retention/job.ts): waits of calls a dead replica held. */
export async function deleteExpiredWaits(
  sql: Sql,
  olderThanMs: number,
  limit: number,
): Promise<number> {
  const result = await sql`
    with doomed as (
      select w.id from client_reply_waits w
       where w.expires_at <= now() - ${olderThanMs}::float8 * interval '1 millisecond'
       order by w.expires_at
       limit ${limit}
       for update of w skip locked)
    delete from client_reply_waits d using doomed where d.id = doomed.id`;
  return result.count;
}
