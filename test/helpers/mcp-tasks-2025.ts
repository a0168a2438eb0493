/**
 * The 2025-11-25 task wire (gateway/src/mcp/mcp-task-methods-2025.ts) through the real 1.x SDK
 * client, whose `client.experimental.tasks` speaks exactly it (tools/call with `params.task`,
 * tasks/get, tasks/result, tasks/list, tasks/cancel) over Streamable HTTP with a bearer token.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { expect } from 'vitest';
import { api } from './mcp-tasks.ts';

export type Json = Record<string, unknown>;

/** An external agent task granted `scope`: its /mcp token and its /mcp/fixture URL and token. */
export async function grantBoth(url: string, scope = ['fixture:*']) {
  const created = await api(url, 'POST', '/tasks', { external: true, scope });
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  const integrations = created.json.integrations as Array<{
    name: string;
    url: string;
    token: string;
  }>;
  const fixture = integrations.find((i) => i.name === 'fixture');
  if (!fixture) throw new Error('no /mcp/fixture token');
  return {
    id: (created.json.task as { id: string }).id,
    token: (created.json.mcp as { token: string }).token,
    fixture,
  };
}

/** A connected 1.x client (protocol 2025-11-25) at `endpoint` with `token`. */
export async function connect2025(
  endpoint: string,
  token: string,
  capabilities: Record<string, unknown> = {},
  headers: Record<string, string> = {},
  fetchFn?: typeof fetch,
): Promise<Client> {
  const client = new Client({ name: 'tasks-2025', version: '1.0.0' }, { capabilities });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(endpoint), {
      requestInit: { headers: { ...headers, authorization: `Bearer ${token}` } },
      ...(fetchFn && { fetch: fetchFn }),
    }),
  );
  return client;
}

/** tools/call of `name` as a task (`params.task`): its CreateTaskResult's task. */
export async function createTask2025(
  client: Client,
  name: string,
  args: Json = {},
  task: Json = {},
): Promise<Json> {
  const { CreateTaskResultSchema } = await import('@modelcontextprotocol/sdk/types.js');
  const created = await client.request(
    { method: 'tools/call', params: { name, arguments: args, task } },
    CreateTaskResultSchema,
  );
  return created.task as unknown as Json;
}

/** Polls tasks/get until the status is in `until`. */
export async function settle2025(
  client: Client,
  taskId: string,
  until = ['completed', 'failed', 'cancelled'],
  timeoutMs = 60_000,
): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = (await client.experimental.tasks.getTask(taskId)) as unknown as Json;
    if (until.includes(task.status as string)) return task;
    if (Date.now() > deadline) throw new Error(`task ${taskId}: ${JSON.stringify(task)}`);
    if (process.env.DEBUG_TASKS) console.log(JSON.stringify(task));
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** The JSON-RPC error code a promise rejects with (undefined if it resolves). */
export async function errorCode(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { code?: number }).code;
  }
}

export function textOf(result: unknown): string | undefined {
  return (result as { content?: Array<{ text?: string }> }).content?.[0]?.text;
}
