import path from 'node:path';
import { gatewayTokenVerifier } from '@switchboard/sdk';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';

// No token passthrough (issue 4): an HTTP upstream receives a token of its own (aud = the
// integration, sub = the task, scope = the tools called) and checks it with the sdk against the
// gateway's JWKS; the agent's token is never valid there.
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');

describe('sdk gatewayTokenVerifier', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: path.join(FIXTURES, 'policy.yaml'),
  });

  async function grant() {
    const res = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external: true, scope: ['echo:*'] }),
    });
    const body = (await res.json()) as { task: { id: string }; mcp: { token: string } };
    const g = await gw().tokens.verify(body.mcp.token, `${gw().url}/mcp`);
    return { grant: g, agentToken: body.mcp.token };
  }

  const request = (token?: string) =>
    new Request(
      'http://127.0.0.1/mcp',
      token ? { headers: { authorization: `Bearer ${token}` } } : {},
    );

  it('accepts the upstream token minted for this integration, with the task and the tools', async () => {
    const { grant: g } = await grant();
    const verify = gatewayTokenVerifier({ gatewayUrl: gw().url, integration: 'echo' });
    const token = await gw().tokens.mintUpstream('echo', g, ['report_env']);
    await expect(verify(request(token))).resolves.toEqual({
      caller: 'task',
      taskId: g.taskId,
      sessionId: undefined,
      scope: ['echo:report_env'],
      expiresAt: expect.any(Number),
    });
    // node:http's IncomingMessage shape works too.
    await expect(verify({ headers: { authorization: `Bearer ${token}` } })).resolves.toMatchObject({
      taskId: g.taskId,
    });
  });

  it("refuses another integration's token, the agent's own token, and no token", async () => {
    const { grant: g, agentToken } = await grant();
    const verify = gatewayTokenVerifier({ gatewayUrl: gw().url, integration: 'echo' });
    const forChat = await gw().tokens.mintUpstream('chat', g, ['post_message']);
    await expect(verify(request(forChat))).rejects.toMatchObject({
      status: 401,
      message: 'token aud is not valid here',
    });
    await expect(verify(request(agentToken))).rejects.toMatchObject({
      message: 'token aud is not valid here',
    });
    await expect(verify(request())).rejects.toMatchObject({ message: 'missing bearer token' });
  });

  it("accepts the gateway's own token (caller gateway, every tool), which is no agent token", async () => {
    const verify = gatewayTokenVerifier({ gatewayUrl: gw().url, integration: 'echo' });
    const token = await gw().tokens.mintGateway('echo');
    await expect(verify(request(token))).resolves.toEqual({
      caller: 'gateway',
      taskId: undefined,
      sessionId: undefined,
      scope: ['echo:*'],
      expiresAt: expect.any(Number),
    });
    await expect(gw().tokens.verify(token, `${gw().url}/mcp`)).rejects.toMatchObject({
      code: 'invalid_token',
    });
  });

  it('fails at construction, not at the first request, without the gateway URL', () => {
    expect(() => gatewayTokenVerifier({}, {})).toThrow(
      /set SWITCHBOARD_URL and SWITCHBOARD_INTEGRATION/,
    );
  });
});
