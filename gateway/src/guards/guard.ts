import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import type { ErrorCode } from '../error-codes.ts';
import type { TokenClaims } from '../tokens/claims.ts';

/**
 * The guardrails of a tools/call (issue 15): argument rules, budgets, approvals. Each guard
 * judges a call the token's scope already allows, after the tool is resolved and before the
 * upstream sees it, and may hear how it ended. The chain is mcp/tools.ts's one call site for
 * them (both eras, the SDK handler and the 2025 fast path); a guard owns its own policy reading,
 * state and events. A gateway without guards pays one empty-array check per call.
 */

/** One tools/call as a guard sees it: who calls (the token's claims), what, with what. */
export interface GuardedCall {
  claims: TokenClaims;
  integration: string;
  /** The upstream's own name of the tool (not the `<integration>__<tool>` of /mcp). */
  tool: string;
  /** The definition the agent was shown (the catalog's). */
  definition: Tool;
  arguments: Record<string, unknown> | undefined;
  /** The agent's request: aborted when it cancels or goes away (a held call must stop waiting). */
  signal: AbortSignal;
  /**
   * Tells the agent the call is still alive (notifications/progress, when it sent a
   * progressToken; nothing otherwise). For a guard that holds a call (an approval).
   */
  progress(message: string): void;
}

/** Why a call is refused: the agent gets a tool error (an isError result) with this message. */
export interface Refusal {
  code: ErrorCode;
  /** Shown to the agent and recorded in the task:tool_use event: name the rule, not secrets. */
  message: string;
}

/** How a call that passed every guard ended. */
export interface CallOutcome {
  ok: boolean;
  /** The answer the agent gets, when the upstream gave one. */
  result?: CallToolResult;
  durationMs: number;
}

export interface ToolCallGuard {
  /** In log lines. */
  readonly name: string;
  /** Before the upstream call: a refusal ends it there. A throw is logged and refuses it too. */
  before?(call: GuardedCall): Refusal | undefined | Promise<Refusal | undefined>;
  /** After the upstream answered or failed (only for calls every guard let through). */
  after?(call: GuardedCall, outcome: CallOutcome): void | Promise<void>;
}
