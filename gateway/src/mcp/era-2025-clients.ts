import type { ClientCapabilities, LoggingLevel } from '@modelcontextprotocol/server';
import type { TokenClaims } from '../tokens/claims.ts';
import { inputCapabilities } from './input-required.ts';

/** Clients remembered at once; past it the oldest is forgotten (it falls back to no input). */
export const MAX_REMEMBERED_CLIENTS = 10_000;

/** What one client's remembered capabilities may weigh (a real declaration is ~100 bytes). */
export const MAX_CAPABILITIES_BYTES = 4096;

/**
 * Only what the gateway reads (the input kinds), so 10,000 clients stay within ~40 MiB however
 * large a declaration a client sends (its body may be 4 MiB); an oversized one counts as none.
 */
function bounded(declared: ClientCapabilities): ClientCapabilities {
  const kept = inputCapabilities(declared);
  return JSON.stringify(kept).length <= MAX_CAPABILITIES_BYTES ? kept : {};
}

interface Remembered {
  capabilities: ClientCapabilities;
  logLevel?: LoggingLevel;
  expiresAt: number;
}

/**
 * What a 2025-era client said of itself, per token. Served statelessly, its `initialize` and
 * `logging/setLevel` arrive in requests of their own, on server instances that are gone by the
 * time a tool call needs them; the SDK's legacy shim can only ask a client for input it declared
 * (elicitation, sampling, roots), so the gateway remembers the declaration, keyed by the token
 * (the task's credential: it ends with the task, and no other agent can read or overwrite it).
 *
 * In memory, per process: a 2025 client answering a server→client request must reach the process
 * holding that request anyway (mcp/client-replies.ts). A client that reconnects re-declares.
 */
export class Era2025Clients {
  private readonly byToken = new Map<string, Remembered>();

  rememberInitialize(claims: TokenClaims, declared: ClientCapabilities): void {
    this.set(claims, { capabilities: bounded(declared), expiresAt: claims.expiresAt });
  }

  rememberLogLevel(claims: TokenClaims, level: LoggingLevel): void {
    const found = this.get(claims);
    this.set(claims, {
      capabilities: found?.capabilities ?? {},
      logLevel: level,
      expiresAt: claims.expiresAt,
    });
  }

  capabilities(claims: TokenClaims): ClientCapabilities | undefined {
    return this.get(claims)?.capabilities;
  }

  logLevel(claims: TokenClaims): LoggingLevel | undefined {
    return this.get(claims)?.logLevel;
  }

  private get(claims: TokenClaims): Remembered | undefined {
    const found = this.byToken.get(claims.tokenId);
    if (found && found.expiresAt * 1000 <= Date.now()) {
      this.byToken.delete(claims.tokenId);
      return undefined;
    }
    return found;
  }

  private set(claims: TokenClaims, value: Remembered): void {
    // Re-inserted so Map order is recency order: the first key is the one to forget.
    this.byToken.delete(claims.tokenId);
    this.byToken.set(claims.tokenId, value);
    if (this.byToken.size > MAX_REMEMBERED_CLIENTS) {
      const oldest = this.byToken.keys().next().value;
      if (oldest !== undefined) this.byToken.delete(oldest);
    }
  }
}
