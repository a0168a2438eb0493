import type { Response } from 'express';
import type { TokenClaims } from '../tokens/claims.ts';

/**
 * Expired tokens' exchanges are looked for this often: a token outlives its `exp` by at most a
 * second on an open exchange (one timer for all of them, not one per request).
 */
const EXPIRY_SWEEP_MS = 1_000;

interface Entry {
  claims: TokenClaims;
  responses: Set<Response>;
}

/**
 * The MCP exchanges in progress, by the token that opened them: a GET or `subscriptions/listen`
 * stream, a call answering on a stream, a long JSON call. A token is checked when a request
 * arrives; these are what must end when it stops being valid afterwards. On a revocation (the
 * task ended or was cancelled, here or in another gateway: tokens/service.ts onRevoked) and on
 * its expiry, each of the token's exchanges is cut (`res.destroy()`): the same path as a client
 * that disconnects, so handlers abort and in-flight upstream calls are cancelled.
 */
export class TokenExchanges {
  private readonly byToken = new Map<string, Entry>();
  private timer: NodeJS.Timeout | undefined;

  /** Follows `res` until it closes. */
  track(claims: TokenClaims, res: Response): void {
    let entry = this.byToken.get(claims.tokenId);
    if (!entry) {
      entry = { claims, responses: new Set() };
      this.byToken.set(claims.tokenId, entry);
    }
    const responses = entry.responses;
    responses.add(res);
    res.once('close', () => {
      responses.delete(res);
      if (responses.size === 0 && this.byToken.get(claims.tokenId)?.responses === responses) {
        this.byToken.delete(claims.tokenId);
      }
    });
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(Date.now()), EXPIRY_SWEEP_MS);
      this.timer.unref();
    }
  }

  /** Cuts every exchange of these tasks, tokens or retired signing keys (a revocation). */
  revoke(
    taskIds: readonly string[],
    tokenIds: readonly string[],
    kids: readonly string[] = [],
  ): void {
    const tasks = new Set(taskIds);
    const tokens = new Set(tokenIds);
    const keys = new Set(kids);
    for (const entry of [...this.byToken.values()]) {
      const { taskId, tokenId, kid } = entry.claims;
      if (tasks.has(taskId) || tokens.has(tokenId) || (kid !== undefined && keys.has(kid))) {
        this.cut(entry);
      }
    }
  }

  /** Open exchanges (for tests and shutdown logs). */
  get size(): number {
    let n = 0;
    for (const entry of this.byToken.values()) n += entry.responses.size;
    return n;
  }

  private sweep(now: number): void {
    for (const entry of [...this.byToken.values()]) {
      if (entry.claims.expiresAt * 1000 <= now) this.cut(entry);
    }
    // Stopped here, not when the last exchange closes: one-call-at-a-time agents would
    // otherwise start and stop a timer per request.
    if (this.byToken.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private cut(entry: Entry): void {
    this.byToken.delete(entry.claims.tokenId);
    for (const res of [...entry.responses]) res.destroy();
    entry.responses.clear();
  }
}
