import type { Client } from '@modelcontextprotocol/client';

export interface ToolSummary {
  name: string;
  description: string | undefined;
  /** Callable by the gateway only (webhook, dispatch, schedule handlers). */
  hidden: boolean;
}

/** 1000 pages is far past any real server; it only stops a server whose cursor never ends. */
const MAX_PAGES = 1000;

/** Every page of a paginated MCP list: a server may page at any size it likes. */
export async function drainPages<T>(
  page: (cursor: string | undefined) => Promise<[T[], string | undefined]>,
): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | undefined;
  for (let n = 0; n < MAX_PAGES; n++) {
    const [items, next] = await page(cursor);
    all.push(...items);
    if (!next) break;
    cursor = next;
  }
  return all;
}

/** tools/list with every page drained. */
export function listAllTools(client: Client, timeoutMs: number) {
  return drainPages(async (cursor) => {
    const result = await client.listTools(cursor ? { cursor } : undefined, { timeout: timeoutMs });
    return [result.tools, result.nextCursor];
  });
}
