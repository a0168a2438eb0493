import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { base64url, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  type ClaimExpectations,
  checkClaims,
  decodeJwt,
  signJwt,
  verifySignature,
} from '../../gateway/src/tokens/jwt.ts';

// The gateway's own compact-JWS code (tokens/jwt.ts, node:crypto Ed25519) replaced jose's
// jwtVerify on the verify path and SignJWT on the mint path (issue 20). These tests hold it to
// jose: the same tokens pass and fail both, and jose (what integrations use through the SDK's
// JWKS check) accepts what the gateway signs. RFC 7515 §7.1 (compact serialisation), §4.1.11
// (crit), RFC 7519 §4.1 (registered claims), RFC 8037 §3.1 (EdDSA).
const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const NOW = Math.floor(Date.now() / 1000);
const ISSUER = 'http://gw.test';
const AUDIENCE = 'http://gw.test/mcp/echo';
const expectations: ClaimExpectations = {
  issuer: ISSUER,
  audience: AUDIENCE,
  required: ['exp', 'iat', 'jti', 'sub'],
  clockToleranceS: 5,
  maxAgeS: 86_400,
  now: NOW,
};
const header = { alg: 'EdDSA', typ: 'at+jwt', kid: 'k1' };
const claims = (over: Record<string, unknown> = {}) => ({
  iss: ISSUER,
  aud: AUDIENCE,
  sub: 'task:1',
  jti: 'j1',
  iat: NOW,
  exp: NOW + 600,
  ...over,
});

/** Ours: signature, then claims; the refusal's reason, or 'ok'. */
async function ours(token: string, key: KeyObject = publicKey): Promise<string> {
  try {
    const parts = decodeJwt(token);
    await verifySignature(parts, key);
    checkClaims(parts.payload, expectations);
    return 'ok';
  } catch (error) {
    return (error as { details: { reason: string } }).details.reason;
  }
}

async function jose(token: string, key: KeyObject = publicKey): Promise<boolean> {
  try {
    await jwtVerify(token, key, {
      algorithms: ['EdDSA'],
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: ['exp', 'iat', 'jti', 'sub'],
      clockTolerance: 5,
      maxTokenAge: '24h',
      currentDate: new Date(NOW * 1000),
    });
    return true;
  } catch {
    return false;
  }
}

describe('tokens/jwt.ts against jose', () => {
  it('jose verifies what the gateway signs, and the gateway what jose signs', async () => {
    const token = await signJwt(header, claims({ scope: 'echo:*', sid: 's' }), privateKey);
    expect(await jose(token)).toBe(true);
    expect(await ours(token)).toBe('ok');
    const joseToken = await new SignJWT(claims()).setProtectedHeader(header).sign(privateKey);
    expect(await ours(joseToken)).toBe('ok');
    expect(decodeJwt(token).payload).toMatchObject({ scope: 'echo:*', sid: 's', sub: 'task:1' });
  });

  it.each([
    ['another issuer', claims({ iss: 'http://elsewhere' }), 'wrong_issuer'],
    ['no issuer', claims({ iss: undefined }), 'wrong_issuer'],
    ['another audience', claims({ aud: 'http://gw.test/mcp' }), 'wrong_audience'],
    ['an audience list holding it', claims({ aud: ['x', AUDIENCE] }), 'ok'],
    ['an audience list without it', claims({ aud: ['x', 'y'] }), 'wrong_audience'],
    ['expired beyond the tolerance', claims({ exp: NOW - 5 }), 'expired'],
    ['expired within the tolerance', claims({ exp: NOW - 4 }), 'ok'],
    ['no exp', claims({ exp: undefined }), 'invalid_claim'],
    ['no jti', claims({ jti: undefined }), 'invalid_claim'],
    ['no sub', claims({ sub: undefined }), 'invalid_claim'],
    ['no iat', claims({ iat: undefined }), 'invalid_claim'],
    ['exp a string', claims({ exp: `${NOW + 600}` }), 'invalid_claim'],
    ['iat in the future', claims({ iat: NOW + 6 }), 'not_yet_valid'],
    ['iat within the tolerance', claims({ iat: NOW + 5 }), 'ok'],
    ['older than a day', claims({ iat: NOW - 86_406, exp: NOW + 600 }), 'expired'],
    ['nbf in the future', claims({ nbf: NOW + 6 }), 'not_yet_valid'],
    ['nbf passed', claims({ nbf: NOW - 60 }), 'ok'],
  ])('%s: the same outcome as jose', async (_name, payload, reason) => {
    const token = await signJwt(header, payload, privateKey);
    expect(await ours(token)).toBe(reason);
    expect(await jose(token)).toBe(reason === 'ok');
  });

  it('refuses a wrong key, a tampered payload, and a signature spelled another way', async () => {
    const token = await signJwt(header, claims(), privateKey);
    expect(await ours(token, other.publicKey)).toBe('bad_signature');
    expect(await jose(token, other.publicKey)).toBe(false);
    const [h, p, s] = token.split('.') as [string, string, string];
    const wider = base64url.encode(JSON.stringify(claims({ sub: 'task:2' })));
    expect(await ours(`${h}.${wider}.${s}`)).toBe('bad_signature');
    // Padding, a trailing character, standard-alphabet characters: one spelling per signature.
    expect(await ours(`${h}.${p}.${s}==`)).toBe('bad_signature');
    expect(await ours(`${h}.${p}.${s}A`)).toBe('bad_signature');
    expect(await ours(`${h}.${p}.${s.slice(0, -1)}+`)).toBe('bad_signature');
    expect(await ours(`${h}.${p}.`)).toBe('bad_signature');
    // S + L, the other spelling of an Ed25519 signature (RFC 8032 §5.1.7): OpenSSL refuses it.
    const raw = Buffer.from(s, 'base64url');
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const sLe = raw.subarray(32);
    const S = BigInt(`0x${Buffer.from(sLe).reverse().toString('hex')}`) + L;
    const sPlusL = Buffer.from(S.toString(16).padStart(64, '0'), 'hex').reverse();
    const malleated = Buffer.concat([raw.subarray(0, 32), sPlusL]).toString('base64url');
    expect(await ours(`${h}.${p}.${malleated}`)).toBe('bad_signature');
    expect(await jose(`${h}.${p}.${malleated}`)).toBe(false);
  });

  it('refuses what is not a compact JWS of two JSON objects, and a crit header', async () => {
    const p = base64url.encode(JSON.stringify(claims()));
    const h = base64url.encode(JSON.stringify(header));
    const shapes = [
      'not-a-token',
      `${h}.${p}`,
      `${h}.${p}.sig.more`,
      `${h}.${base64url.encode('[1,2]')}.x`,
      `${h}.${base64url.encode('"text"')}.x`,
      `${base64url.encode('null')}.${p}.x`,
      `${h}.${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')}.x`,
      `${h}=.${p}.x`,
      `${h}.${p.replace(/[-_]/g, '+')}+.x`,
    ];
    for (const token of shapes) expect(await ours(token), token).toBe('malformed');
    const crit = await signJwt({ ...header, crit: ['exp'] }, claims(), privateKey);
    expect(await ours(crit)).toBe('malformed');
    expect(await jose(crit)).toBe(false);
  });
});
