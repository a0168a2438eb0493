import * as z from 'zod';
import type { Sql } from '../db/connect.ts';

/**
 * Sessions (a conversation with a stable key such as github:acme/api) and their messages.
 * Whether a session is busy is not stored: it is "has a running task", read from tasks.
 */

export const SessionKey = z
  .string({ error: 'expected a session key such as "github:acme/api"' })
  .min(1, 'expected a non-empty session key')
  .max(200, 'expected at most 200 characters');

export const Dispatch = z.strictObject({
  type: z.string().min(1, 'expected a dispatcher type such as "github" or "none"').max(100),
  config: z.record(z.string(), z.unknown()).default({}),
});
export type Dispatch = z.output<typeof Dispatch>;

export const SessionInput = z.strictObject({
  key: SessionKey,
  dispatch: Dispatch.optional(),
  profile: z.string().min(1).max(100).optional(),
  metadata: z.record(z.string(), z.unknown()).default({}),
});
export type SessionInput = z.input<typeof SessionInput>;

export const MessageInput = z.strictObject({
  role: z.enum(['user', 'agent', 'system', 'integration']),
  content: z.string().max(1_000_000, 'expected at most 1000000 characters'),
  source: z.record(z.string(), z.unknown()).optional(),
});
export type MessageInput = z.input<typeof MessageInput>;

export interface SessionRow {
  id: string;
  key: string;
  dispatch: Dispatch | null;
  profile: string | null;
  metadata: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
  /** Opaque keyset cursor: pass as `after` to list the sessions after this one. */
  cursor: string;
}

export interface MessageRow {
  id: string;
  sessionId: string;
  role: 'user' | 'agent' | 'system' | 'integration';
  content: string;
  source: Record<string, unknown> | null;
  createdAt: Date;
}

// The cursor carries created_at at full microsecond precision (a JS Date has milliseconds, and
// a cursor rounded to them would skip or repeat sessions created in the same millisecond).
const sessionColumns = (sql: Sql) =>
  sql`id::text, key, dispatch, profile, metadata, created_at as "createdAt",
      updated_at as "updatedAt",
      to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || ' ' || id::text
        as cursor`;

const messageColumns = (sql: Sql) =>
  sql`id::text, session_id::text as "sessionId", role, content, source, created_at as "createdAt"`;

/**
 * Returns the session with this key, creating it with `input`'s defaults if there is none; an
 * existing session keeps its own dispatch and profile. Two concurrent calls for a new key return
 * the same row: the loser's insert waits for the winner's commit, does nothing, and its select,
 * a new statement with a new snapshot, sees the winner's row.
 */
export async function createOrGetSession(
  sql: Sql,
  input: SessionInput,
): Promise<{ session: SessionRow; created: boolean }> {
  const s = SessionInput.parse(input);
  const [inserted] = await sql<SessionRow[]>`
    insert into sessions (key, dispatch, profile, metadata)
    values (${s.key}, ${s.dispatch ? sql.json(s.dispatch as never) : null}, ${s.profile ?? null},
            ${sql.json(s.metadata as never)})
    on conflict (key) do nothing
    returning ${sessionColumns(sql)}`;
  if (inserted) return { session: inserted, created: true };
  const existing = await findSessionByKey(sql, s.key);
  if (!existing) throw new Error(`session ${s.key} conflicted on insert but cannot be read`);
  return { session: existing, created: false };
}

export async function findSession(sql: Sql, id: string): Promise<SessionRow | undefined> {
  const [row] = await sql<
    SessionRow[]
  >`select ${sessionColumns(sql)} from sessions where id = ${id}`;
  return row;
}

export async function findSessionByKey(sql: Sql, key: string): Promise<SessionRow | undefined> {
  const [row] = await sql<SessionRow[]>`
    select ${sessionColumns(sql)} from sessions where key = ${key}`;
  return row;
}

const Cursor = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z [0-9a-f-]{36}$/,
    'expected a cursor from a previous page',
  );

/** Newest first; `after` is the `cursor` of the last session of the previous page. */
export async function listSessions(
  sql: Sql,
  options: { limit: number; after?: string | undefined },
): Promise<SessionRow[]> {
  if (options.after === undefined) {
    return sql<SessionRow[]>`
      select ${sessionColumns(sql)} from sessions s
       order by s.created_at desc, s.id desc limit ${options.limit}`;
  }
  const [at, id] = Cursor.parse(options.after).split(' ');
  // ::text first: a parameter typed timestamptz goes through postgres.js's Date serializer,
  // which cuts the microseconds (sessions created in the same millisecond were skipped).
  return sql<SessionRow[]>`
    select ${sessionColumns(sql)} from sessions s
     where (s.created_at, s.id) < (${at!}::text::timestamptz, ${id!}::uuid)
     order by s.created_at desc, s.id desc limit ${options.limit}`;
}

/** Appends a message; undefined if the session does not exist. */
export async function insertMessage(
  sql: Sql,
  sessionId: string,
  input: MessageInput,
): Promise<MessageRow | undefined> {
  const m = MessageInput.parse(input);
  const [row] = await sql<MessageRow[]>`
    with touched as (
      update sessions set updated_at = now() where id = ${sessionId} returning id)
    insert into messages (session_id, role, content, source)
    select id, ${m.role}, ${m.content}, ${m.source ? sql.json(m.source as never) : null}
      from touched
    returning ${messageColumns(sql)}`;
  return row;
}

/** Oldest first, after the message id `afterId` (exclusive). */
export async function listMessages(
  sql: Sql,
  sessionId: string,
  options: { limit: number; afterId?: string | undefined },
): Promise<MessageRow[]> {
  return sql<MessageRow[]>`
    select ${messageColumns(sql)} from messages m
     where m.session_id = ${sessionId} and m.id > ${options.afterId ?? '0'}::bigint
     order by m.id limit ${options.limit}`;
}

/** The newest message id of a session ('0' for none): ask_user waits for one after it. */
export async function lastMessageId(sql: Sql, sessionId: string): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    select coalesce(max(id), 0)::text as id from messages where session_id = ${sessionId}`;
  return row!.id;
}

/** The `limit` newest messages of a session, oldest first (task_context's history). */
export async function newestMessages(
  sql: Sql,
  sessionId: string,
  limit: number,
): Promise<MessageRow[]> {
  const rows = await sql<MessageRow[]>`
    select id::text, session_id::text as "sessionId", role, content, source,
           created_at as "createdAt"
      from messages m where m.session_id = ${sessionId}
     order by m.id desc limit ${limit}`;
  return rows.reverse();
}
