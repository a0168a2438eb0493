import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Stream } from 'node:stream';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as LegacyStdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, CLI, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';

// `switchboard connect` (issue 5): a stdio MCP server relaying to the gateway's /mcp for agents
// that only speak stdio, driven by the SDK v2 client (2026-07-28 era), the 1.x SDK client (the
// 2025 era) and raw JSON-RPC lines; the token never appears in what the bridge writes.

interface Granted {
  task: { id: string };
  mcp: { url: string; token: string };
}

describe('switchboard connect', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: path.join(REPO_ROOT, 'servers'),
    SWITCHBOARD_POLICY: path.join(REPO_ROOT, 'test/fixtures/agents/policy.yaml'),
  });

  async function grant(): Promise<Granted> {
    const response = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external: true, scope: ['fixture:*'] }),
    });
    expect(response.status).toBe(201);
    return (await response.json()) as Granted;
  }

  /** The tools the gateway saw this task call, in order (task:tool_use events). */
  const toolCalls = (taskId: string) =>
    gw().sql<{ tool: string; ok: boolean }[]>`
      select data->>'tool' as tool, (data->>'ok')::boolean as ok from task_events
       where task_id = ${taskId} and type = 'task:tool_use' order by seq`;

  const server = (granted: Granted) => ({
    command: process.execPath,
    args: [CLI, 'connect', '--url', granted.mcp.url, '--token-env', 'SWITCHBOARD_TOKEN'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      SWITCHBOARD_TOKEN: granted.mcp.token,
    },
    cwd: REPO_ROOT,
    stderr: 'pipe' as const,
  });

  function collect(stream: Stream | null): () => string {
    let text = '';
    stream?.on('data', (d) => {
      text += d;
    });
    return () => text;
  }

  it('SDK v2 client (2026-07-28): lists and calls tools, progress arrives, a cancelled call stops', async () => {
    const granted = await grant();
    const transport = new StdioClientTransport(server(granted));
    const stderr = collect(transport.stderr);
    const client = new Client(
      { name: 'connect-test', version: '0.0.0' },
      { versionNegotiation: { mode: 'auto' } },
    );
    await client.connect(transport);
    try {
      expect(client.getProtocolEra()).toBe('modern');
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('fixture__test_simple_text');
      const simple = await client.callTool({ name: 'fixture__test_simple_text', arguments: {} });
      expect(simple.content).toEqual([
        { type: 'text', text: 'This is a simple text response for testing.' },
      ]);
      const steps: number[] = [];
      const slow = await client.callTool(
        { name: 'fixture__test_tool_with_progress', arguments: {} },
        { onprogress: (p) => steps.push(p.progress) },
      );
      expect(slow.content).toEqual([{ type: 'text', text: 'Completed 5 steps' }]);
      expect(steps).toEqual([1, 2, 3, 4, 5]);

      // Cancelled at its first progress notification: the call rejects, the bridge goes on.
      const abort = new AbortController();
      await expect(
        client.callTool(
          { name: 'fixture__test_tool_with_progress', arguments: {} },
          { signal: abort.signal, onprogress: () => abort.abort('enough') },
        ),
      ).rejects.toThrow(/^enough$/);
      expect(
        (await client.callTool({ name: 'fixture__test_simple_text', arguments: {} })).isError,
      ).toBeFalsy();
    } finally {
      await client.close();
    }
    // The gateway saw the cancelled call end unfinished (the abort reached the upstream).
    await expect
      .poll(() => toolCalls(granted.task.id))
      .toEqual([
        { tool: 'test_simple_text', ok: true },
        { tool: 'test_tool_with_progress', ok: true },
        { tool: 'test_tool_with_progress', ok: false },
        { tool: 'test_simple_text', ok: true },
      ]);
    expect(stderr()).not.toContain(granted.mcp.token);
  });

  it('1.x SDK client (2025 era): lists and calls tools with progress; cancellation is passed on', async () => {
    const granted = await grant();
    const transport = new LegacyStdioClientTransport(server(granted));
    const stderr = collect(transport.stderr);
    const client = new LegacyClient({ name: 'connect-test-legacy', version: '0.0.0' });
    await client.connect(transport);
    try {
      expect(client.getServerVersion()).toEqual({
        name: 'switchboard',
        version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      });
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('fixture__test_tool_with_progress');
      const steps: number[] = [];
      const slow = await client.callTool(
        { name: 'fixture__test_tool_with_progress', arguments: {} },
        undefined,
        { onprogress: (p) => steps.push(p.progress) },
      );
      expect(slow.content).toEqual([{ type: 'text', text: 'Completed 5 steps' }]);
      expect(steps).toEqual([1, 2, 3, 4, 5]);
      const failing = await client.callTool({
        name: 'fixture__test_error_handling',
        arguments: {},
      });
      expect(failing.isError).toBe(true);

      // 2025 era: the client sends notifications/cancelled, which the bridge passes on.
      const abort = new AbortController();
      await expect(
        client.callTool({ name: 'fixture__test_tool_with_progress', arguments: {} }, undefined, {
          signal: abort.signal,
          onprogress: () => abort.abort('enough'),
        }),
      ).rejects.toThrow('MCP error -32001: enough');
    } finally {
      await client.close();
    }
    await expect
      .poll(() => toolCalls(granted.task.id))
      .toEqual([
        { tool: 'test_tool_with_progress', ok: true },
        { tool: 'test_error_handling', ok: false },
        { tool: 'test_tool_with_progress', ok: false },
      ]);
    expect(stderr()).not.toContain(granted.mcp.token);
  });

  it('raw JSON-RPC lines: answers on stdout, never the token, also when the gateway refuses it', async () => {
    const granted = await grant();
    const lines = [
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'raw', version: '0' },
        },
      },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'fixture__test_simple_text' },
      },
    ];
    const good = await converse(server(granted), lines, 2);
    expect(good.messages.find((m) => m.id === 1)).toMatchObject({
      result: { protocolVersion: '2025-11-25' },
    });
    expect(good.messages.find((m) => m.id === 2)).toMatchObject({
      result: { content: [{ type: 'text', text: 'This is a simple text response for testing.' }] },
    });
    expect(good.stdout + good.stderr).not.toContain(granted.mcp.token);

    // A token the gateway does not accept: the request gets a JSON-RPC error, not a hang.
    const wrong = `${granted.mcp.token.slice(0, -4)}AAAA`;
    const refused = await converse(
      { ...server(granted), env: { ...server(granted).env, SWITCHBOARD_TOKEN: wrong } },
      lines.slice(0, 1),
      1,
    );
    expect(refused.messages[0]).toMatchObject({ id: 1, error: { code: -32603 } });
    expect(refused.stdout + refused.stderr).not.toContain(wrong);
  });

  it('usage errors name what is missing', async () => {
    const granted = await grant();
    const bad = await converse(
      { ...server(granted), env: { PATH: process.env.PATH ?? '' } },
      [],
      0,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('SWITCHBOARD_TOKEN is not set');
  });
});

/**
 * Writes `lines` to a fresh `switchboard connect`, waits for `answers` responses (messages with
 * an id and no method), then closes stdin and waits for the exit.
 */
async function converse(
  params: { command: string; args: string[]; env: Record<string, string>; cwd: string },
  lines: unknown[],
  answers: number,
) {
  const child = spawn(params.command, params.args, { env: params.env, cwd: params.cwd });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const messages: Array<Record<string, unknown>> = [];
  const enough = new Promise<void>((resolve) => {
    if (answers === 0) resolve();
    child.stdout.on('data', (d) => {
      stdout += d;
      messages.splice(0, messages.length);
      for (const line of stdout.split('\n').filter((l) => l.trim() !== ''))
        messages.push(JSON.parse(line) as Record<string, unknown>);
      if (messages.filter((m) => 'id' in m && !('method' in m)).length >= answers) resolve();
    });
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  for (const line of lines) child.stdin.write(`${JSON.stringify(line)}\n`);
  await Promise.race([enough, exited]);
  child.stdin.end();
  const code = await exited;
  return { code, stdout, stderr, messages };
}
