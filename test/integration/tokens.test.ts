import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { base64url, SignJWT } from 'jose';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { InProcessBus, PostgresBus } from '../../gateway/src/db/bus.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { insertExternalTask } from '../../gateway/src/tasks/create.ts';
import { finishTask } from '../../gateway/src/tasks/external.ts';
import type { TokenClaims } from '../../gateway/src/tokens/claims.ts';
import { retireSigningKey } from '../../gateway/src/tokens/retire.ts';
import { TokenService } from '../../gateway/src/tokens/service.ts';
import { loadSigningKeys, rotateSigningKey } from '../../gateway/src/tokens/signing-keys.ts';
import { useMigratedDatabase, usingPostgres } from '../helpers/database.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';

// Per-task tokens (ARCHITECTURE §4, issue 4): EdDSA JWTs, typ at+jwt, kid; verification pins
// the algorithm and type, requires exp iat jti, checks iss and aud (RFC 8725 §3.1, §3.8, §3.9,
// §3.11), then that the token is recorded, not revoked and its task running.
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');
const MASTER_KEY = Buffer.from('5a'.repeat(32), 'hex');

interface Granted {
  task: { id: string; status: string };
  expiresAt: string;
  mcp: { url: string; token: string };
  integrations: Array<{ name: string; url: string; token: string; scope: string[] }>;
}

describe('per-task tokens', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: path.join(FIXTURES, 'policy.yaml'),
  });

  const api = async (route: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') =>
    fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  async function grant(scope: string[] = ['echo:*'], ttl = '15m'): Promise<Granted> {
    const res = await api('/tasks', { external: true, scope, ttl });
    expect(res.status).toBe(201);
    return (await res.json()) as Granted;
  }

  const verify = (token: string, audience = `${gw().url}/mcp`) =>
    gw().tokens.verify(token, audience);

  const rejected = async (token: string, message: string, audience?: string) => {
    await expect(verify(token, audience)).rejects.toMatchObject({
      code: 'invalid_token',
      status: 401,
      message,
    });
  };

  /** A token signed by the gateway's real current key with the claims a test wants. */
  async function forge(
    claims: Record<string, unknown>,
    header: Record<string, unknown> = {},
  ): Promise<string> {
    const keys = await loadSigningKeys(gw().sql, MASTER_KEY);
    const key = keys.at(-1)!;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ scope: 'echo:*', ...claims })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: key.kid, ...header })
      .setIssuer((claims.iss as string) ?? gw().url)
      .setAudience((claims.aud as string) ?? `${gw().url}/mcp`)
      .setSubject((claims.sub as string) ?? 'task:00000000-0000-4000-8000-000000000000')
      .setIssuedAt((claims.iat as number) ?? now)
      .setExpirationTime((claims.exp as number) ?? now + 600)
      .setJti((claims.jti as string) ?? crypto.randomUUID())
      .sign(key.privateKey);
  }

  it('grants an external task: one token for /mcp and one per integration in scope', async () => {
    const granted = await grant(['echo:report_env', 'needs-setting:*']);
    expect(granted.task).toMatchObject({ status: 'running' });
    expect(granted.mcp.url).toBe(`${gw().url}/mcp`);
    // needs-setting is refused (no setting): it gets no endpoint of its own.
    expect(granted.integrations.map((i) => [i.name, i.url, i.scope])).toEqual([
      ['echo', `${gw().url}/mcp/echo`, ['echo:report_env']],
    ]);
    const g: TokenClaims = await verify(granted.mcp.token);
    expect(g).toMatchObject({
      taskId: granted.task.id,
      sessionId: null,
      // An external task runs under no profile; a worker's task carries its own (guards read it).
      profile: null,
      scope: ['echo:report_env', 'needs-setting:*'],
      audience: `${gw().url}/mcp`,
    });
    const header = JSON.parse(
      Buffer.from(granted.mcp.token.split('.')[0]!, 'base64url').toString(),
    ) as Record<string, unknown>;
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt', kid: expect.any(String) });
    const echo = granted.integrations[0]!;
    expect(await verify(echo.token, echo.url)).toMatchObject({ scope: ['echo:report_env'] });
  });

  it('mints inside a transaction when the 60 s signing-key reload falls due (one embedded connection)', async () => {
    // The reload used the pool, which the transaction holds on PGlite: it waited forever.
    const later = Date.now() + 61_000;
    const now = vi.spyOn(Date, 'now').mockReturnValue(later);
    try {
      const granted = await grant(['echo:*']);
      expect(granted.mcp.token.split('.')).toHaveLength(3);
    } finally {
      now.mockRestore();
    }
  });

  it('rejects a missing or malformed token', async () => {
    await rejected('', 'the token is not a JWT');
    await rejected('not.a.jwt', 'the token is not a JWT');
  });

  it('rejects an expired token and one not yet valid', async () => {
    const now = Math.floor(Date.now() / 1000);
    await rejected(await forge({ iat: now - 120, exp: now - 60 }), 'the token has expired');
    await rejected(await forge({ nbf: now + 600 }), 'the token is not yet valid');
    await rejected(await forge({ iat: now + 600, exp: now + 1200 }), 'the token is not yet valid');
  });

  it('rejects a wrong issuer and a token minted for another endpoint', async () => {
    await rejected(
      await forge({ iss: 'https://evil.example' }),
      'the token was issued by another issuer',
    );
    const granted = await grant(['echo:*']);
    const echo = granted.integrations[0]!;
    // A /mcp/echo token presented at /mcp/chat (or /mcp), and the /mcp token at /mcp/echo.
    await rejected(echo.token, 'the token was issued for another endpoint', `${gw().url}/mcp/chat`);
    await rejected(granted.mcp.token, 'the token was issued for another endpoint', echo.url);
    // Also when the first verification put it in the cache.
    await verify(echo.token, echo.url);
    await rejected(echo.token, 'the token was issued for another endpoint', `${gw().url}/mcp`);
  });

  it('rejects alg none, HS256 keyed with the public key, an unknown kid and another type', async () => {
    const payload = base64url.encode(
      JSON.stringify({
        iss: gw().url,
        aud: `${gw().url}/mcp`,
        sub: 'task:00000000-0000-4000-8000-000000000000',
        exp: Math.floor(Date.now() / 1000) + 600,
        iat: Math.floor(Date.now() / 1000),
        jti: crypto.randomUUID(),
        scope: '*:*',
      }),
    );
    const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${payload}.`;
    await rejected(none, 'the token is not signed with EdDSA');

    const { keys } = gw().tokens.jwks();
    const publicKeyBytes = new TextEncoder().encode(JSON.stringify(keys[0]));
    const hs256 = await new SignJWT({ scope: '*:*' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: keys[0]!.kid! })
      .setIssuer(gw().url)
      .setAudience(`${gw().url}/mcp`)
      .setSubject('task:00000000-0000-4000-8000-000000000000')
      .setIssuedAt()
      .setExpirationTime('10m')
      .setJti(crypto.randomUUID())
      .sign(publicKeyBytes);
    await rejected(hs256, 'the token is not signed with EdDSA');

    const stranger = generateKeyPairSync('ed25519').privateKey;
    const unknownKid = await new SignJWT({ scope: '*:*' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'someone-elses-key' })
      .setIssuer(gw().url)
      .setAudience(`${gw().url}/mcp`)
      .setSubject('task:00000000-0000-4000-8000-000000000000')
      .setIssuedAt()
      .setExpirationTime('10m')
      .setJti(crypto.randomUUID())
      .sign(stranger);
    await rejected(unknownKid, 'the token was signed by an unknown key');

    await rejected(await forge({}, { typ: 'JWT' }), "the token's type is not at+jwt");
  });

  it('rejects a tampered payload and a token the gateway never issued', async () => {
    const granted = await grant(['echo:report_env']);
    const [h, p, s] = granted.mcp.token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const widened = base64url.encode(JSON.stringify({ ...claims, scope: '*:*' }));
    await rejected(`${h}.${widened}.${s}`, "the token's signature is invalid");
    // Validly signed (with the real key) but never recorded: not a token the gateway minted.
    await rejected(await forge({}), 'the token is not known');
  });

  it('revocation: ending the task rejects its tokens at once, cached or not', async () => {
    const granted = await grant(['echo:*']);
    await verify(granted.mcp.token); // now cached
    const res = await api(`/tasks/${granted.task.id}/complete`, { result: 'done' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ task: { status: 'complete', result: 'done' } });
    await rejected(granted.mcp.token, 'the token has been revoked');
    await rejected(
      granted.integrations[0]!.token,
      'the token has been revoked',
      granted.integrations[0]!.url,
    );
    // Ending it again is a conflict, not a silent success.
    const again = await api(`/tasks/${granted.task.id}/cancel`, {});
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({
      error: {
        code: 'task_ended',
        message: `task ${granted.task.id} has already ended (complete)`,
      },
    });
  });

  it('a token whose task ended some other way (no revocation announced) is rejected from the next sync of the live records', async () => {
    const granted = await grant(['echo:*']);
    await gw().tokens.records.loaded(); // its record is held since its grant committed
    await gw().sql`update tasks set status = 'failed' where id = ${granted.task.id}`;
    // Until the sync (every 5 s) re-reads the held records, the one held is trusted: no process
    // ends a task without revoking its tokens, so this path is only the bound of a lost message.
    await expect(verify(granted.mcp.token)).resolves.toMatchObject({ taskId: granted.task.id });
    await gw().tokens.records.sync();
    await rejected(granted.mcp.token, 'the task of this token has ended');
  });

  it(`revocation reaches a second token service on the same database (${usingPostgres ? 'LISTEN/NOTIFY' : 'in-process bus'}) within 1 s`, async () => {
    const log = createLogger('silent');
    const bus = usingPostgres ? undefined : new InProcessBus();
    const make = () =>
      TokenService.start({
        sql: gw().sql,
        masterKey: MASTER_KEY,
        bus: bus ?? new PostgresBus(gw().sql, log),
        log,
        issuer: () => gw().url,
      });
    const [a, b] = await Promise.all([make(), make()]);
    try {
      const granted = await grant(['echo:*']);
      await b.verify(granted.mcp.token, `${gw().url}/mcp`); // cached in b
      const revokedAt = Date.now();
      await finishTask(
        { sql: gw().sql, tokens: a },
        granted.task.id,
        { status: 'cancelled' },
        { actor: 'test' },
      );
      // b never queries the database for a cached token: only the bus message can clear it.
      await expect
        .poll(
          () =>
            b.verify(granted.mcp.token, `${gw().url}/mcp`).then(
              () => 'accepted',
              (e: Error) => e.message,
            ),
          {
            timeout: 1_000,
            interval: 20,
          },
        )
        .toBe('the token has been revoked');
      expect(Date.now() - revokedAt).toBeLessThan(1_000);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('rotation publishes the next key first, then signs with it; old tokens keep verifying', async () => {
    const before = await grant(['echo:*']);
    const oldKid = gw().tokens.jwks().keys.at(-1)!.kid;
    // Published 10 minutes ahead: in JWKS now, not signing yet.
    const next = await rotateSigningKey(gw().sql, MASTER_KEY, {
      overlapMs: 600_000,
      maxTokenTtlMs: 7_200_000,
      actor: { actor: 'test' },
    });
    await gw().tokens.refreshKeys();
    const jwks = (await (await fetch(`${gw().url}/.well-known/jwks.json`)).json()) as {
      keys: Array<Record<string, unknown>>;
    };
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, next.kid]));
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      expect(key).not.toHaveProperty('d'); // never the private half
    }
    const during = await grant(['echo:*']);
    expect(kidOf(during.mcp.token)).toBe(oldKid);
    // An immediate rotation: the new key signs at once.
    const now = await rotateSigningKey(gw().sql, MASTER_KEY, {
      overlapMs: 0,
      maxTokenTtlMs: 7_200_000,
      actor: { actor: 'test' },
    });
    await gw().tokens.refreshKeys();
    const after = await grant(['echo:*']);
    expect(kidOf(after.mcp.token)).toBe(now.kid);
    for (const g of [before, during, after])
      await expect(verify(g.mcp.token)).resolves.toMatchObject({ taskId: g.task.id });
  });

  it('validates the grant request: scope patterns, ttl within the policy, external only', async () => {
    const cases: Array<[unknown, string]> = [
      [
        { external: true, scope: ['github'] },
        'invalid task: scope[0]: expected integration:tool, either side may be * (github:get_pr, github:*, *:*)',
      ],
      [
        { external: true, scope: [] },
        'invalid task: scope: expected at least one scope pattern, e.g. "github:*"',
      ],
      [
        { external: true, scope: ['echo:*'], ttl: '3h' },
        "invalid task: ttl: found 3h, expected at most the policy's maxTtl (2h)",
      ],
      [
        { external: true, scope: ['echo:*'], ttl: 'soon' },
        'invalid task: ttl: found "soon", expected a duration such as 15m or 1h30m',
      ],
      [
        // Without `external` the body is a queued task (issue 5), which needs a prompt.
        { scope: ['echo:*'] },
        'invalid task: prompt: expected the task prompt as a string',
      ],
    ];
    for (const [body, message] of cases) {
      const res = await api('/tasks', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe(message);
    }
    const missing = await api('/tasks/not-a-uuid/complete', {});
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({
      error: { code: 'not_found', message: 'no task "not-a-uuid"' },
    });
  });

  it('records the grant and the end in the audit log and the task events, never the token', async () => {
    const granted = await grant(['echo:*']);
    await api(`/tasks/${granted.task.id}/cancel`, { reason: 'operator stopped it' });
    const audit = await gw().sql<{ action: string; details: Record<string, unknown> }[]>`
      select action, details from audit_log where target = ${granted.task.id} order by id`;
    expect(audit.map((a) => a.action)).toEqual(['tasks.grant', 'tasks.cancel']);
    const events = await gw().sql<{ type: string }[]>`
      select type from task_events where task_id = ${granted.task.id} order by seq`;
    expect(events.map((e) => e.type)).toEqual(['task:running', 'task:cancelled']);
    expect(JSON.stringify(audit)).not.toContain(granted.mcp.token.split('.')[2]);
  });
});

describe('emergency retirement of a signing key (retire.ts)', () => {
  const db = useMigratedDatabase();

  it('an emergency retirement always leaves a key signing: a waiting successor starts at once; retiring the successor keeps the current key', async () => {
    const sql = db().sql;
    const log = createLogger('silent');
    const deps = { sql, masterKey: MASTER_KEY, bus: new InProcessBus(), log };
    const tokens = await TokenService.start({ ...deps, issuer: () => 'http://127.0.0.1:1' });
    onTestFinished(() => tokens.close());
    const actor = { actor: 'test' };
    const signingNow = async () => {
      const rows = await sql<{ kid: string; retiredAt: Date | null }[]>`
        select kid, retired_at as "retiredAt" from signing_keys
         where signs_from <= now() and (retired_at is null or retired_at > now())
         order by signs_from desc`;
      return rows[0];
    };
    const current = (await signingNow())!.kid;
    // A rotation waits 10 minutes; the current key is retired now: its successor signs at once.
    const next = await rotateSigningKey(sql, MASTER_KEY, {
      overlapMs: 600_000,
      maxTokenTtlMs: 7_200_000,
      actor,
    });
    const first = await retireSigningKey(deps, current, actor);
    expect(first).toMatchObject({ kid: current, signingKid: next.kid, created: false });
    expect(await signingNow()).toEqual({ kid: next.kid, retiredAt: null });
    // Another rotation waits; its successor is retired: the current key signs on, indefinitely.
    const doomed = await rotateSigningKey(sql, MASTER_KEY, {
      overlapMs: 600_000,
      maxTokenTtlMs: 7_200_000,
      actor,
    });
    const second = await retireSigningKey(deps, doomed.kid, actor);
    expect(second).toMatchObject({ kid: doomed.kid, signingKid: next.kid, revokedTokens: 0 });
    expect(await signingNow()).toEqual({ kid: next.kid, retiredAt: null });
    await tokens.refreshKeys();
    const task = await insertExternalTask(sql, { scope: ['echo:*'], prompt: '', sessionId: null });
    const minted = await tokens.mint({
      taskId: task.id,
      sessionId: null,
      scope: ['echo:*'],
      audience: 'http://127.0.0.1:1/mcp',
      ttlMs: 60_000,
    });
    expect(kidOf(minted.token)).toBe(next.kid);
    expect(tokens.jwks().keys.map((k) => k.kid)).not.toContain(current);
    await expect(retireSigningKey(deps, current, actor)).rejects.toMatchObject({
      status: 404,
      message: `no signing key "${current}" that still verifies tokens`,
    });
    // With no key signing or waiting (both retired), a new one is made.
    const last = await retireSigningKey(deps, next.kid, actor);
    expect(last).toMatchObject({ kid: next.kid, created: true, revokedTokens: 1, tasks: 1 });
    expect(await signingNow()).toEqual({ kid: last.signingKid, retiredAt: null });
  });
});

function kidOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string })
    .kid;
}
