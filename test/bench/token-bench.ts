/**
 * Token verifications per second, run by mcp-bench.ts as a child process (so its database and
 * heap stay out of the load generator) and printing one JSON line: the gateway's own
 * TokenService over its own database (embedded PGlite in a temp dir, or DATABASE_URL), timing
 * verify() on tokens it has never verified (cold: EdDSA signature (tokens/jwt.ts) + claims + the token's
 * record, held in memory since its mint committed, tokens/live-sync.ts), on the same with no
 * record held (cold, database: the check of token and task read from the database, a second
 * TokenService holding no records) and on tokens in its verified-token cache (cached: SHA-256
 * of the token + two map lookups). Also the two halves of a cold verification on their own.
 */
import { verify as cryptoVerify } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jwtVerify } from 'jose';
import { InProcessBus } from '../../gateway/src/db/bus.ts';
import { openDatabase } from '../../gateway/src/db/connect.ts';
import { migrate } from '../../gateway/src/db/migrate.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { insertExternalTask } from '../../gateway/src/tasks/create.ts';
import { checkClaims, decodeJwt, verifySignature } from '../../gateway/src/tokens/jwt.ts';
import { TokenService } from '../../gateway/src/tokens/service.ts';
import { loadSigningKeys } from '../../gateway/src/tokens/signing-keys.ts';
import { tokenState } from '../../gateway/src/tokens/store.ts';

const COLD = Number(process.argv[2] ?? 2000);
const CACHED = 200_000;
const ISSUER = 'http://127.0.0.1:9';
const AUDIENCE = `${ISSUER}/mcp/bench`;

const log = createLogger('silent');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-token-bench-'));
const masterKey = Buffer.alloc(32, 3);
const db = await openDatabase({ databaseUrl: process.env.DATABASE_URL || undefined, dataDir, log });
try {
  await migrate(db.sql, log);
  const tokens = await TokenService.start({
    sql: db.sql,
    masterKey,
    bus: new InProcessBus(),
    log,
    issuer: () => ISSUER,
  });
  const task = await insertExternalTask(db.sql, {
    scope: ['bench:*'],
    prompt: '',
    sessionId: null,
  });
  const minted: Array<{ token: string; jti: string }> = [];
  for (let i = 0; i < COLD; i++) {
    const { token, jti } = await tokens.mint({
      taskId: task.id,
      sessionId: null,
      scope: ['bench:*'],
      audience: AUDIENCE,
      ttlMs: 3_600_000,
    });
    minted.push({ token, jti });
  }
  // Every mint's record is loaded once its transaction commits; a process that did not mint
  // them loads them from the mint announcements (PostgreSQL) or the 5 s sync.
  await tokens.records.loaded();
  const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
  const time = async (fn: () => Promise<void>) => {
    const started = performance.now();
    await fn();
    return performance.now() - started;
  };

  // Warm the code paths on tokens of their own, so the cold run measures misses, not JIT.
  const half = Math.floor(COLD / 2);
  for (const { token } of minted.slice(0, 50)) await tokens.verify(token, AUDIENCE);
  const coldSequential = await time(async () => {
    for (const { token } of minted.slice(50, half)) await tokens.verify(token, AUDIENCE);
  });
  // 16 in flight, as 16 agents arriving at once would be.
  const rest = minted.slice(half);
  const coldConcurrent = await time(async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < rest.length) await tokens.verify(rest[next++]!.token, AUDIENCE);
      }),
    );
  });
  // The database path: another TokenService that holds no records (as for a token whose
  // record is not loaded yet, or past the 50,000 records held).
  const unheld = await TokenService.start({
    sql: db.sql,
    masterKey,
    bus: new InProcessBus(),
    log,
    issuer: () => ISSUER,
    liveTokens: { maxEntries: 0, trustMs: 30_000 },
  });
  for (const { token } of minted.slice(0, 50)) await unheld.verify(token, AUDIENCE);
  const dbSlice = minted.slice(50, Math.min(COLD, 550));
  const coldDb = await time(async () => {
    for (const { token } of dbSlice) await unheld.verify(token, AUDIENCE);
  });
  await unheld.close();
  const cached = await time(async () => {
    for (let i = 0; i < CACHED; i++) await tokens.verify(minted[i % COLD]!.token, AUDIENCE);
  });

  // The halves of a cold verification: the signature and claims alone (tokens/jwt.ts) …
  const [key] = await loadSigningKeys(db.sql, masterKey);
  const expectations = {
    issuer: ISSUER,
    audience: AUDIENCE,
    required: ['exp', 'iat', 'jti', 'sub'],
    clockToleranceS: 5,
    maxAgeS: 86_400,
  };
  const signatureOnly = await time(async () => {
    for (const { token } of minted) {
      const parts = decodeJwt(token);
      await verifySignature(parts, key!.publicKey);
      checkClaims(parts.payload, expectations);
    }
  });
  // … the same through jose, as the gateway did before issue 20 …
  const options = { algorithms: ['EdDSA'], typ: 'at+jwt', issuer: ISSUER, audience: AUDIENCE };
  const joseKeyObject = await time(async () => {
    for (const { token } of minted) await jwtVerify(token, key!.publicKey, options);
  });
  // … jose again, with a CryptoKey imported once instead of the KeyObject …
  const cryptoKey = await crypto.subtle.importKey(
    'jwk',
    key!.publicJwk,
    { name: 'Ed25519' },
    false,
    ['verify'],
  );
  const withCryptoKey = await time(async () => {
    for (const { token } of minted) await jwtVerify(token, cryptoKey, options);
  });
  // … the bare Ed25519 check through node:crypto, for comparison (what jose adds on top) …
  const parts = minted.map(({ token }) => {
    const dot = token.lastIndexOf('.');
    return {
      data: Buffer.from(token.slice(0, dot)),
      signature: Buffer.from(token.slice(dot + 1), 'base64url'),
    };
  });
  const bareSignature = await time(async () => {
    for (const { data, signature } of parts) {
      if (!cryptoVerify(null, data, key!.publicKey, signature)) throw new Error('bad signature');
    }
  });
  // … and the database check alone.
  const dbOnly = await time(async () => {
    for (const { jti } of minted) await tokenState(db.sql, jti);
  });
  await tokens.close();
  process.stdout.write(
    `${JSON.stringify({
      database: db.embedded ? 'embedded PGlite' : 'PostgreSQL',
      coldPerSecond: rate(half - 50, coldSequential),
      coldConcurrent16PerSecond: rate(rest.length, coldConcurrent),
      coldDatabasePerSecond: rate(dbSlice.length, coldDb),
      cachedPerSecond: rate(CACHED, cached),
      coldUs: Math.round((coldSequential / (half - 50)) * 1000),
      cachedUs: Math.round((cached / CACHED) * 1000 * 100) / 100,
      signatureOnlyUs: Math.round((signatureOnly / COLD) * 1000),
      joseKeyObjectUs: Math.round((joseKeyObject / COLD) * 1000),
      joseCryptoKeyUs: Math.round((withCryptoKey / COLD) * 1000),
      bareEd25519Us: Math.round((bareSignature / COLD) * 1000),
      dbCheckOnlyUs: Math.round((dbOnly / COLD) * 1000),
      tokens: COLD,
    })}\n`,
  );
} finally {
  await db.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
