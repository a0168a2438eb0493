import type { ClientCapabilities, LoggingLevel } from '@modelcontextprotocol/server';
import type { Sql } from '../db/connect.ts';
import type { Logger } from '../log.ts';
import type { TokenClaims } from '../tokens/claims.ts';
import {
  type HandshakeRow,
  selectHandshake,
  upsertInitialize,
  upsertLogLevel,
} from './era-2025-store.ts';
import { inputCapabilities } from './input-required.ts';

/** Handshakes cached at once per process; past it the oldest is dropped (read again on use). */
export const MAX_REMEMBERED_CLIENTS = 10_000;

/** What one client's remembered capabilities may weigh (a real declaration is ~100 bytes). */
export const MAX_CAPABILITIES_BYTES = 4096;

/**
 * How long a handshake read from the database is used without reading it again: the staleness
 * bound across replicas. A logging/setLevel or a re-initialize made on replica B is seen by
 * replica A within 1 s (at once on B itself, and at once on A if A had not read it in the last
 * second: "not found" is never cached, so a handshake made a moment ago elsewhere is seen).
 * A busy 2025 client costs each replica one primary-key read a second, not one per request.
 */
export const HANDSHAKE_CACHE_MS = 1_000;

/**
 * Only what the gateway reads (the input kinds), so a row and a cache entry weigh ≤ 4 KiB
 * however large a declaration a client sends (its body may be 4 MiB); an oversized one counts
 * as none.
 */
function bounded(declared: ClientCapabilities): ClientCapabilities {
  const kept = inputCapabilities(declared);
  return JSON.stringify(kept).length <= MAX_CAPABILITIES_BYTES ? kept : {};
}

interface Cached extends HandshakeRow {
  /** Date.now() when read or written here. */
  at: number;
  /** The token's expiry, ms since the epoch. */
  expiresAt: number;
}

/**
 * What a 2025-era client said of itself, per token. Served statelessly, its `initialize` and
 * `logging/setLevel` arrive in requests of their own, on server instances that are gone by the
 * time a tool call needs them, and behind a round-robin balancer on other replicas; the SDK's
 * legacy shim can only ask a client for input it declared (elicitation, sampling, roots), so the
 * gateway keeps the declaration in PostgreSQL (era2025_handshakes, migration 0018), keyed by the
 * token (the task's credential: it ends with the task, and no other agent can read or overwrite
 * it), with a per-process cache in front (HANDSHAKE_CACHE_MS).
 *
 * A request reads it once (`load`, endpoint.ts and era-2025.ts); the handlers then read the
 * loaded entry synchronously (`capabilities`, `logLevel`).
 */
export class Era2025Clients {
  private readonly byToken = new Map<string, Cached>();

  constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
  ) {}

  /** Stored before the initialize is answered: the client's next request may go elsewhere. */
  async rememberInitialize(claims: TokenClaims, declared: ClientCapabilities): Promise<void> {
    const capabilities = bounded(declared);
    await upsertInitialize(this.sql, claims.tokenId, capabilities, claims.expiresAt);
    this.set(claims, { capabilities, logLevel: undefined });
  }

  async rememberLogLevel(claims: TokenClaims, level: LoggingLevel): Promise<void> {
    this.set(claims, await upsertLogLevel(this.sql, claims.tokenId, level, claims.expiresAt));
  }

  /**
   * Makes the token's handshake current for this request: from the cache if read in the last
   * HANDSHAKE_CACHE_MS, else from the database. A failed read is logged and the request goes on
   * with what the cache holds (at worst nothing: the client is then not asked for input).
   */
  async load(claims: TokenClaims): Promise<void> {
    const found = this.get(claims);
    if (found && Date.now() - found.at < HANDSHAKE_CACHE_MS) return;
    try {
      const row = await selectHandshake(this.sql, claims.tokenId);
      if (row) this.set(claims, row);
      else this.byToken.delete(claims.tokenId);
    } catch (error) {
      this.log.warn({ err: error }, 'reading a 2025 client’s handshake failed');
    }
  }

  /** As last loaded (see `load`). */
  capabilities(claims: TokenClaims): ClientCapabilities | undefined {
    return this.get(claims)?.capabilities;
  }

  logLevel(claims: TokenClaims): LoggingLevel | undefined {
    return this.get(claims)?.logLevel;
  }

  private get(claims: TokenClaims): Cached | undefined {
    const found = this.byToken.get(claims.tokenId);
    if (found && found.expiresAt <= Date.now()) {
      this.byToken.delete(claims.tokenId);
      return undefined;
    }
    return found;
  }

  private set(claims: TokenClaims, row: HandshakeRow): void {
    // Re-inserted so Map order is recency order: the first key is the one to drop.
    this.byToken.delete(claims.tokenId);
    this.byToken.set(claims.tokenId, {
      ...row,
      at: Date.now(),
      expiresAt: claims.expiresAt * 1000,
    });
    if (this.byToken.size > MAX_REMEMBERED_CLIENTS) {
      const oldest = this.byToken.keys().next().value;
      if (oldest !== undefined) this.byToken.delete(oldest);
    }
  }
}
