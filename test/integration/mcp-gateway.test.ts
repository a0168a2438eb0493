import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';

// The whole path of issue 4 in the real gateway: an operator grants a task, an agent calls a tool
// through /mcp with the token, the call is recorded (task:tool_use event, Prometheus), and once
// the task ends the same token is refused.
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');

interface Granted {
  task: { id: string };
  mcp: { url: string; token: string };
}

describe('MCP through the gateway', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: path.join(FIXTURES, 'policy.yaml'),
  });

  const api = (route: string, body: unknown) =>
    fetch(`${gw().url}/api/v1${route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  async function connect(granted: Granted): Promise<Client> {
    const client = new Client({ name: 'mcp-gateway-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(granted.mcp.url), {
        requestInit: { headers: { authorization: `Bearer ${granted.mcp.token}` } },
      }),
    );
    return client;
  }

  it('a granted agent calls a tool; the call is an event and a metric; the ended task’s token is refused', async () => {
    const granted = (await (
      await api('/tasks', { external: true, scope: ['echo:shout'] })
    ).json()) as Granted;
    const client = await connect(granted);
    try {
      // Only the granted tool is visible, under its aggregate name.
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['echo__shout']);
      const result = await client.callTool({ name: 'echo__shout', arguments: { chars: 3 } });
      expect(result.content).toEqual([{ type: 'text', text: 'done' }]);
    } finally {
      await client.close();
    }

    await expect
      .poll(
        async () =>
          gw().sql<{ type: string; data: Record<string, unknown> }[]>`
            select type, data from task_events
             where task_id = ${granted.task.id} and type = 'task:tool_use'`,
        { timeout: 5_000 },
      )
      .toEqual([
        {
          type: 'task:tool_use',
          data: {
            integration: 'echo',
            tool: 'shout',
            ok: true,
            durationMs: expect.any(Number),
            startedAt: expect.any(String),
            tokenId: expect.any(String),
          },
        },
      ]);
    const metrics = await (await fetch(`${gw().url}/metrics`)).text();
    expect(metrics).toMatch(
      /^switchboard_tool_calls_total\{integration="echo",tool="shout",outcome="ok"\} 1$/m,
    );
    expect(metrics).toMatch(
      /^switchboard_tool_call_duration_seconds_count\{integration="echo"\} 1$/m,
    );

    expect((await api(`/tasks/${granted.task.id}/complete`, {})).status).toBe(200);
    const after = await fetch(granted.mcp.url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${granted.mcp.token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(after.status).toBe(401);
    expect(await after.json()).toMatchObject({
      error: { code: 'invalid_token', message: 'the token has been revoked' },
    });
  });
});
