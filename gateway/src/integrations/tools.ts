import type { Client } from '@modelcontextprotocol/client';

export interface ToolSummary {
  name: string;
  description: string | undefined;
  /** Callable by the gateway only (webhook, dispatch, schedule handlers). */
  hidden: boolean;
}

/** tools/list with every page drained: a server may page at any size it likes. */
export async function listAllTools(client: Client, timeoutMs: number) {
  const tools: Awaited<ReturnType<Client['listTools']>>['tools'] = [];
  let cursor: string | undefined;
  // 1000 pages is far past any real server; it only stops a server whose cursor never ends.
  for (let page = 0; page < 1000; page++) {
    const result = await client.listTools(cursor ? { cursor } : undefined, { timeout: timeoutMs });
    tools.push(...result.tools);
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  return tools;
}
