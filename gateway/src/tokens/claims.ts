/**
 * The claims of a verified per-task token: the contract between token verification (tokens/)
 * and the MCP endpoints (mcp/). (Not a "grant": that word names the token set a task is given,
 * tasks/grant.ts.) The endpoints see only this, never the token itself, so nothing of
 * the agent's credential can be forwarded upstream.
 */
export interface TokenClaims {
  /** `jti` of the token: events and revocation refer to it. */
  tokenId: string;
  taskId: string;
  sessionId: string | null;
  /** The profile the task runs under (null for an external task without one): guards read it. */
  profile: string | null;
  /** `integration:tool` patterns; `*` may stand for the whole of either side. */
  scope: string[];
  /** The endpoint the token was minted for: `<public>/mcp` or `<public>/mcp/<integration>`. */
  audience: string;
  /** Seconds since the epoch. */
  expiresAt: number;
  /** The signing key that verified it (an emergency retirement cuts its tokens by key). */
  kid?: string;
}

/** Verifies a bearer token for the endpoint that was called; throws SwitchboardError 401. */
export interface TokenVerifier {
  verify(token: string, audience: string): Promise<TokenClaims>;
  /**
   * Calls `listener` after each revocation, made here or announced by another process (task
   * ids: every token of those tasks; token ids: those tokens; kids: every token signed by those
   * retired keys). Returns the unsubscribe.
   */
  onRevoked?(listener: RevocationListener): () => void;
}

export type RevocationListener = (
  taskIds: readonly string[],
  tokenIds: readonly string[],
  kids: readonly string[],
) => void;
