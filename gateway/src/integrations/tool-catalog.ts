import type { Client, Tool } from '@modelcontextprotocol/client';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { toolNameProblem } from './names.ts';

/**
 * An upstream's tools/list, read page by page under bounds (issue 13 item 3): before them, two
 * integrations of 62 × 9.9 MB pages took the gateway's RSS to 3 GB and the next aggregate
 * tools/list to a heap-limit crash, and 100k tools cost 80 ms of CPU per aggregate page. The
 * whole catalog is refused (`catalog_too_large`) when it passes a total bound, and reading stops
 * at that page; a single tool whose name breaks the name rule or whose schema is too large is
 * left out (logged), and an overlong description is cut.
 */
export const CATALOG_LIMITS = {
  /** Tools an integration may list: ~10× the largest real servers (GitHub's MCP server: ~100). */
  tools: 1000,
  /**
   * tools/list pages read from the upstream: 100 pages of 10 already reach `tools`; more pages
   * means a cursor that never ends (the MCP client's own auto-pager stops at 64).
   */
  pages: 100,
  /**
   * Characters of a tool's description: 8 KB is a few pages of prose for the model, more than
   * any real tool's documentation; a longer one is cut (the tool stays callable), not refused.
   */
  descriptionChars: 8 * 1024,
  /**
   * Serialized bytes of a tool's inputSchema or outputSchema: 64 KB is hundreds of documented
   * properties. A larger schema leaves that tool out: a schema cannot be cut and still mean it.
   */
  schemaBytes: 64 * 1024,
  /**
   * Serialized bytes of all of an integration's tool definitions together: 4 MB (1,000 tools of
   * ~4 KB each) bounds what the gateway keeps per integration in memory and sends per listing.
   */
  catalogBytes: 4 * 1024 * 1024,
} as const;

export type CatalogLimit = 'tools' | 'pages' | 'catalogBytes';

/** Why an integration's catalog is refused: the limit, how far the upstream got, and the bound. */
export class CatalogTooLarge extends SwitchboardError {
  readonly limit: CatalogLimit;
  readonly value: number;
  readonly max: number;

  constructor(integration: string, limit: CatalogLimit, value: number, max: number) {
    const what = {
      tools: `it lists more than ${max} tools (${value} read before stopping)`,
      pages: `its tools/list has more than ${max} pages (stopped after ${value})`,
      catalogBytes: `its tool definitions take more than ${max} bytes (${value} read before stopping)`,
    }[limit];
    super(
      'catalog_too_large',
      `integration ${integration}: the tool catalog is too large: ${what}`,
      {
        details: { limit, value, max },
      },
    );
    this.limit = limit;
    this.value = value;
    this.max = max;
  }
}

/** An integration's checked tools, kept once per catalog version (mcp/catalog.ts). */
export interface ToolCatalog {
  /** In the upstream's order, names unchanged, first of each name only. */
  tools: Tool[];
  /** Serialized bytes of each tool (same index), for page byte bounds. */
  sizes: number[];
  byName: Map<string, Tool>;
  /** Sum of sizes. */
  bytes: number;
}

export type PageReader = (cursor: string | undefined) => Promise<{
  tools: Tool[];
  nextCursor?: string | undefined;
}>;

/** One page at a time from the upstream (never the MCP client's auto-pager, which reads all). */
export function toolPages(client: Client, timeoutMs: number): PageReader {
  return (cursor) =>
    client.request(
      { method: 'tools/list', params: cursor ? { cursor } : {} },
      { timeout: timeoutMs },
    );
}

/** A dropped name in a log line: 5,000 characters or control bytes would make the line useless. */
const PREVIEW_CHARS = 64;
/** Dropped tools named in one log line; the count says how many more. */
const MAX_LOGGED_DROPS = 20;

function preview(name: string): string {
  const cut = name.length > PREVIEW_CHARS ? `${name.slice(0, PREVIEW_CHARS)}…` : name;
  return JSON.stringify(cut);
}

function byteSize(value: unknown): number | undefined {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? 0 : Buffer.byteLength(text);
  } catch {
    return undefined; // nested too deeply to serialize (RangeError): cannot be passed on either
  }
}

/** `description` cut to the bound on a code-point boundary, with an ellipsis. */
function cutDescription(description: string): string {
  let end = CATALOG_LIMITS.descriptionChars - 1;
  const last = description.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1; // never half a surrogate pair
  return `${description.slice(0, end)}…`;
}

/** Why one tool is left out, or the tool as kept (description cut) with its serialized size. */
function checkTool(
  integration: string,
  tool: Tool,
  seen: ReadonlyMap<string, Tool>,
): { problem: string } | { tool: Tool; size: number } {
  const nameProblem = toolNameProblem(integration, tool.name);
  if (nameProblem) return { problem: `name ${nameProblem}` };
  if (seen.has(tool.name)) return { problem: 'listed twice (the first is kept)' };
  const kept =
    typeof tool.description === 'string' &&
    tool.description.length > CATALOG_LIMITS.descriptionChars
      ? { ...tool, description: cutDescription(tool.description) }
      : tool;
  const size = byteSize(kept);
  if (size === undefined) return { problem: 'definition nested too deeply to serialize' };
  if (size > CATALOG_LIMITS.schemaBytes) {
    // Only a large tool can have a large schema: the schemas are measured only then.
    for (const field of ['inputSchema', 'outputSchema'] as const) {
      const schemaSize = byteSize(kept[field]) ?? 0;
      if (schemaSize > CATALOG_LIMITS.schemaBytes) {
        return {
          problem: `${field} of ${schemaSize} bytes (at most ${CATALOG_LIMITS.schemaBytes})`,
        };
      }
    }
  }
  return { tool: kept, size };
}

/**
 * Every page of the upstream's tools/list, checked as it arrives: reading stops (and the whole
 * catalog is refused with CatalogTooLarge) the moment a total bound is passed, so nothing past
 * it is requested or kept. Tools breaking the name rule (names.ts toolNameProblem), later
 * duplicates of a name, and tools with an oversized schema are left out and logged once.
 */
export async function readToolCatalog(
  integration: string,
  read: PageReader,
  log: Logger,
): Promise<ToolCatalog> {
  const catalog: ToolCatalog = { tools: [], sizes: [], byName: new Map(), bytes: 0 };
  const dropped: string[] = [];
  let listed = 0;
  let cut = 0;
  let cursor: string | undefined;
  for (let pages = 1; ; pages++) {
    const page = await read(cursor);
    for (const tool of page.tools) {
      listed += 1;
      if (listed > CATALOG_LIMITS.tools) {
        throw new CatalogTooLarge(integration, 'tools', listed, CATALOG_LIMITS.tools);
      }
      const checked = checkTool(integration, tool, catalog.byName);
      if ('problem' in checked) {
        dropped.push(`${preview(tool.name)}: ${checked.problem}`);
        continue;
      }
      if (checked.tool !== tool) cut += 1;
      catalog.bytes += checked.size;
      if (catalog.bytes > CATALOG_LIMITS.catalogBytes) {
        throw new CatalogTooLarge(
          integration,
          'catalogBytes',
          catalog.bytes,
          CATALOG_LIMITS.catalogBytes,
        );
      }
      catalog.tools.push(checked.tool);
      catalog.sizes.push(checked.size);
      catalog.byName.set(checked.tool.name, checked.tool);
    }
    if (!page.nextCursor) break;
    if (pages >= CATALOG_LIMITS.pages) {
      throw new CatalogTooLarge(integration, 'pages', pages, CATALOG_LIMITS.pages);
    }
    cursor = page.nextCursor;
  }
  if (dropped.length > 0) {
    log.warn(
      {
        integration,
        dropped: dropped.length,
        tools: dropped.slice(0, MAX_LOGGED_DROPS),
      },
      'tools left out of the catalog (name rule, duplicates, schema size)',
    );
  }
  if (cut > 0) {
    log.warn(
      { integration, tools: cut, maxChars: CATALOG_LIMITS.descriptionChars },
      'tool descriptions cut to the bound',
    );
  }
  return catalog;
}
