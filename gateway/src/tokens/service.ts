import { createHash, randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import * as z from 'zod';
import type { EventBus } from '../db/bus.ts';
import type { Pool, Sql } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { VerifiedTokenCache } from './cache.ts';
import type { RevocationListener, TokenClaims, TokenVerifier } from './claims.ts';
import { checkClaims, decodeJwt, invalidToken, signJwt, verifySignature } from './jwt.ts';
import type { LiveTokenLimits } from './live.ts';
import { LiveTokenRecords, MINT_CHANNEL } from './live-sync.ts';
import {
  currentSigningKey,
  ensureSigningKey,
  loadSigningKeys,
  type SigningKey,
} from './signing-keys.ts';
import { insertToken } from './store.ts';

/** RFC 9068 access-token type; a token of any other type is refused (RFC 8725 §3.11). */
export const TOKEN_TYPE = 'at+jwt';
export const TOKEN_ALGORITHM = 'EdDSA';
/** Revocations (task ids and token ids) travel between processes on this channel. */
export const REVOCATION_CHANNEL = 'switchboard_token_revocations';

/** Clocks of the gateway's replicas differ a little; 5 s is plenty on NTP-synced hosts. */
const CLOCK_TOLERANCE_S = 5;
/** Keys are re-read this often, so a rotation made by another process is seen within a minute. */
const KEY_REFRESH_MS = 60_000;
/** An unknown `kid` triggers a re-read, at most this often (a flood of forged kids costs one query). */
const UNKNOWN_KID_REFRESH_MS = 5_000;
/** Upstream tokens live for one call plus slack: an HTTP upstream checks them at once. */
const UPSTREAM_TOKEN_TTL_MS = 60_000;

const Claims = z.object({
  sub: z.string().regex(/^task:[0-9a-f-]{36}$/),
  jti: z.uuid(),
  scope: z.string(),
  sid: z.uuid().optional(),
  exp: z.number(),
});

/** What travels on REVOCATION_CHANNEL; `kids` was added later, so it may be absent. */
export const RevocationMessage = z.object({
  taskIds: z.array(z.string()),
  tokenIds: z.array(z.string()),
  kids: z.array(z.string()).default([]),
});

export interface MintRequest {
  taskId: string;
  sessionId: string | null;
  scope: string[];
  /** `<public>/mcp` or `<public>/mcp/<integration>`. */
  audience: string;
  ttlMs: number;
}

export interface TokenServiceOptions {
  sql: Pool;
  masterKey: Buffer;
  bus: EventBus;
  log: Logger;
  /** The gateway's public URL: `iss` of every token (known once the gateway listens). */
  issuer: () => string;
  /** The bounds of the live-token records (live.ts LIVE_TOKEN_LIMITS); tests make them small. */
  liveTokens?: LiveTokenLimits;
}

/**
 * Mints and verifies per-task tokens (ARCHITECTURE §4): JWT, EdDSA, `typ: at+jwt`, the current
 * key's `kid`; claims iss, aud, sub = task:<id>, sid, scope, exp, iat, jti. Verification pins the
 * algorithm and type, requires exp iat jti, checks iss and aud, then that the token is recorded
 * with the same key, audience and scope, not revoked, and its task still running. That record
 * comes from memory when held (live-sync.ts: loaded at mint and start, re-read every 5 s), else
 * from the database. Verified tokens are cached for up to 30 s while their record is held; a
 * revocation clears both here at once and in other processes through the event bus.
 */
export class TokenService implements TokenVerifier {
  private keys: SigningKey[] = [];
  private loadedAt = 0;
  private lastUnknownKidRefresh = 0;
  private readonly cache = new VerifiedTokenCache();
  private readonly gatewayTokens = new Map<string, { token: string; renewAt: number }>();
  private unsubscribe: (() => Promise<void>) | undefined;
  private readonly revocationListeners = new Set<RevocationListener>();
  readonly records: LiveTokenRecords;

  private constructor(private readonly options: TokenServiceOptions) {
    this.records = new LiveTokenRecords(options.sql, options.log, options.liveTokens);
  }

  static async start(options: TokenServiceOptions): Promise<TokenService> {
    const service = new TokenService(options);
    await ensureSigningKey(options.sql, options.masterKey);
    await service.refreshKeys();
    service.unsubscribe = await options.bus.subscribe(REVOCATION_CHANNEL, (payload) =>
      service.applyRevocation(payload),
    );
    await service.records.start(options.bus);
    return service;
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
    await this.records.close();
  }

  /** Mints and records a token (in `sql`: maybe the caller's transaction); its record loads at commit. */
  async mint(
    request: MintRequest,
    sql: Sql = this.options.sql,
  ): Promise<{ token: string; jti: string; expiresAt: Date }> {
    const key = await this.signingKey(sql);
    const jti = randomUUID();
    const issuedAt = Math.floor(Date.now() / 1000);
    const expiresAt = new Date((issuedAt + Math.ceil(request.ttlMs / 1000)) * 1000);
    const scope = request.scope.join(' ');
    const token = await this.sign(key, {
      scope,
      ...(request.sessionId ? { sid: request.sessionId } : {}),
      aud: request.audience,
      sub: `task:${request.taskId}`,
      iat: issuedAt,
      exp: Math.floor(expiresAt.getTime() / 1000),
      jti,
    });
    await insertToken(
      sql,
      { jti, taskId: request.taskId, kid: key.kid, audience: request.audience, scope, expiresAt },
      MINT_CHANNEL,
    );
    this.records.minted(jti);
    return { token, jti, expiresAt };
  }

  /**
   * The token an HTTP upstream receives instead of the agent's: `aud` = the integration's name,
   * the same task as `sub`, scope = the tools being called, one minute of life. Not recorded:
   * it is checked by the integration against JWKS, and can never pass verify() (wrong audience).
   */
  async mintUpstream(integration: string, verified: TokenClaims, tools: string[]): Promise<string> {
    const key = await this.signingKey(this.options.sql);
    const issuedAt = Math.floor(Date.now() / 1000);
    return this.sign(key, {
      scope: tools.map((tool) => `${integration}:${tool}`).join(' '),
      ...(verified.sessionId ? { sid: verified.sessionId } : {}),
      aud: integration,
      sub: `task:${verified.taskId}`,
      iat: issuedAt,
      exp: issuedAt + UPSTREAM_TOKEN_TTL_MS / 1000,
      jti: randomUUID(),
    });
  }

  /**
   * The token of the gateway's own requests to an HTTP upstream (connecting, listing tools,
   * calling handlers): `sub` = gateway, scope = every tool of the integration, one minute.
   * Reused for half its life: the gateway's requests are frequent and all alike.
   */
  async mintGateway(integration: string): Promise<string> {
    const cached = this.gatewayTokens.get(integration);
    if (cached && cached.renewAt > Date.now()) return cached.token;
    const key = await this.signingKey(this.options.sql);
    const issuedAt = Math.floor(Date.now() / 1000);
    const token = await this.sign(key, {
      scope: `${integration}:*`,
      aud: integration,
      sub: 'gateway',
      iat: issuedAt,
      exp: issuedAt + UPSTREAM_TOKEN_TTL_MS / 1000,
      jti: randomUUID(),
    });
    this.gatewayTokens.set(integration, { token, renewAt: Date.now() + UPSTREAM_TOKEN_TTL_MS / 2 });
    return token;
  }

  async verify(token: string, audience: string): Promise<TokenClaims> {
    const hash = createHash('sha256').update(token).digest('base64url');
    const cached = this.cache.get(hash);
    // Only while its record is held: a revocation whose message was lost drops the record at the
    // next sync (≤ 5 s), and with it this shortcut.
    if (cached && this.records.get(cached.tokenId)) {
      if (cached.audience !== audience)
        throw invalidToken('wrong_audience', 'the token was issued for another endpoint');
      return cached;
    }
    const generation = this.cache.currentGeneration();
    const { verified, kid } = await this.verifyUncached(token, audience);
    this.cache.set(hash, verified, kid, generation);
    return verified;
  }

  /** After the transaction that revoked them has committed: forget them here and everywhere. */
  async revoked(taskIds: string[], tokenIds: string[]): Promise<void> {
    this.forget(taskIds, tokenIds);
    try {
      await this.options.bus.publish(REVOCATION_CHANNEL, JSON.stringify({ taskIds, tokenIds }));
    } catch (error) {
      // The database holds the revocation; other processes' syncs drop the records within 5 s.
      this.options.log.error({ err: error, taskIds }, 'could not announce a token revocation');
    }
  }

  /** Public keys that may still verify a token, for /.well-known/jwks.json. */
  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }

  /**
   * `sql`: the caller's transaction when minting inside one. The embedded database has a single
   * connection, which that transaction holds: a reload through the pool would wait for it
   * forever (it happened when the 60 s reload fell inside a grant).
   */
  async refreshKeys(sql: Sql = this.options.sql): Promise<void> {
    this.keys = await loadSigningKeys(sql, this.options.masterKey);
    this.loadedAt = Date.now();
  }

  /**
   * A revocation from any process. `kids`: signing keys retired in an emergency (retire.ts):
   * their verified tokens are forgotten, and the keys stop signing and verifying here at once
   * (the next use re-reads the keys, which no longer include them).
   */
  private applyRevocation(payload: string): void {
    let json: unknown;
    try {
      json = JSON.parse(payload);
    } catch {
      json = undefined;
    }
    const parsed = RevocationMessage.safeParse(json);
    if (!parsed.success) {
      this.options.log.warn({ payload }, 'ignoring a malformed revocation message');
      return;
    }
    const { taskIds, tokenIds, kids } = parsed.data;
    if (kids.length > 0) {
      this.keys = this.keys.filter((k) => !kids.includes(k.kid));
      this.loadedAt = 0;
    }
    this.forget(taskIds, tokenIds, kids);
  }

  onRevoked(listener: RevocationListener): () => void {
    this.revocationListeners.add(listener);
    return () => this.revocationListeners.delete(listener);
  }

  /** A revocation in this process: the verified-token cache, then who holds open exchanges. */
  private forget(taskIds: string[], tokenIds: string[], kids: string[] = []): void {
    this.cache.revoke(taskIds, tokenIds, kids);
    this.records.revoke(taskIds, tokenIds, kids);
    for (const listener of this.revocationListeners) {
      try {
        listener(taskIds, tokenIds, kids);
      } catch (error) {
        this.options.log.error({ err: error, taskIds }, 'a revocation listener failed');
      }
    }
  }

  /** The header and `iss` every token of this gateway carries, around `claims`. */
  private sign(key: SigningKey, claims: Record<string, unknown>): Promise<string> {
    return signJwt(
      { alg: TOKEN_ALGORITHM, typ: TOKEN_TYPE, kid: key.kid },
      { iss: this.options.issuer(), ...claims },
      key.privateKey,
    );
  }

  private async signingKey(sql: Sql): Promise<SigningKey> {
    if (Date.now() - this.loadedAt > KEY_REFRESH_MS) await this.refreshKeys(sql);
    let key = currentSigningKey(this.keys, new Date());
    if (!key) {
      // A rotation's key may have just begun signing, or the old key just retired.
      await this.refreshKeys(sql);
      key = currentSigningKey(this.keys, new Date());
    }
    if (!key) {
      throw new SwitchboardError('no_signing_key', 'no token signing key is active');
    }
    return key;
  }

  private async verificationKey(kid: unknown): Promise<SigningKey> {
    if (typeof kid !== 'string')
      throw invalidToken('unknown_key', 'the token names no signing key');
    if (Date.now() - this.loadedAt > KEY_REFRESH_MS) await this.refreshKeys();
    let key = this.keys.find((k) => k.kid === kid);
    if (!key && Date.now() - this.lastUnknownKidRefresh > UNKNOWN_KID_REFRESH_MS) {
      this.lastUnknownKidRefresh = Date.now();
      await this.refreshKeys();
      key = this.keys.find((k) => k.kid === kid);
    }
    if (!key) throw invalidToken('unknown_key', 'the token was signed by an unknown key');
    return key;
  }

  private async verifyUncached(
    token: string,
    audience: string,
  ): Promise<{ verified: TokenClaims; kid: string }> {
    const parts = decodeJwt(token);
    const { header, payload } = parts;
    // Pinned before any key is looked up: alg none, HS256 with the public key, RS256… all fail here.
    if (header.alg !== TOKEN_ALGORITHM)
      throw invalidToken('bad_algorithm', 'the token is not signed with EdDSA');
    if (header.typ !== TOKEN_TYPE)
      throw invalidToken('wrong_type', `the token's type is not ${TOKEN_TYPE}`);
    const key = await this.verificationKey(header.kid);
    await verifySignature(parts, key.publicKey);
    checkClaims(payload, {
      issuer: this.options.issuer(),
      audience,
      required: ['exp', 'iat', 'jti', 'sub'],
      clockToleranceS: CLOCK_TOLERANCE_S,
      // Also refuses an `iat` in the future; no token lives longer than a day (policy maxTtl ≤ it).
      maxAgeS: 24 * 60 * 60,
    });
    const claims = Claims.safeParse(payload);
    if (!claims.success)
      throw invalidToken('invalid_claim', 'the token lacks the claims of a task token');
    const { sub, jti, scope, exp } = claims.data;
    // Held records are live (not revoked, task running) as of the last read, ≤ 30 s ago.
    const held = this.records.get(jti);
    const state = held
      ? { ...held, revoked: false, taskStatus: 'running' }
      : await this.records.read(jti);
    const taskId = sub.slice('task:'.length);
    if (!state || state.taskId !== taskId)
      throw invalidToken('unknown_token', 'the token is not known');
    // The record is the authority: a token signed with a leaked key under a recorded jti
    // cannot claim more (scope), another endpoint (audience) or another key than was minted.
    if (state.scope !== scope || state.audience !== audience || state.kid !== key.kid) {
      throw invalidToken('record_mismatch', 'the token does not match its record');
    }
    if (state.revoked) throw invalidToken('revoked', 'the token has been revoked');
    if (state.taskStatus !== 'running')
      throw invalidToken('task_ended', 'the task of this token has ended');
    return {
      kid: key.kid,
      verified: {
        tokenId: jti,
        taskId,
        sessionId: state.sessionId,
        profile: state.profile,
        scope: state.scope.split(' ').filter((s) => s !== ''),
        audience,
        expiresAt: exp,
        kid: key.kid,
      },
    };
  }
}
