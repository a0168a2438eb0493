import type { Pool } from '../db/connect.ts';
import { SWITCHBOARD_SERVER } from '../runners/bundle.ts';
import { listTaskTokens } from '../tokens/store.ts';

/**
 * The scope a task was granted, read from its live tokens (tokens table: not revoked, not
 * expired), minus the built-in server's own patterns. The built-in `switchboard` server's token
 * names only `switchboard:*`, so its tools (`search_documents`, `task_context`'s skills) learn
 * what the task's /mcp and /mcp/<integration> tokens cover here: one read per call, at most
 * TASK_TOKENS_LISTED rows.
 */
export async function liveTaskScope(sql: Pool, taskId: string): Promise<string[]> {
  const now = Date.now();
  const patterns = new Set<string>();
  for (const token of await listTaskTokens(sql, taskId)) {
    if (token.revokedAt !== null || token.expiresAt.getTime() <= now) continue;
    for (const pattern of token.scope.split(' ')) {
      if (pattern !== '' && !pattern.startsWith(`${SWITCHBOARD_SERVER}:`)) patterns.add(pattern);
    }
  }
  return [...patterns];
}
