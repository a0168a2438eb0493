import type { TokenClaims } from '../tokens/claims.ts';

type Mint = (integration: string, claims: TokenClaims, tools: string[]) => Promise<string>;

/** Half of an upstream token's one-minute life, as TokenService.mintGateway reuses its own. */
export const UPSTREAM_TOKEN_REUSE_MS = 30_000;
const MAX_ENTRIES = 10_000;

/**
 * The upstream tokens of HTTP integrations, reused for half their life: an agent calling the same
 * tools of one integration in a loop gets one signature every 30 s instead of one per call (an
 * Ed25519 signature through jose took 100–250 µs of CPU in test/bench's profiles). A token
 * is only reused for the same integration, agent token (hence task and session) and tool list,
 * so every request still carries exactly what a fresh mint would say; it has ≥ 30 s left when
 * sent, and an ended task's agent token is refused before any upstream call is made.
 */
export function reuseUpstreamTokens(mint: Mint, now: () => number = Date.now): Mint {
  const entries = new Map<string, { token: Promise<string>; until: number }>();
  return (integration, claims, tools) => {
    const key = `${integration}\n${claims.tokenId}\n${tools.join('\n')}`;
    const at = now();
    const hit = entries.get(key);
    if (hit && hit.until > at) return hit.token;
    entries.delete(key);
    if (entries.size >= MAX_ENTRIES) {
      // Maps iterate in insertion order: drop the oldest.
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) entries.delete(oldest);
    }
    const token = mint(integration, claims, tools);
    const entry = { token, until: at + UPSTREAM_TOKEN_REUSE_MS };
    entries.set(key, entry);
    // A failed mint is not remembered: the next call tries again.
    token.catch(() => {
      if (entries.get(key) === entry) entries.delete(key);
    });
    return token;
  };
}
