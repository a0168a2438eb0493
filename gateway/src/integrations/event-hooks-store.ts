import type { Sql } from '../db/connect.ts';

/**
 * event_hooks (0016): the lifecycle hooks of ready integrations, read by events/store.ts fanOut
 * in the statement that writes each task event. One function per statement; event-hooks.ts
 * decides what to write.
 */

export interface EventHookRow {
  integration: string;
  tool: string;
  /** Exact event types (`task:*` expanded). */
  types: string[];
  allSessions: boolean;
}

/** The integration's hooks become exactly `hooks`: others of it deleted, these upserted. */
export async function replaceEventHooks(
  sql: Sql,
  integration: string,
  hooks: readonly Omit<EventHookRow, 'integration'>[],
): Promise<void> {
  const tools = hooks.map((h) => h.tool);
  await sql`
    delete from event_hooks h
     where h.integration = ${integration} and not (h.tool = any(${tools}::text[]))`;
  for (const hook of hooks) {
    await sql`
      insert into event_hooks (integration, tool, types, all_sessions)
      values (${integration}, ${hook.tool}, ${hook.types}::text[], ${hook.allSessions})
      on conflict (integration, tool) do update
        set types = excluded.types, all_sessions = excluded.all_sessions, updated_at = now()`;
  }
}

/** Every hook of integrations not in `known` (removed while no gateway ran); answers how many. */
export async function deleteEventHooksExcept(sql: Sql, known: readonly string[]): Promise<number> {
  const result = await sql`
    delete from event_hooks h where not (h.integration = any(${known as string[]}::text[]))`;
  return result.count;
}

export async function listEventHooks(sql: Sql): Promise<EventHookRow[]> {
  return sql<EventHookRow[]>`
    select h.integration, h.tool, h.types, h.all_sessions as "allSessions"
      from event_hooks h order by h.integration, h.tool`;
}
