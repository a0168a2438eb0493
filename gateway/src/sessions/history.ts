import type { Sql } from '../db/connect.ts';
import { newestMessages } from './store.ts';

/**
 * A task's view of its session: the newest messages, each cut, as the built-in `task_context`
 * tool returns them (mcp/task-tools.ts) and as an agent preset's context file holds them
 * (tasks/agent-context.ts). One owner, so both show the agent the same history.
 */

/** This many of the session's newest messages (a chat thread's recent turns, not its archive). */
export const CONTEXT_MESSAGES = 20;
/**
 * …each cut to this many characters (the whole text is one API call away): 20 × 2,000 is at
 * most 40,000 characters, about 10k tokens of a model's context.
 */
export const CONTEXT_MESSAGE_CHARS = 2_000;

export interface ContextMessage {
  id: string;
  role: 'user' | 'agent' | 'system' | 'integration';
  content: string;
  /** The content was cut at CONTEXT_MESSAGE_CHARS. */
  truncated: boolean;
  createdAt: string;
}

/** The session's CONTEXT_MESSAGES newest messages, oldest first, each cut; [] without a session. */
export async function contextHistory(
  sql: Sql,
  sessionId: string | null,
): Promise<ContextMessage[]> {
  if (sessionId === null) return [];
  const rows = await newestMessages(sql, sessionId, CONTEXT_MESSAGES);
  return rows.map((m) => ({
    id: m.id,
    role: m.role,
    content: m.content.slice(0, CONTEXT_MESSAGE_CHARS),
    truncated: m.content.length > CONTEXT_MESSAGE_CHARS,
    createdAt: m.createdAt.toISOString(),
  }));
}
