import type { TokenClaims } from './claims.ts';

/**
 * Verified tokens, keyed by the token's SHA-256, so that a busy agent does not pay for a
 * signature check and a database read on every call (REFERENCES §A2: +164 µs per call without
 * it). An entry lives at most `ttlMs` (30 s) and never past the token's own expiry; revocation
 * removes a task's entries at once, and TokenService uses an entry only while the token's live
 * record is held (live.ts), which the 5 s sync drops should a revocation message be lost.
 */
export class VerifiedTokenCache {
  /** `kid`: the key that signed the token, so an emergency key retirement can drop its grants. */
  private readonly entries = new Map<string, { claims: TokenClaims; kid: string; until: number }>();
  /** Bumped by every revocation: a verification that started before one must not be cached. */
  private generation = 0;

  constructor(
    private readonly ttlMs = 30_000,
    private readonly maxEntries = 10_000,
  ) {}

  get(hash: string, now = Date.now()): TokenClaims | undefined {
    const entry = this.entries.get(hash);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.entries.delete(hash);
      return undefined;
    }
    return entry.claims;
  }

  /** The generation to pass to `set`, read before the verification starts. */
  currentGeneration(): number {
    return this.generation;
  }

  set(hash: string, claims: TokenClaims, kid: string, generation: number, now = Date.now()): void {
    if (generation !== this.generation) return;
    if (this.entries.size >= this.maxEntries) {
      // Maps iterate in insertion order: drop the oldest entry.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(hash, {
      claims,
      kid,
      until: Math.min(now + this.ttlMs, claims.expiresAt * 1000),
    });
  }

  /** Forget every entry of these tasks, token ids or signing keys. */
  revoke(
    taskIds: readonly string[],
    tokenIds: readonly string[],
    kids: readonly string[] = [],
  ): void {
    this.generation += 1;
    const tasks = new Set(taskIds);
    const tokens = new Set(tokenIds);
    const keys = new Set(kids);
    for (const [hash, { claims, kid }] of this.entries) {
      if (tasks.has(claims.taskId) || tokens.has(claims.tokenId) || keys.has(kid))
        this.entries.delete(hash);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
