/**
 * Client input (elicitation, sampling) and logs through the gateway, both protocol eras, against
 * the real fixture server over stdio and real clients over HTTP. The fixture asks with
 * `inputRequired(...)`; the gateway's upstream connection is 2026-07-28, so the question comes
 * back as an input_required result that the gateway passes through (gateway/src/mcp/
 * input-required.ts). Spec: 2025-11-25 client/sampling, client/elicitation (server→client
 * requests on the call's stream); 2026-07-28 basic/patterns/mrtr (SEP-2322); utilities/logging.
 */
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { ProtocolError } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useMigratedDatabase } from '../helpers/database.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';
import {
  agentToken,
  clientTracker,
  connectV2,
  GRANT_HEADER,
  grant,
  type Harness,
  startHarness,
} from '../helpers/mcp-harness.ts';

const textOf = (result: { content?: unknown }): string =>
  ((result.content as Array<{ type: string; text?: string }>)[0]?.text ?? '') as string;

const FIXTURE_SERVER = path.join(REPO_ROOT, 'servers/fixture/src/server.ts');
const TSX_LOADER = path.join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs');
const SAMPLED = { role: 'assistant', content: { type: 'text', text: 'Bonjour' }, model: 'test' };
const DETAILS = { action: 'accept', content: { username: 'ada', email: 'ada@example.com' } };

/** Raw JSON-RPC over HTTP as a 2025 client speaks it, for what the SDK clients hide. */
function post(h: Harness, grantName: string, body: unknown, integration = 'fixture') {
  return fetch(h.url(integration), {
    method: 'POST',
    headers: {
      [GRANT_HEADER]: grantName,
      authorization: `Bearer ${agentToken(grantName)}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
    },
    body: JSON.stringify(body),
  });
}

/** Reads SSE `data:` messages from a response body, one at a time. */
function sseMessages(response: Response): () => Promise<Record<string, unknown>> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return async () => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trim())
          .join('\n');
        if (data) return JSON.parse(data) as Record<string, unknown>;
        continue;
      }
      const { done, value } = await reader.read();
      if (done) throw new Error('stream ended');
      buffer += decoder.decode(value, { stream: true });
    }
  };
}

describe('client input and logs through the gateway', () => {
  const database = useMigratedDatabase();
  let h: Harness;
  const { track, closeAll } = clientTracker();

  beforeAll(async () => {
    h = await startHarness(database, {
      // The same fixture, one process per task: its logs can only be that task's.
      ownfixture: {
        apiVersion: 'switchboard/v1',
        name: 'ownfixture',
        version: '0.1.0',
        description: 'servers/fixture with one instance per task',
        server: {
          transport: 'stdio',
          command: 'node',
          // Its folder is outside the repository: tsx by path, not resolved from node_modules.
          args: ['--import', TSX_LOADER, FIXTURE_SERVER],
          instances: 'task',
        },
      },
    });
    h.grants.set('a', grant('a', ['fixture:*', 'ownfixture:*']));
    h.grants.set('b', grant('b', ['fixture:*']));
    h.grants.set('c', grant('c', ['fixture:*']));
  });
  afterAll(async () => {
    await closeAll();
    await h?.close();
  });

  function withInputHandlers(client: Client): Client {
    client.setRequestHandler('sampling/createMessage', async () => SAMPLED as never);
    client.setRequestHandler('elicitation/create', async () => DETAILS as never);
    return client;
  }

  it('asks a 2025 v2 client for sampling and elicitation on the call’s stream (client/sampling, client/elicitation)', async () => {
    const { Client: V2, StreamableHTTPClientTransport } = await import(
      '@modelcontextprotocol/client'
    );
    const client = track(
      withInputHandlers(
        new V2(
          { name: 'legacy-input', version: '1.0.0' },
          { capabilities: { sampling: {}, elicitation: { form: {} } } },
        ),
      ),
    );
    await client.connect(
      new StreamableHTTPClientTransport(h.url('fixture'), {
        requestInit: {
          headers: { [GRANT_HEADER]: 'a', authorization: `Bearer ${agentToken('a')}` },
        },
      }),
    );
    expect(client.getProtocolEra()).toBe('legacy');
    const sampled = await client.callTool({ name: 'test_sampling', arguments: {} });
    expect(textOf(sampled)).toBe('LLM response: Bonjour');
    const elicited = await client.callTool({ name: 'test_elicitation', arguments: {} });
    expect(textOf(elicited)).toBe(
      'User response: action=accept, content={"username":"ada","email":"ada@example.com"}',
    );
  });

  it('asks a 1.x SDK client too, through the aggregate /mcp', async () => {
    const { Client: V1Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport: V1Transport } = await import(
      '@modelcontextprotocol/sdk/client/streamableHttp.js'
    );
    const { CreateMessageRequestSchema } = await import('@modelcontextprotocol/sdk/types.js');
    const v1 = track(
      new V1Client({ name: 'v1-input', version: '1.0.0' }, { capabilities: { sampling: {} } }),
    );
    v1.setRequestHandler(CreateMessageRequestSchema, async () => SAMPLED as never);
    await v1.connect(
      new V1Transport(h.url(), {
        requestInit: {
          headers: { [GRANT_HEADER]: 'a', authorization: `Bearer ${agentToken('a')}` },
        },
      }),
    );
    const sampled = await v1.callTool({ name: 'fixture__test_sampling', arguments: {} });
    expect(textOf(sampled as { content?: unknown })).toBe('LLM response: Bonjour');
  });

  it('gives a 2026-07-28 client the upstream’s input_required result and forwards its retry (SEP-2322)', async () => {
    const { Client: V2, StreamableHTTPClientTransport } = await import(
      '@modelcontextprotocol/client'
    );
    const modernWithCaps = track(
      new V2(
        { name: 'modern-input', version: '1.0.0' },
        { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: 'auto' } },
      ),
    );
    modernWithCaps.setRequestHandler('elicitation/create', async () => DETAILS as never);
    await modernWithCaps.connect(
      new StreamableHTTPClientTransport(h.url('fixture'), {
        requestInit: {
          headers: { [GRANT_HEADER]: 'a', authorization: `Bearer ${agentToken('a')}` },
        },
      }),
    );
    expect(modernWithCaps.getProtocolEra()).toBe('modern');
    // The SDK client fulfils input_required itself (autoFulfill) and retries with inputResponses.
    const elicited = await modernWithCaps.callTool({ name: 'test_elicitation', arguments: {} });
    expect(textOf(elicited)).toContain('action=accept');
    // Manual mode shows the raw result: the fixture's own question, unchanged by the gateway.
    const raw = await modernWithCaps.request(
      { method: 'tools/call', params: { name: 'test_elicitation', arguments: { message: 'Hi?' } } },
      { allowInputRequired: true },
    );
    expect(raw).toMatchObject({
      resultType: 'input_required',
      inputRequests: { details: { method: 'elicitation/create', params: { message: 'Hi?' } } },
    });
  });

  it('does not ask a client for input it did not declare: -32021 naming the capability, both eras', async () => {
    // The upstream sees the agent's capabilities in the request's envelope (none here), so its
    // SDK refuses the question itself; the gateway passes that error on.
    for (const era of ['legacy', 'modern'] as const) {
      const client = track(await connectV2(h.url('fixture'), 'c', era));
      const error: unknown = await client.callTool({ name: 'test_sampling', arguments: {} }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, era).toBeInstanceOf(ProtocolError);
      expect((error as ProtocolError).code, era).toBe(-32021);
      expect((error as Error).message, era).toMatch(/sampling/);
    }
  });

  it('accepts a reply only from the token that was asked, by the id the gateway gave the request', async () => {
    const hello = await post(h, 'a', {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        capabilities: { sampling: {} },
        clientInfo: { name: 'raw', version: '1' },
      },
    });
    expect(hello.status).toBe(200);
    const call = await post(h, 'a', {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'test_sampling', arguments: { prompt: 'Hi' } },
    });
    expect(call.headers.get('content-type')).toContain('text/event-stream');
    const next = sseMessages(call);
    const asked = await next();
    expect(asked).toMatchObject({ method: 'sampling/createMessage' });
    expect(String(asked.id)).toMatch(/^switchboard-\d+$/);
    const reply = { jsonrpc: '2.0', id: asked.id, result: SAMPLED };
    // Another token cannot answer it, nor can an id nobody asked with.
    const stolen = await post(h, 'b', reply);
    expect(stolen.status).toBe(400);
    // The same answer for another token's request as for no request: nothing to probe.
    const noSuchRequest = {
      jsonrpc: '2.0',
      id: null,
      error: { code: -32600, message: 'No request of this token waits for that reply' },
    };
    expect(await stolen.json()).toEqual(noSuchRequest);
    const unknown = await post(h, 'a', { ...reply, id: 'switchboard-999999' });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual(noSuchRequest);
    const answered = await post(h, 'a', reply);
    expect(answered.status).toBe(202);
    const result = await next();
    expect(result).toMatchObject({
      id: 7,
      result: { content: [{ text: 'LLM response: Bonjour' }] },
    });
  });

  it('forwards upstream logs from the task’s own instance, at the level asked (utilities/logging)', async () => {
    const received: Array<{ level: string; data: unknown }> = [];
    const own = track(await connectV2(h.url('ownfixture'), 'a', 'legacy'));
    own.setNotificationHandler('notifications/message', (n) => {
      received.push({ level: n.params.level, data: n.params.data });
    });
    await own.setLoggingLevel('info');
    const result = await own.callTool({ name: 'test_tool_with_logging', arguments: {} });
    expect(textOf(result)).toBe('Tool with logging executed successfully');
    expect(received.map((r) => r.data)).toEqual([
      'Tool execution started',
      'Tool processing data',
      'Tool execution completed',
    ]);
    // Above the fixture's level (info): nothing passes.
    received.length = 0;
    await own.setLoggingLevel('error');
    await own.callTool({ name: 'test_tool_with_logging', arguments: {} });
    expect(received).toEqual([]);
  });

  it('never forwards logs from a shared instance: they name no request and could be another task’s', async () => {
    const received: unknown[] = [];
    const shared = track(await connectV2(h.url('fixture'), 'b', 'legacy'));
    shared.setNotificationHandler('notifications/message', (n) => {
      received.push(n.params.data);
    });
    await shared.setLoggingLevel('debug');
    const result = await shared.callTool({ name: 'test_tool_with_logging', arguments: {} });
    expect(textOf(result)).toBe('Tool with logging executed successfully');
    expect(received).toEqual([]);
  });

  it('still answers a plain 2025 call with JSON, not a stream (no input declared, no log level)', async () => {
    const call = await post(h, 'c', {
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'test_simple_text', arguments: {} },
    });
    expect(call.headers.get('content-type')).toContain('application/json');
  });
});
