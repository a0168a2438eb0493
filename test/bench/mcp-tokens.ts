/**
 * mcp-bench.ts's token verification numbers: token-bench.ts (the gateway's TokenService, cold
 * and cached) in a child process of its own, and their table in the report.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { REPO, TSX_LOADER } from './processes.ts';

export type TokenResult = Record<string, unknown>;

/** token-bench.ts over 2,000 tokens, on PostgreSQL with a URL, else the embedded PGlite. */
export function measureTokens(databaseUrl: string | undefined): TokenResult {
  const out = execFileSync(
    process.execPath,
    ['--import', TSX_LOADER, path.join(REPO, 'test/bench/token-bench.ts'), '2000'],
    {
      cwd: REPO,
      env: { ...process.env, DATABASE_URL: databaseUrl ?? '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return JSON.parse(out.toString().trim().split('\n').pop()!) as TokenResult;
}

export function tokenTable(tokenResult: TokenResult): string[] {
  return [
    '',
    `Token verification (TokenService.verify, ${tokenResult.database}, ${tokenResult.tokens} tokens):`,
    '',
    '| | per second | µs each |',
    '|---|---|---|',
    `| cold (cache miss: EdDSA signature + claims + the record held in memory), one at a time | ${tokenResult.coldPerSecond} | ${tokenResult.coldUs} |`,
    `| cold, 16 in flight | ${tokenResult.coldConcurrent16PerSecond} | |`,
    `| cold, record not held (signature + claims + DB check), one at a time | ${tokenResult.coldDatabasePerSecond} | |`,
    `| cached (SHA-256 + map lookups) | ${tokenResult.cachedPerSecond} | ${tokenResult.cachedUs} |`,
    `| of a cold one: signature and claims alone (tokens/jwt.ts, node:crypto on libuv's pool) | | ${tokenResult.signatureOnlyUs} |`,
    `| for comparison: jose jwtVerify with the KeyObject (before issue 20) | | ${tokenResult.joseKeyObjectUs} |`,
    `| for comparison: jose jwtVerify with a CryptoKey imported once | | ${tokenResult.joseCryptoKeyUs} |`,
    `| for comparison: the bare Ed25519 check (node:crypto verify) | | ${tokenResult.bareEd25519Us} |`,
    `| of a cold one: the DB check alone | | ${tokenResult.dbCheckOnlyUs} |`,
  ];
}
