/**
 * POST /api/v1/integrations/:name/webhooks/:endpoint/sign (switchboard webhook send) is a
 * signing oracle: whoever calls it can have any body accepted as a delivery. Only a key that
 * could set the secret itself (integrations:write) may call it; never an integration's own
 * process key, not even with `*` in its row; the secret never appears in an answer; every
 * signing is audited; the body is bounded.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { provisionIntegrationKey } from '../../gateway/src/keys/integration-key.ts';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/webhooks');
const SECRETS = [
  'test-github-secret',
  'test-slack-secret',
  'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
];

describe('webhook signing route', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: path.join(FIXTURES, 'policy.yaml'),
  });
  const call = async (key: string, route: string, body: unknown) => {
    const res = await fetch(`${gw().url}/api/v1${route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, text, json: JSON.parse(text) };
  };
  const sign = (key: string, endpoint = 'github', body: unknown = { body: '{}' }) =>
    call(key, `/integrations/hooks/webhooks/${endpoint}/sign`, body);
  const keyWith = async (scopes: string[]) =>
    (await call(ADMIN_KEY, '/keys', { name: `k-${scopes.join('-')}`, scopes })).json.key as string;

  it('needs integrations:write; read-only and delivery keys are refused', async () => {
    for (const scopes of [['integrations:read'], ['deliveries:write', 'deliveries:read']]) {
      const answer = await sign(await keyWith(scopes));
      expect(answer.status, scopes.join()).toBe(403);
    }
    const writer = await sign(await keyWith(['integrations:write']));
    expect(writer.status).toBe(200);
    expect(Object.keys(writer.json.headers).sort()).toEqual([
      'x-github-delivery',
      'x-hub-signature-256',
    ]);
  });

  it("an integration's process key is refused, even with * in its row", async () => {
    const { key } = await provisionIntegrationKey(gw().sql, 'hooks');
    await gw().sql`update api_keys set scopes = ${['*']} where integration = 'hooks'`;
    const answer = await sign(key);
    expect(answer.status).toBe(403);
    expect(answer.json.error.message).toContain('process key cannot sign webhook requests');
  });

  it('never answers the secret, audits every signing, and bounds the body', async () => {
    const before = await gw().sql<{ n: number }[]>`
      select count(*)::int as n from audit_log where action = 'integrations.webhook-sign'`;
    for (const endpoint of ['standard', 'github', 'slack']) {
      const answer = await sign(ADMIN_KEY, endpoint, { body: '{"a":1}' });
      expect(answer.status).toBe(200);
      for (const secret of SECRETS) expect(answer.text).not.toContain(secret);
    }
    const after = await gw().sql<{ n: number; target: string; details: { bytes: number } }[]>`
      select count(*) over ()::int as n, target, details from audit_log
       where action = 'integrations.webhook-sign' order by id desc limit 1`;
    expect(after[0]!.n).toBe(before[0]!.n + 3);
    expect(after[0]).toMatchObject({ target: 'hooks/slack', details: { bytes: 7 } });
    const big = await sign(ADMIN_KEY, 'github', { body: 'x'.repeat(1_000_001) });
    expect(big.status).toBe(400);
    expect(big.json.error.message).toContain('at most 1000000 characters');
    const wrongShape = await sign(ADMIN_KEY, 'github', { body: '{}', secret: 'mine' });
    expect(wrongShape.status).toBe(400);
  });

  it("another integration's endpoint or an unknown one is 404 naming what exists", async () => {
    const unknown = await call(ADMIN_KEY, '/integrations/nope/webhooks/events/sign', {
      body: '{}',
    });
    expect(unknown.status).toBe(404);
    const endpoint = await sign(ADMIN_KEY, '..%2Fsecrets');
    expect(endpoint.status).toBe(404);
    expect(endpoint.json.error.message).toContain(
      'its webhooks: standard, github, slack, open, sync, small',
    );
  });
});
