import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requestApproval } from '../../gateway/src/approvals/requests.ts';
import { provisionIntegrationKey } from '../../gateway/src/keys/integration-key.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';

// Deciding approvals (issue 15 point 5) against whoever should not: operator keys without
// approvals:write (or approvals:read), a keys:write key minting approvals:write, an integration's
// process key (even with `*` written into its row: integration code must not approve the calls
// of the agents it serves), the task's own tokens (no API keys), ids and reasons that are not
// what the routes take (400 or 404, never a 500), a body trying to set more than a reason, and
// 20 operators approving one request at once (exactly one wins, one audit row, one event).
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');
const POLICY = path.join(REPO_ROOT, 'test/fixtures/tasks-api/policy.yaml');
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; the API validates them
type Json = Record<string, any>;

describe('approvals API under attack', () => {
  const gw = useTestGateway({ INTEGRATION_DIRS: FIXTURES, SWITCHBOARD_POLICY: POLICY });
  const call = async (key: string, method: string, route: string, body?: unknown) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };
  const admin = (method: string, route: string, body?: unknown) =>
    call(ADMIN_KEY, method, route, body);
  const keyWith = async (...scopes: string[]) => {
    const created = await admin('POST', '/keys', { name: `probe-${scopes.join('-')}`, scopes });
    expect(created.status).toBe(201);
    return created.json.key as string;
  };
  let taskTokens: string[] = [];
  let taskId = '';
  let hash = 0;
  const ask = async (): Promise<string> => {
    hash += 1;
    const outcome = await requestApproval(
      { sql: gw().sql, publish: gw().publishTaskEvents },
      {
        key: { taskId, integration: 'echo', tool: 'echo', argumentsHash: `sha256:${hash}` },
        rule: { name: 'held', timeoutMs: 600_000 },
        arguments: { n: hash },
        announceTypes: [],
      },
    );
    if (outcome.kind !== 'waiting') throw new Error(`expected a new request, got ${outcome.kind}`);
    return outcome.row.id;
  };
  const routesFor = (id: string) =>
    [
      ['GET', '/approvals', undefined],
      ['GET', `/approvals/${id}`, undefined],
      ['POST', `/approvals/${id}/approve`, { reason: 'let me' }],
      ['POST', `/approvals/${id}/deny`, { reason: 'let me' }],
    ] as const;
  const statusOf = async (id: string) =>
    (await admin('GET', `/approvals/${id}`)).json.approval.status as string;
  const decisions = async () => {
    const [row] = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from audit_log where action like 'approval.%'`;
    return row!.n;
  };

  beforeAll(async () => {
    const granted = await admin('POST', '/tasks', { external: true, scope: ['echo:*'] });
    expect(granted.status).toBe(201);
    taskId = granted.json.task.id;
    taskTokens = [
      granted.json.mcp.token,
      ...granted.json.integrations.map((i: Json) => i.token as string),
    ];
    expect(taskTokens.length).toBeGreaterThanOrEqual(2);
  });

  it('operator keys need approvals:read to list and approvals:write to decide; keys:write cannot mint it', async () => {
    const id = await ask();
    const none = await keyWith('tasks:*', 'sessions:*');
    for (const [method, route, body] of routesFor(id)) {
      const answer = await call(none, method, route, body);
      expect(answer.status, `${method} ${route}`).toBe(403);
      expect(answer.json.error).toMatchObject({
        code: 'forbidden',
        requiredScope: method === 'GET' ? 'approvals:read' : 'approvals:write',
      });
    }
    const reader = await keyWith('approvals:read');
    expect((await call(reader, 'GET', '/approvals')).status).toBe(200);
    expect((await call(reader, 'GET', `/approvals/${id}`)).status).toBe(200);
    for (const [method, route, body] of routesFor(id).slice(2)) {
      const answer = await call(reader, method, route, body);
      expect(answer.status).toBe(403);
      expect(answer.json.error.requiredScope).toBe('approvals:write');
    }
    const minter = await keyWith('keys:write', 'approvals:read');
    const minted = await call(minter, 'POST', '/keys', {
      name: 'escalate',
      scopes: ['approvals:write'],
    });
    expect(minted.status).toBe(403);
    expect(await statusOf(id)).toBe('pending');
    expect(await decisions()).toBe(0);
  });

  it("an integration's process key can neither list nor decide, even with * in its row", async () => {
    const id = await ask();
    const { key } = await provisionIntegrationKey(gw().sql, 'echo');
    for (const [method, route, body] of routesFor(id)) {
      expect((await call(key, method, route, body)).status, `${method} ${route}`).toBe(403);
    }
    await gw().sql`update api_keys set scopes = ${['*']} where integration = 'echo'`;
    for (const [method, route, body] of routesFor(id)) {
      const answer = await call(key, method, route, body);
      expect(answer.status, `${method} ${route}`).toBe(403);
      expect(answer.json.error.message).toBe(
        'this API key belongs to integration echo: approvals are listed and decided with operator keys only',
      );
    }
    expect(await statusOf(id)).toBe('pending');
    expect(await decisions()).toBe(0);
  });

  it("the task's own tokens are no API keys: 401 on every route", async () => {
    const id = await ask();
    for (const token of taskTokens) {
      for (const [method, route, body] of routesFor(id)) {
        const answer = await call(token, method, route, body);
        expect(answer.status, `${method} ${route}`).toBe(401);
        expect(answer.json.error.code).toBe('unauthorized');
      }
    }
    expect(await statusOf(id)).toBe('pending');
  });

  it('an unknown id is 404; a malformed id is 400 naming it, never a 500', async () => {
    for (const [method, route, body] of routesFor(UNKNOWN).slice(1)) {
      const answer = await admin(method, route, body);
      expect(answer.status, `${method} ${route}`).toBe(404);
      expect(answer.json.error).toMatchObject({
        code: 'not_found',
        message: `approval ${UNKNOWN} not found`,
      });
    }
    for (const bad of ['nope', '1', "x'%20or%20'1'='1", 'a'.repeat(300), '%00']) {
      for (const [method, route, body] of routesFor(bad).slice(1)) {
        const answer = await admin(method, route, body);
        expect(answer.status, `${method} ${route}`).toBe(400);
        expect(answer.json.error).toMatchObject({
          code: 'invalid_request',
          message: 'invalid approval id: expected an approval id (a UUID)',
        });
      }
    }
  });

  it('a reason over 1000 characters, with a NUL or an escape, or a body setting more than a reason is 400', async () => {
    const id = await ask();
    for (const verb of ['approve', 'deny']) {
      for (const body of [
        { reason: 'x'.repeat(1001) },
        { reason: 'fine\u0000' },
        { reason: '\u001b]0;pwned\u0007' },
        { reason: 'ok', status: 'approved' },
        { reason: 'ok', decidedBy: 'someone else' },
        ['reason'],
      ]) {
        const answer = await admin('POST', `/approvals/${id}/${verb}`, body);
        expect(answer.status, `${verb} ${JSON.stringify(body).slice(0, 60)}`).toBe(400);
        expect(answer.json.error.code).toBe('invalid_request');
      }
    }
    const query = await admin('GET', `/approvals?limit=501&status=pending`);
    expect(query.status).toBe(400);
    expect(await statusOf(id)).toBe('pending');
    const longest = await admin('POST', `/approvals/${id}/deny`, {
      reason: `line one\n\t${'y'.repeat(990)}`,
    });
    expect(longest.status).toBe(200);
    expect(longest.json.approval.reason).toHaveLength(1000);
  });

  it('20 operators approving one request at once: one wins, 19 get 409, one audit row, one event', async () => {
    const id = await ask();
    const before = await decisions();
    const keys = await Promise.all(
      Array.from({ length: 20 }, (_, i) => keyWith(`approvals:write`).then((k) => [k, i] as const)),
    );
    const answers = await Promise.all(
      keys.map(([key, i]) =>
        call(key, 'POST', `/approvals/${id}/${i % 2 === 0 ? 'approve' : 'deny'}`, {
          reason: `operator ${i}`,
        }),
      ),
    );
    const won = answers.filter((a) => a.status === 200);
    expect(won).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(19);
    for (const lost of answers.filter((a) => a.status === 409)) {
      expect(lost.json.error.code).toBe('approval_not_pending');
    }
    expect(await decisions()).toBe(before + 1);
    const events = await gw().sql`
      select 1 from task_events
       where task_id = ${taskId} and type = 'task:approval_decided' and data->>'approvalId' = ${id}`;
    expect(events).toHaveLength(1);
    expect(await statusOf(id)).toBe(won[0]!.json.approval.status);
  });
});
