import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { type AuditActor, appendAudit } from '../audit/store.ts';
import type { Pool, Sql } from '../db/connect.ts';
import { decryptSecret, encryptSecret } from '../secrets/cipher.ts';

/**
 * Ed25519 keys that sign per-task tokens. The private half is stored encrypted with the master
 * key (AES-256-GCM, associated data `signing_keys/<kid>`); `kid` is the key's RFC 7638
 * thumbprint. A rotation publishes the new key before it signs (`signs_from` in the future, so
 * JWKS caches — jose keeps them 10 min — learn it first) and keeps the old one verifying until
 * the last token it signed has expired (`verify_until`).
 */
export interface SigningKey {
  kid: string;
  publicJwk: JWK;
  publicKey: KeyObject;
  privateKey: KeyObject;
  signsFrom: Date;
  retiredAt: Date | null;
  verifyUntil: Date | null;
}

interface Row {
  kid: string;
  publicJwk: JWK;
  privateKeyEncrypted: Buffer;
  signsFrom: Date;
  retiredAt: Date | null;
  verifyUntil: Date | null;
}

/** Serialises key creation across gateway processes starting at once (an arbitrary constant). */
const SIGNING_KEY_LOCK = 0x5b_70_6b_01;

async function generate(
  masterKey: Buffer,
): Promise<Omit<Row, 'signsFrom' | 'retiredAt' | 'verifyUntil'>> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  const publicJwk: JWK = { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
  return {
    kid,
    publicJwk: { ...publicJwk, kid, alg: 'EdDSA', use: 'sig' },
    privateKeyEncrypted: encryptSecret(masterKey, pkcs8, `signing_keys/${kid}`),
  };
}

async function insertKey(sql: Sql, key: Omit<Row, 'retiredAt' | 'verifyUntil'>): Promise<void> {
  await sql`
    insert into signing_keys (kid, algorithm, public_jwk, private_key_encrypted, signs_from)
    values (${key.kid}, 'EdDSA', ${sql.json(key.publicJwk as never)}, ${key.privateKeyEncrypted},
            ${key.signsFrom})`;
}

/** First start: create a key that signs from now, unless one that is not retired exists. */
export async function ensureSigningKey(sql: Pool, masterKey: Buffer): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`;
    const [active] = await tx`select 1 from signing_keys where retired_at is null limit 1`;
    if (active) return;
    await insertKey(tx, { ...(await generate(masterKey)), signsFrom: new Date() });
  });
}

/**
 * Adds a key that starts signing `overlapMs` from now; every key not yet retired stops signing
 * then and keeps verifying for `maxTokenTtlMs` more (its last token's lifetime). Returns the kid.
 * Audited (`signing_keys.rotate`) in the same transaction.
 */
export async function rotateSigningKey(
  sql: Pool,
  masterKey: Buffer,
  options: { overlapMs: number; maxTokenTtlMs: number; actor: AuditActor },
): Promise<{ kid: string; signsFrom: Date; previous: string[] }> {
  const key = await generate(masterKey);
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`;
    const [{ now }] = (await tx`select now() as now`) as unknown as [{ now: Date }];
    const signsFrom = new Date(now.getTime() + options.overlapMs);
    const verifyUntil = new Date(signsFrom.getTime() + options.maxTokenTtlMs);
    const previous = await tx<{ kid: string }[]>`
      update signing_keys set retired_at = ${signsFrom}, verify_until = ${verifyUntil}
       where retired_at is null
      returning kid`;
    await insertKey(tx, { ...key, signsFrom });
    await appendAudit(tx, {
      ...options.actor,
      action: 'signing_keys.rotate',
      target: key.kid,
      details: {
        signsFrom: signsFrom.toISOString(),
        previous: previous.map((p) => p.kid),
        previousVerifyUntil: verifyUntil.toISOString(),
      },
    });
    return { kid: key.kid, signsFrom, previous: previous.map((p) => p.kid) };
  });
}

/**
 * An emergency: `kid` stops signing and verifying now (in `tx`, the caller's transaction, which
 * also revokes its tokens). If no other key signs now, the earliest key waiting to sign (a
 * rotation's) starts at once, or a new one is made. Returns the key that signs from now on, or
 * undefined if `kid` is unknown or verifies nothing any more.
 */
export async function retireKeyNow(
  tx: Sql,
  masterKey: Buffer,
  kid: string,
): Promise<{ signingKid: string; created: boolean } | undefined> {
  const fresh = await generate(masterKey); // before the lock: key generation takes a moment
  await tx`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`;
  const retired = await tx`
    update signing_keys
       set retired_at = least(coalesce(retired_at, now()), now()), verify_until = now()
     where kid = ${kid} and (verify_until is null or verify_until > now())
    returning kid`;
  if (retired.length === 0) return undefined;
  const [signing] = await tx<{ kid: string }[]>`
    select kid from signing_keys
     where signs_from <= now() and (retired_at is null or retired_at > now())
     order by signs_from desc limit 1`;
  if (signing) {
    // `kid` may have been a rotation's successor: then the key signing now was due to stop when
    // it began, and would leave no signer. It keeps signing instead.
    const [successor] = await tx`select 1 from signing_keys where retired_at is null limit 1`;
    if (!successor) {
      await tx`
        update signing_keys set retired_at = null, verify_until = null where kid = ${signing.kid}`;
    }
    return { signingKid: signing.kid, created: false };
  }
  const [waiting] = await tx<{ kid: string }[]>`
    update signing_keys set signs_from = now()
     where kid = (select kid from signing_keys
                   where signs_from > now() and retired_at is null
                   order by signs_from limit 1)
    returning kid`;
  if (waiting) return { signingKid: waiting.kid, created: false };
  const [{ now }] = (await tx`select now() as now`) as unknown as [{ now: Date }];
  await insertKey(tx, { ...fresh, signsFrom: now });
  return { signingKid: fresh.kid, created: true };
}

/** Every key that may still verify a token, decrypted. */
export async function loadSigningKeys(sql: Sql, masterKey: Buffer): Promise<SigningKey[]> {
  const rows = await sql<Row[]>`
    select kid, public_jwk as "publicJwk", private_key_encrypted as "privateKeyEncrypted",
           signs_from as "signsFrom", retired_at as "retiredAt", verify_until as "verifyUntil"
      from signing_keys
     where verify_until is null or verify_until > now()
     order by signs_from`;
  return rows.map((row) => {
    const pkcs8 = decryptSecret(masterKey, row.privateKeyEncrypted, `signing_keys/${row.kid}`);
    const privateKey = createPrivateKey({
      key: Buffer.from(pkcs8, 'base64'),
      format: 'der',
      type: 'pkcs8',
    });
    return {
      kid: row.kid,
      publicJwk: row.publicJwk,
      publicKey: createPublicKey(privateKey),
      privateKey,
      signsFrom: row.signsFrom,
      retiredAt: row.retiredAt,
      verifyUntil: row.verifyUntil,
    };
  });
}

/** The key that signs at `now`: started signing, not retired, the newest such. */
export function currentSigningKey(keys: SigningKey[], now: Date): SigningKey | undefined {
  return keys
    .filter((k) => k.signsFrom <= now && (k.retiredAt === null || k.retiredAt > now))
    .sort((a, b) => b.signsFrom.getTime() - a.signsFrom.getTime())[0];
}
