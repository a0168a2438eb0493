import { type KeyObject, sign, verify } from 'node:crypto';
import { SwitchboardError } from '../errors.ts';
import type { TokenRefusalReason } from './claims.ts';

/**
 * Compact JWS with EdDSA (Ed25519) over node:crypto, for the gateway's own per-task tokens: the
 * one algorithm and type they use, pinned by the caller before a key is looked up.
 *
 * Why not jose's jwtVerify: it goes through WebCrypto, whose per-call work (key normalisation,
 * promise chains, a copy of the input) made a verify cost 280–301 µs here against 190–216 µs for
 * this code in the same runs (test/bench/RESULTS.md, issue 20). The callback form of
 * crypto.verify runs the check on libuv's pool, so 16 verifies at once use both cores (7,644–7,780
 * cold verifies a second against 3,032–3,825 one at a time). jose still computes key thumbprints
 * (signing-keys.ts) and the SDK's JWKS check of upstream tokens (sdk/src/gateway-token.ts).
 *
 * The claim checks are jose's, with the same outcomes (tokens.test.ts and jwt.test.ts):
 * required claims, `iss`, `aud` (a string or a list holding the audience), `exp`, `nbf` and
 * `iat` with a clock tolerance, and a maximum age from `iat`.
 */

/** `reason` is the metric's label (claims.ts TOKEN_REFUSAL_REASONS), `message` the client's. */
export function invalidToken(
  reason: TokenRefusalReason,
  message: string,
  cause?: unknown,
): SwitchboardError {
  return new SwitchboardError('invalid_token', message, { cause, details: { reason } });
}

/** A base64url segment with no padding and nothing else: one spelling per value. */
const SEGMENT = /^[A-Za-z0-9_-]+$/;
/** An Ed25519 signature is 64 bytes: 86 base64url characters. */
const SIGNATURE_CHARS = 86;

export interface JwtParts {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** `header.payload`, the signed bytes. */
  signingInput: string;
  signature: Buffer;
}

/** Splits and decodes a compact JWS; throws `malformed` for anything that is not one. */
export function decodeJwt(token: string): JwtParts {
  const parts = token.split('.');
  if (parts.length !== 3) throw invalidToken('malformed', 'the token is not a JWT');
  const [h, p, s] = parts as [string, string, string];
  if (!SEGMENT.test(h) || !SEGMENT.test(p))
    throw invalidToken('malformed', 'the token is not a JWT');
  const header = jsonObject(h);
  const payload = jsonObject(p);
  if (!header || !payload) throw invalidToken('malformed', 'the token is not a JWT');
  // RFC 7515 §4.1.11: an extension the recipient does not understand must be refused, and this
  // one understands none (jose refuses `crit` the same way).
  if (header.crit !== undefined) throw invalidToken('malformed', 'the token is malformed');
  const signature =
    s.length === SIGNATURE_CHARS && SEGMENT.test(s) ? Buffer.from(s, 'base64url') : undefined;
  return {
    header,
    payload,
    signingInput: token.slice(0, h.length + 1 + p.length),
    signature: signature ?? Buffer.alloc(0),
  };
}

/** Invalid UTF-8 is refused, not replaced (as jose does). */
const utf8 = new TextDecoder('utf-8', { fatal: true });

function jsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The Ed25519 check, on libuv's pool; resolves, or throws `bad_signature`. */
export function verifySignature(parts: JwtParts, publicKey: KeyObject): Promise<void> {
  return new Promise((resolve, reject) => {
    const refuse = () => reject(invalidToken('bad_signature', "the token's signature is invalid"));
    if (parts.signature.length !== 64) return refuse();
    verify(null, Buffer.from(parts.signingInput), publicKey, parts.signature, (error, ok) => {
      if (error || !ok) refuse();
      else resolve();
    });
  });
}

export interface ClaimExpectations {
  issuer: string;
  audience: string;
  required: readonly string[];
  /** Seconds either way for exp, nbf and iat. */
  clockToleranceS: number;
  /** Seconds since `iat` after which the token is refused as expired. */
  maxAgeS: number;
  /** Seconds since the epoch; now by default. */
  now?: number;
}

/**
 * jose's JWT claim set checks, in its order (presence, iss, aud, nbf, exp, then the age from
 * iat), with the refusal reasons of a task token.
 */
export function checkClaims(payload: Record<string, unknown>, expect: ClaimExpectations): void {
  const now = expect.now ?? Math.floor(Date.now() / 1000);
  const tolerance = expect.clockToleranceS;
  for (const claim of expect.required) {
    if (payload[claim] === undefined)
      throw invalidToken('invalid_claim', `the token's ${claim} claim is invalid`);
  }
  if (payload.iss !== expect.issuer)
    throw invalidToken('wrong_issuer', 'the token was issued by another issuer');
  const aud = payload.aud;
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (!audiences.includes(expect.audience))
    throw invalidToken('wrong_audience', 'the token was issued for another endpoint');
  const { iat, nbf, exp } = payload;
  for (const [claim, value] of [
    ['iat', iat],
    ['nbf', nbf],
    ['exp', exp],
  ] as const) {
    if (value !== undefined && !isTime(value))
      throw invalidToken('invalid_claim', `the token's ${claim} claim is invalid`);
  }
  if (isTime(nbf) && nbf > now + tolerance)
    throw invalidToken('not_yet_valid', 'the token is not yet valid');
  if (isTime(exp) && exp <= now - tolerance) throw invalidToken('expired', 'the token has expired');
  if (isTime(iat)) {
    if (now - iat - tolerance > expect.maxAgeS)
      throw invalidToken('expired', 'the token has expired');
    if (now - iat < -tolerance) throw invalidToken('not_yet_valid', 'the token is not yet valid');
  }
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Signs a compact JWS with Ed25519 (on libuv's pool). */
export function signJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  privateKey: KeyObject,
): Promise<string> {
  const input = `${segment(header)}.${segment(payload)}`;
  return new Promise((resolve, reject) => {
    sign(null, Buffer.from(input), privateKey, (error, signature) => {
      if (error) reject(error);
      else resolve(`${input}.${signature.toString('base64url')}`);
    });
  });
}

function segment(value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
