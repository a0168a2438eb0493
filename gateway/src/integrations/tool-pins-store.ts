import type { Sql } from '../db/connect.ts';
import { CATALOG_LIMITS } from './tool-catalog.ts';
import type { PinnedDefinition } from './tool-definition.ts';

/** A tool's pin (migrations/0010_tool_pins.sql). */
export interface ToolPin {
  tool: string;
  hash: string;
  definition: PinnedDefinition;
  approvedBy: string;
  approvedAt: string;
}

export interface NewPin {
  tool: string;
  hash: string;
  definition: PinnedDefinition;
}

/**
 * Pins of tools the integration no longer lists that are kept (newest first): a tool removed and
 * brought back changed is still caught, yet a server that renames its tools at every start
 * cannot grow the table without bound. 1,000 = CATALOG_LIMITS.tools, so an integration has at
 * most 2,000 rows: its listed tools and as many gone ones.
 */
export const MAX_UNLISTED_PINS = CATALOG_LIMITS.tools;

export async function loadPins(sql: Sql, integration: string): Promise<Map<string, ToolPin>> {
  const rows = await sql<
    { tool: string; hash: string; definition: PinnedDefinition; approved_by: string; at: string }[]
  >`
    select tool, hash, definition, approved_by, to_char(approved_at at time zone 'UTC',
           'YYYY-MM-DD"T"HH24:MI:SS"Z"') as at
      from tool_pins
     where integration = ${integration}`;
  return new Map(
    rows.map((r) => [
      r.tool,
      {
        tool: r.tool,
        hash: r.hash,
        definition: r.definition,
        approvedBy: r.approved_by,
        approvedAt: r.at,
      },
    ]),
  );
}

function columns(pins: NewPin[]) {
  return {
    tools: pins.map((p) => p.tool),
    hashes: pins.map((p) => p.hash),
    definitions: pins.map((p) => JSON.stringify(p.definition)),
  };
}

/** Records pins of tools seen for the first time; a pin another gateway wrote first is kept. */
export async function recordFirstSight(
  sql: Sql,
  integration: string,
  pins: NewPin[],
): Promise<void> {
  if (pins.length === 0) return;
  const { tools, hashes, definitions } = columns(pins);
  await sql`
    insert into tool_pins (integration, tool, hash, definition, approved_by)
    select ${integration}, u.tool, u.hash, u.definition::jsonb, 'first-sight'
      from unnest(${tools}::text[], ${hashes}::text[], ${definitions}::text[])
           as u(tool, hash, definition)
    on conflict (integration, tool) do nothing`;
}

/** Records an operator's approval of these definitions (replacing the tools' earlier pins). */
export async function recordApproval(
  sql: Sql,
  integration: string,
  pins: NewPin[],
  approvedBy: string,
): Promise<void> {
  if (pins.length === 0) return;
  const { tools, hashes, definitions } = columns(pins);
  await sql`
    insert into tool_pins (integration, tool, hash, definition, approved_by)
    select ${integration}, u.tool, u.hash, u.definition::jsonb, ${approvedBy}
      from unnest(${tools}::text[], ${hashes}::text[], ${definitions}::text[])
           as u(tool, hash, definition)
    on conflict (integration, tool) do update
       set hash = excluded.hash, definition = excluded.definition,
           approved_by = excluded.approved_by, approved_at = now()`;
}

/** Drops the pins of unlisted tools past the newest MAX_UNLISTED_PINS. */
export async function pruneUnlisted(sql: Sql, integration: string, listed: string[]) {
  await sql`
    delete from tool_pins p
     where p.integration = ${integration}
       and not (p.tool = any(${listed}::text[]))
       and p.tool not in (
         select k.tool from tool_pins k
          where k.integration = ${integration} and not (k.tool = any(${listed}::text[]))
          order by k.approved_at desc, k.tool
          limit ${MAX_UNLISTED_PINS})`;
}
