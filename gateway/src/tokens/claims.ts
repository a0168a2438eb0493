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

/**
 * Why a token was refused, as a fixed list (the `reason` label of
 * switchboard_token_verifications_total): never the message, which may name an endpoint.
 * `missing` (no bearer token) and `insufficient_scope` are the MCP routes' own.
 */
export const TOKEN_REFUSAL_REASONS = [
  'missing',
  'malformed',
  'bad_algorithm',
  'wrong_type',
  'unknown_key',
  'bad_signature',
  'expired',
  'not_yet_valid',
  'wrong_issuer',
  'wrong_audience',
  'invalid_claim',
  'unknown_token',
  'record_mismatch',
  'revoked',
  'task_ended',
  'insufficient_scope',
] as const;
export type TokenRefusalReason = (typeof TOKEN_REFUSAL_REASONS)[number];

/** The reason a verify() refusal carries (in its details), `malformed` for any other error. */
export function tokenRefusalReason(error: unknown): TokenRefusalReason {
  const reason = (error as { details?: { reason?: unknown } } | undefined)?.details?.reason;
  return (TOKEN_REFUSAL_REASONS as readonly unknown[]).includes(reason)
    ? (reason as TokenRefusalReason)
    : 'malformed';
}
