/**
 * The whole gateway (real tokens, guard, rate limits, metrics) over the MCP fixtures in
 * test/fixtures/mcp-integrations, with the policy test/fixtures/mcp-gateway/policy.yaml. For the
 * MCP tests that need more than the endpoint core of mcp-harness.ts.
 */
import path from 'node:path';
import { expect } from 'vitest';
import { listTaskEvents } from '../../gateway/src/events/store.ts';
import { ADMIN_KEY, REPO_ROOT, type TestGateway, useTestGateway } from './gateway.ts';

export const MCP_GATEWAY_ENV = {
  INTEGRATION_DIRS: path.join(REPO_ROOT, 'test/fixtures/mcp-integrations'),
  SWITCHBOARD_POLICY: path.join(REPO_ROOT, 'test/fixtures/mcp-gateway/policy.yaml'),
};

/** A gateway for a describe block, serving the MCP fixtures. */
export function useMcpGateway(env: Record<string, string> = {}): () => TestGateway {
  return useTestGateway({ ...MCP_GATEWAY_ENV, ...env });
}

export interface GrantedTask {
  task: { id: string };
  mcp: { url: string; token: string };
  integrations: Array<{ name: string; url: string; token: string }>;
}

/** An external task with this scope (and token lifetime): its tokens for /mcp and each /mcp/<integration>. */
export async function grantTask(
  gw: Pick<TestGateway, 'url'>,
  scope: string[],
  ttl?: string,
): Promise<GrantedTask> {
  const res = await fetch(`${gw.url}/api/v1/tasks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ external: true, scope, ...(ttl && { ttl }) }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as GrantedTask;
}

/** The endpoint URL and token of one integration of a granted task. */
export function integrationOf(granted: GrantedTask, name: string): { url: string; token: string } {
  const found = granted.integrations.find((i) => i.name === name);
  if (!found) throw new Error(`the task has no token for ${name}`);
  return found;
}

export const LEGACY_VERSION = '2025-11-25';

/** A raw 2025-era POST, as a client sends it after the handshake. */
export function post(
  url: string,
  token: string,
  body: unknown,
  init: { signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': LEGACY_VERSION,
      ...init.headers,
    },
    body: JSON.stringify(body),
    ...(init.signal && { signal: init.signal }),
  });
}

/** The JSON-RPC messages of an answer, a JSON body or an SSE stream alike. */
export function messagesOf(
  contentType: string | null,
  text: string,
): Array<Record<string, unknown>> {
  if (text.trim() === '') return [];
  if (!contentType?.includes('text/event-stream')) {
    const parsed = JSON.parse(text) as unknown;
    return (Array.isArray(parsed) ? parsed : [parsed]) as Array<Record<string, unknown>>;
  }
  const out: Array<Record<string, unknown>> = [];
  for (const block of text.split(/\n\n/)) {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data.trim() !== '') out.push(JSON.parse(data) as Record<string, unknown>);
  }
  return out;
}

export const toolCall = (
  id: number | string,
  name: string,
  args: Record<string, unknown> = {},
) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

/** Resolves when `check` passes, polling every 50 ms, or throws its last failure after `ms`. */
export async function eventually<T>(check: () => Promise<T> | T, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** The task:tool_use events of a task (written in batches: poll with eventually()). */
export async function toolEvents(
  gw: TestGateway,
  taskId: string,
): Promise<Array<Record<string, unknown>>> {
  const events = await listTaskEvents(gw.sql, taskId, { limit: 1000 });
  return events
    .filter((e) => e.type === 'task:tool_use')
    .map((e) => e.data as Record<string, unknown>);
}
