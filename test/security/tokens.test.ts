import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { type EventBus, InProcessBus, PostgresBus } from '../../gateway/src/db/bus.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { claimTasks, enqueueTask } from '../../gateway/src/tasks/queue.ts';
import { retireSigningKey } from '../../gateway/src/tokens/retire.ts';
import { TokenService } from '../../gateway/src/tokens/service.ts';
import { loadSigningKeys } from '../../gateway/src/tokens/signing-keys.ts';
import { usingPostgres } from '../helpers/database.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { githubHeaders } from '../helpers/webhooks.ts';

// Attacks on per-task tokens: a token wider than the operator's profile allows, a trigger that
// asks for more tools than its profile has, a validly signed token that claims more than was
// recorded for its jti (a leaked signing key), and the tokens of a signing key retired in an
// emergency.
const MASTER_KEY = Buffer.from('5a'.repeat(32), 'hex');

const INTEGRATION_DIRS = ['test/fixtures/webhooks', 'test/fixtures/integrations']
  .map((d) => path.join(REPO_ROOT, d))
  .join(':');
const GITHUB_SECRET = 'test-github-secret';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-token-attacks-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** One tool: `narrow` may call echo's report_env and nothing else. Its runner is held. */
const POLICY = path.join(tmp, 'policy.yaml');
fs.writeFileSync(
  POLICY,
  `apiVersion: switchboard/policy/v1
integrations:
  echo: { enabled: true }
  hooks:
    enabled: true
    grants: [webhooks, sessions.write]
    webhooks: { unsigned: true }    # its manifest has a scheme-none endpoint; this test signs
    profile: narrow
    settings:
      STANDARD_SECRET: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
      GITHUB_SECRET: ${GITHUB_SECRET}
      SLACK_SECRET: test-slack-secret
tokens: { defaultTtl: 15m, maxTtl: 2h }
profiles:
  narrow:
    runner: { driver: process, command: "true", args: ["{held_for_the_token_attacks}"] }
    tools: ["echo:report_env"]
`,
);

type Json = Record<string, unknown>;

describe('a task’s tokens never exceed its profile', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS, SWITCHBOARD_POLICY: POLICY });
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };
  const config = (id: string) => api('POST', `/tasks/${id}/config`, { format: 'json' });

  async function claimed(): Promise<string[]> {
    const tasks = await claimTasks(gw().sql, {
      profile: 'narrow',
      owner: 'attacker-test',
      leaseMs: 60_000,
      concurrency: 100,
      limit: 100,
    });
    return tasks.map((t) => t.id);
  }

  /** Every token of a config answer, by variable, with its scope claim. */
  function scopes(env: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(env)) {
      if (name.startsWith('SWITCHBOARD_TOKEN')) out[name] = String(decodeJwt(value).scope);
    }
    return out;
  }

  it('the config of a one-tool task stored with *:* holds no token wider than that tool', async () => {
    // Stored wide: as a trigger stored it before this fix, or under a policy since narrowed.
    const { task } = await enqueueTask(gw().sql, {
      prompt: 'p',
      profile: 'narrow',
      scope: ['*:*'],
    });
    expect(await claimed()).toContain(task.id);
    const answer = await config(task.id);
    expect(answer.status, JSON.stringify(answer.json)).toBe(200);
    const env = answer.json.env as Record<string, string>;
    expect(scopes(env)).toEqual({
      SWITCHBOARD_TOKEN: 'echo:report_env',
      SWITCHBOARD_TOKEN_ECHO: 'echo:report_env',
      SWITCHBOARD_TOKEN_SWITCHBOARD: 'switchboard:*',
    });
    // What the MCP endpoints enforce is the verified grant: the same narrow scope.
    const grant = await gw().tokens.verify(env.SWITCHBOARD_TOKEN!, `${gw().url}/mcp`);
    expect(grant.scope).toEqual(['echo:report_env']);
    // No endpoint of an integration outside the profile (hooks) is in the bundle.
    expect(Object.keys(JSON.parse(answer.json.content as string).servers)).toEqual([
      'switchboard',
      'echo',
    ]);
  });

  it('a trigger asking for *:* under the one-tool profile gets that one tool', async () => {
    const post = async (triggers: unknown[]) => {
      const id = randomUUID();
      const body = JSON.stringify({ triggers });
      const res = await fetch(`${gw().url}/hooks/hooks/github`, {
        method: 'POST',
        headers: githubHeaders(GITHUB_SECRET, body, id),
        body,
      });
      expect(res.status, await res.clone().text()).toBe(202);
      for (let i = 0; i < 300; i++) {
        const [row] = await gw().sql<{ id: string; status: string; error: string | null }[]>`
          select id::text, status, error from webhook_deliveries where delivery_id = ${id}`;
        if (row && ['done', 'failed', 'ignored'].includes(row.status)) return row;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`delivery ${id} did not settle`);
    };
    const trigger = (key: string, tools: string[]) => ({
      session: { key, dispatch: { type: 'none' } },
      message: `wants ${tools.join(' ')}`,
      execution: { tools },
    });
    const wide = await post([
      trigger('hooks:everything', ['*:*']),
      trigger('hooks:mixed', ['echo:report_env', 'hooks:*', 'echo:shout']),
      trigger('hooks:integration', ['echo:*']),
    ]);
    expect(wide.status, wide.error ?? '').toBe('done');
    const rows = await gw().sql<{ key: string; scope: string[] }[]>`
      select s.key, t.scope from tasks t join sessions s on s.id = t.session_id
       where t.delivery_id = ${wide.id} order by s.key`;
    expect(rows).toEqual([
      { key: 'hooks:everything', scope: ['echo:report_env'] },
      { key: 'hooks:integration', scope: ['echo:report_env'] },
      { key: 'hooks:mixed', scope: ['echo:report_env'] },
    ]);
    // Nothing in common with the profile: refused, not widened to the profile's tools.
    const disjoint = await post([trigger('hooks:other', ['hooks:*'])]);
    expect(disjoint.status).toBe('failed');
    expect(disjoint.error).toContain(
      'triggers[0].execution.tools ["hooks:*"] has nothing in common with the tools of profile narrow (echo:report_env)',
    );
    const [{ n }] = (await gw().sql`
      select count(*)::int as n from tasks where delivery_id = ${disjoint.id}`) as unknown as [
      { n: number },
    ];
    expect(n).toBe(0);
  });
});

describe('a token is what its record says, and dies with its signing key', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS, SWITCHBOARD_POLICY: POLICY });
  const grant = async (scope: string[]) => {
    const res = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external: true, scope, ttl: '15m' }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as {
      task: { id: string };
      mcp: { url: string; token: string };
      integrations: Array<{ name: string; url: string; token: string }>;
    };
  };

  /** Re-signs a real token's claims, changed, with the gateway's real key (a leaked key). */
  async function resign(token: string, change: Record<string, unknown>): Promise<string> {
    const claims = { ...decodeJwt(token), ...change };
    const { kid } = decodeProtectedHeader(token);
    const key = (await loadSigningKeys(gw().sql, MASTER_KEY)).find((k) => k.kid === kid)!;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: key.kid })
      .sign(key.privateKey);
  }

  it('a validly signed token with a recorded jti but a wider scope is refused', async () => {
    const granted = await grant(['echo:report_env']);
    const wider = await resign(granted.mcp.token, { scope: '*:*' });
    await expect(gw().tokens.verify(wider, `${gw().url}/mcp`)).rejects.toMatchObject({
      code: 'invalid_token',
      status: 401,
      message: 'the token does not match its record',
    });
    // The genuine token still verifies, with its recorded scope.
    const genuine = await gw().tokens.verify(granted.mcp.token, `${gw().url}/mcp`);
    expect(genuine.scope).toEqual(['echo:report_env']);
  });

  it('a validly signed token moved to another audience under a recorded jti is refused', async () => {
    const granted = await grant(['echo:*']);
    const echoUrl = `${gw().url}/mcp/echo`;
    // The /mcp token re-aimed at /mcp/echo (and the echo token at /mcp).
    const moved = await resign(granted.mcp.token, { aud: echoUrl });
    await expect(gw().tokens.verify(moved, echoUrl)).rejects.toMatchObject({
      code: 'invalid_token',
      message: 'the token does not match its record',
    });
    const echo = granted.integrations.find((i) => i.name === 'echo')!;
    const back = await resign(echo.token, { aud: `${gw().url}/mcp` });
    await expect(gw().tokens.verify(back, `${gw().url}/mcp`)).rejects.toMatchObject({
      message: 'the token does not match its record',
    });
    await expect(gw().tokens.verify(echo.token, echoUrl)).resolves.toMatchObject({
      scope: ['echo:*'],
    });
  });

  it(`retire-signing: the key's tokens stop verifying at once in every process (${usingPostgres ? 'LISTEN/NOTIFY' : 'in-process bus'}); new tokens use another key`, async () => {
    const log = createLogger('silent');
    const shared = usingPostgres ? undefined : new InProcessBus();
    const busFor = (): EventBus => shared ?? new PostgresBus(gw().sql, log);
    const make = () =>
      TokenService.start({
        sql: gw().sql,
        masterKey: MASTER_KEY,
        bus: busFor(),
        log,
        issuer: () => gw().url,
      });
    const other = await make();
    try {
      const granted = await grant(['echo:*']);
      const kid = decodeProtectedHeader(granted.mcp.token).kid as string;
      // Verified, so cached in the other process: only the bus can clear it in time.
      await other.verify(granted.mcp.token, `${gw().url}/mcp`);
      expect(other.jwks().keys.map((k) => k.kid)).toContain(kid);
      const retired = await retireSigningKey(
        { sql: gw().sql, masterKey: MASTER_KEY, bus: busFor(), log },
        kid,
        { actor: 'test:security' },
      );
      expect(retired).toMatchObject({ kid, revokedTokens: expect.any(Number), announced: true });
      expect(retired.revokedTokens).toBeGreaterThanOrEqual(2); // /mcp and /mcp/echo at least
      expect(retired.signingKid).not.toBe(kid);
      await expect
        .poll(
          () =>
            other.verify(granted.mcp.token, `${gw().url}/mcp`).then(
              () => 'accepted',
              (e: Error) => e.message,
            ),
          { timeout: 1_000, interval: 20 },
        )
        .toBe('the token was signed by an unknown key');
      expect(other.jwks().keys.map((k) => k.kid)).not.toContain(kid);
      // A process that never saw the token refuses it too (the database says so).
      const fresh = await make();
      try {
        await expect(fresh.verify(granted.mcp.token, `${gw().url}/mcp`)).rejects.toMatchObject({
          code: 'invalid_token',
          message: 'the token was signed by an unknown key',
        });
        // And were the key still loaded somewhere, its tokens are revoked in the database.
        const [row] = await gw().sql<{ live: number }[]>`
          select count(*)::int as live from tokens where kid = ${kid} and revoked_at is null`;
        expect(row!.live).toBe(0);
        expect(fresh.jwks().keys.map((k) => k.kid)).not.toContain(kid);
      } finally {
        await fresh.close();
      }
      // The gateway keeps granting, with another key.
      await gw().tokens.refreshKeys();
      const after = await grant(['echo:*']);
      expect(decodeProtectedHeader(after.mcp.token).kid).toBe(retired.signingKid);
      await expect(gw().tokens.verify(after.mcp.token, `${gw().url}/mcp`)).resolves.toMatchObject({
        taskId: after.task.id,
      });
      const [audit] = await gw().sql<{ actor: string; details: Record<string, unknown> }[]>`
        select actor, details from audit_log
         where action = 'signing_keys.retire' and target = ${kid}`;
      expect(audit).toMatchObject({
        actor: 'test:security',
        details: { revokedTokens: retired.revokedTokens, signingKid: retired.signingKid },
      });
    } finally {
      await other.close();
    }
  });
});
