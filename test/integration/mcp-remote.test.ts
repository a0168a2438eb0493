import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { freePort } from '../helpers/processes.ts';

// Issue 12 item 8: mcp-remote (npm, a stdio bridge with OAuth) as a real client. The gateway's
// RFC 9728 document named the gateway as authorization server, which serves no OAuth, so a
// missing or bad token started OAuth and ended in "Dynamic Client Registration rejected (HTTP
// 404)", hiding the cause. The client must see the real cause (401, invalid_token and why).
const MCP_REMOTE = path.join(REPO_ROOT, 'node_modules/mcp-remote/dist/proxy.js');
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-remote-home-'));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** mcp-remote as a child process; `stdin` lines are written, then stdin closes on `done`. */
async function mcpRemote(
  url: string,
  headers: string[],
  talk?: (send: (message: unknown) => void, lines: () => unknown[]) => Promise<void>,
): Promise<Run> {
  // Its OAuth callback server needs a port; a free one keeps parallel runs apart.
  const callbackPort = String(await freePort());
  const child = spawn(
    process.execPath,
    [MCP_REMOTE, url, callbackPort, ...headers.flatMap((h) => ['--header', h])],
    {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: home, MCP_REMOTE_CONFIG_DIR: path.join(home, 'auth') },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    if (talk) {
      await talk(
        (message) => child.stdin.write(`${JSON.stringify(message)}\n`),
        () =>
          stdout
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .map((l) => JSON.parse(l) as unknown),
      );
      child.stdin.end();
      child.kill('SIGTERM');
    }
    return { code: await exited, stdout, stderr };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

describe('mcp-remote, a real OAuth-capable MCP client', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: path.join(REPO_ROOT, 'test/fixtures/mcp-auth/policy.yaml'),
  });

  it('without a token: fails with 401 and says a bearer token is needed, not a DCR 404', async () => {
    const run = await mcpRemote(`${gw().url}/mcp`, []);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('HTTP 401');
    expect(run.stderr).toContain('no bearer token was sent');
    expect(run.stderr).not.toContain('HTTP 404');
  });

  it('with a bad token: fails with 401 invalid_token and the reason', async () => {
    const run = await mcpRemote(`${gw().url}/mcp/echo`, ['Authorization:Bearer not-a-token']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('HTTP 401');
    expect(run.stderr).toContain('"error":"invalid_token"');
    expect(run.stderr).toContain('the token is not a JWT');
    expect(run.stderr).not.toContain('HTTP 404');
  });

  it('with a token of another endpoint: says so', async () => {
    const granted = await grant();
    const run = await mcpRemote(`${gw().url}/mcp/echo`, [
      `Authorization:Bearer ${granted.mcp.token}`,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('"error":"invalid_token"');
    expect(run.stderr).toContain(`the token is for ${gw().url}/mcp`);
    expect(run.stderr).not.toContain(granted.mcp.token);
  });

  it('with a valid token: lists the tools through its stdio', async () => {
    const granted = await grant();
    const run = await mcpRemote(
      `${gw().url}/mcp`,
      [`Authorization:Bearer ${granted.mcp.token}`],
      async (send, lines) => {
        send({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-06-18',
            capabilities: {},
            clientInfo: { name: 'mcp-remote-test', version: '0.0.0' },
          },
        });
        await expect.poll(() => lines().length, { timeout: 30_000 }).toBeGreaterThan(0);
        send({ jsonrpc: '2.0', method: 'notifications/initialized' });
        send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
        await expect
          .poll(() => lines().find((l) => (l as { id?: number }).id === 2), { timeout: 30_000 })
          .toBeTruthy();
      },
    );
    const replies = run.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { id?: number; result?: { tools?: Array<{ name: string }> } });
    const tools = replies.find((r) => r.id === 2)?.result?.tools?.map((t) => t.name) ?? [];
    expect(tools).toContain('echo__report_env');
    expect(tools.length).toBeGreaterThan(1);
  });

  async function grant(): Promise<{ mcp: { url: string; token: string } }> {
    const res = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external: true, scope: ['echo:*'] }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { mcp: { url: string; token: string } };
  }
});
