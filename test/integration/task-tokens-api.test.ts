import path from 'node:path';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';

// GET /api/v1/tasks/:id/tokens (issue 16, the console's task page): a task's tokens as metadata
// — audience, scope, expiry, revoked — and never a token's value, which is answered once at issue.
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');
const POLICY = path.join(REPO_ROOT, 'test/fixtures/tasks-api/policy.yaml');

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
type Json = Record<string, any>;

describe('GET /api/v1/tasks/:id/tokens', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS: FIXTURES, SWITCHBOARD_POLICY: POLICY });
  const api = async (method: string, route: string, body?: unknown, key = ADMIN_KEY) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };

  it('GET /tasks?external=true lists external tasks only (the Access page), false the others', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const granted = await api('POST', '/tasks', { external: true, scope: ['echo:*'] });
      expect(granted.status).toBe(201);
      ids.push(granted.json.task.id);
    }
    const external = await api('GET', '/tasks?external=true&status=running&limit=500');
    expect(external.status).toBe(200);
    expect(external.json.tasks.every((t: Json) => t.external === true)).toBe(true);
    for (const id of ids) expect(external.json.tasks.map((t: Json) => t.id)).toContain(id);
    const queued = await api('GET', '/tasks?external=false&limit=500');
    expect(queued.json.tasks.some((t: Json) => ids.includes(t.id))).toBe(false);
    const bad = await api('GET', '/tasks?external=maybe');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('expected true or false');
  });

  it('lists at most 1,000 tokens of a task, the oldest first', async () => {
    const granted = await api('POST', '/tasks', { external: true, scope: ['echo:*'] });
    const id = granted.json.task.id as string;
    await gw().sql`
      insert into tokens (jti, task_id, kid, audience, scope, issued_at, expires_at)
      select gen_random_uuid(), ${id}, t.kid, t.audience, t.scope,
             now() + g * interval '1 second', now() + interval '1 hour'
        from generate_series(1, 1200) g,
             (select kid, audience, scope from tokens where task_id = ${id} limit 1) t`;
    const listed = await api('GET', `/tasks/${id}/tokens`);
    expect(listed.status).toBe(200);
    expect(listed.json.tokens).toHaveLength(1000);
    const issued = listed.json.tokens.map((t: Json) => new Date(t.issuedAt).getTime());
    expect(issued).toEqual([...issued].sort((a, b) => a - b));
  });

  it('lists the tokens of an external task without their values; cancelling shows them revoked', async () => {
    const granted = await api('POST', '/tasks', { external: true, scope: ['echo:*'] });
    expect(granted.status, JSON.stringify(granted.json)).toBe(201);
    const id = granted.json.task.id as string;
    const issued = [
      granted.json.mcp.token as string,
      ...(granted.json.integrations as Array<{ token: string }>).map((i) => i.token),
    ];
    expect(issued.length).toBeGreaterThanOrEqual(2);

    const res = await fetch(`${gw().url}/api/v1/tasks/${id}/tokens`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const token of issued) {
      expect(text).not.toContain(token);
      // Not even the signature part of one.
      expect(text).not.toContain(token.split('.')[2]!);
    }
    const { tokens } = JSON.parse(text) as Json;
    expect(tokens).toHaveLength(issued.length);
    const jtis = issued.map((t) => decodeJwt(t).jti).sort();
    expect(tokens.map((t: Json) => t.jti).sort()).toEqual(jtis);
    const mcp = tokens.find((t: Json) => t.audience.endsWith('/mcp'));
    expect(mcp).toMatchObject({ scope: ['echo:*'], revokedAt: null });
    expect(Object.keys(mcp).sort()).toEqual(
      ['audience', 'expiresAt', 'issuedAt', 'jti', 'kid', 'revokedAt', 'scope'].sort(),
    );
    expect(new Date(mcp.expiresAt).getTime()).toBeGreaterThan(Date.now());
    expect(tokens.some((t: Json) => t.audience.endsWith('/mcp/echo'))).toBe(true);

    expect((await api('POST', `/tasks/${id}/cancel`, {})).status).toBe(200);
    const after = await api('GET', `/tasks/${id}/tokens`);
    expect(after.json.tokens).toHaveLength(issued.length);
    for (const t of after.json.tokens) expect(t.revokedAt).toEqual(expect.any(String));
  });

  it('a queued task not yet run has none; an unknown task is 404; it needs tasks:read', async () => {
    const queued = await api('POST', '/tasks', { prompt: 'x', profile: 'scripted' });
    expect(queued.status).toBe(201);
    expect((await api('GET', `/tasks/${queued.json.task.id}/tokens`)).json).toEqual({
      tokens: [],
    });
    const missing = await api('GET', '/tasks/00000000-0000-4000-8000-000000000000/tokens');
    expect(missing.status).toBe(404);
    const key = await api('POST', '/keys', { name: 'sessions only', scopes: ['sessions:read'] });
    expect(key.status).toBe(201);
    const refused = await api(
      'GET',
      `/tasks/${queued.json.task.id}/tokens`,
      undefined,
      key.json.key,
    );
    expect(refused.status).toBe(403);
  });
});
