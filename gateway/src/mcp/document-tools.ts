import type { CallToolResult, McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import type { Pool } from '../db/connect.ts';
import { QUERY_MAX_CHARS } from '../documents/bounds.ts';
import type { DocumentService } from '../documents/service.ts';
import type { DocumentScope } from '../documents/store.ts';
import { findSession } from '../sessions/store.ts';
import type { TokenClaims } from '../tokens/claims.ts';
import { scopeCoversAllOf } from '../tokens/scope.ts';
import { liveTaskScope } from './task-scope.ts';

/**
 * `search_documents` on the built-in `switchboard` server (issue 18). What a task's token may
 * search, by the same rule as an integration's resources and prompts (mcp/view.ts
 * integrationWide): the documents of every integration its scope covers WHOLE (`<name>:*`, or
 * all of them with `*:*`), since documents are the integration's data and not one of its tools,
 * and a token for `github:get_pr` alone must not read everything github ingested. Plus the
 * documents filed under the task's own session (its conversation's material, whichever
 * integration ingested it). Nothing else: no filter an agent passes can widen this.
 */

/** An agent gets at most 20 hits a call (each a snippet and a 2,000-character excerpt). */
export const AGENT_SEARCH_LIMIT_MAX = 20;

export function documentScopeOf(
  scope: readonly string[],
  sessionKey: string | undefined,
): DocumentScope {
  const all = scope.includes('*:*');
  const names = scope
    .map((pattern) => pattern.split(':'))
    .filter(([i, t]) => t === '*' && i !== undefined && i !== '*')
    .map(([i]) => i as string);
  return { integrations: all ? null : names, alsoSession: sessionKey };
}

export function registerDocumentTools(
  server: McpServer,
  claims: TokenClaims,
  deps: { sql: Pool; documents?: DocumentService | undefined },
): void {
  const { documents } = deps;
  if (!documents) return;
  server.registerTool(
    'search_documents',
    {
      description:
        'Search the documents your task may read (those of integrations your token covers whole, and those of your task\'s session): web-search syntax (words, "a phrase", -excluded, or). Returns ranked hits with a snippet, an excerpt, title and uri.',
      inputSchema: z.object({
        query: z.string().min(1).max(QUERY_MAX_CHARS),
        integration: z.string().max(41).optional(),
        limit: z.number().int().min(1).max(AGENT_SEARCH_LIMIT_MAX).optional(),
        offset: z.number().int().min(0).max(1_000).optional(),
      }),
    },
    async ({ query, integration, limit, offset }): Promise<CallToolResult> => {
      const session = claims.sessionId ? await findSession(deps.sql, claims.sessionId) : undefined;
      const granted = await liveTaskScope(deps.sql, claims.taskId);
      let scope = documentScopeOf(granted, session?.key);
      if (integration !== undefined) {
        // Narrows, never widens.
        if (!scopeCoversAllOf(granted, integration)) {
          return {
            content: [
              {
                type: 'text',
                text: `your token does not cover integration ${integration} whole (${integration}:*): leave out \`integration\` to search what you may read`,
              },
            ],
            isError: true,
          };
        }
        scope = { integrations: [integration] };
      }
      const answer = await documents.search(scope, query, limit ?? 10, offset ?? 0);
      const results = answer.results.map((hit) => ({
        id: hit.id,
        integration: hit.integration,
        session: hit.sessionKey,
        title: hit.title,
        uri: hit.uri,
        score: hit.score,
        snippet: hit.snippet,
        excerpt: hit.excerpt,
      }));
      const structured = {
        mode: answer.mode,
        ...(answer.fallback && { fallback: answer.fallback }),
        results,
      };
      return {
        content: [{ type: 'text', text: JSON.stringify(structured, null, 2) }],
        structuredContent: structured,
      };
    },
  );
}
