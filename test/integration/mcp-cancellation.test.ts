/**
 * A 2025-era `notifications/cancelled` (spec 2025-11-25 basic/utilities/cancellation: the
 * receiver SHOULD stop, free resources and "Not send a response for the cancelled request").
 * Served statelessly, the notification arrives in a POST of its own; the POST of the cancelled
 * request is then answered as Streamable HTTP allows for a request with no response: an SSE
 * stream (the only request answer that need not hold a JSON-RPC response) that ends at once,
 * empty. The upstream is told (its own notifications/cancelled), and nothing records the cancel
 * as a timeout: not the answer, not the task:tool_use event, not the metrics.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, describe, expect, it } from 'vitest';
import { fastCallSwitch } from '../../gateway/src/mcp/fast-call.ts';
import {
  eventually,
  type GrantedTask,
  grantTask,
  messagesOf,
  post,
  toolCall,
  toolEvents,
  useMcpGateway,
} from '../helpers/mcp-gateway.ts';

describe('2025-era cancellation (notifications/cancelled)', () => {
  const gw = useMcpGateway();
  afterAll(() => {
    fastCallSwitch.enabled = true;
  });

  const text = (result: { content?: unknown }) =>
    (result.content as Array<{ text?: string }>)[0]?.text ?? '';

  /** The tags of probe__sleep calls the probe saw cancelled, or is still running. */
  async function upstreamTags(
    granted: GrantedTask,
    which: 'cancellations' | 'sleeping',
  ): Promise<string[]> {
    const res = await post(granted.mcp.url, granted.mcp.token, toolCall(9_999, `probe__${which}`));
    const [answer] = messagesOf(res.headers.get('content-type'), await res.text());
    return JSON.parse(text((answer as { result: { content: unknown } }).result)) as string[];
  }
  const cancelledUpstream = (granted: GrantedTask) => upstreamTags(granted, 'cancellations');

  /** Opens a slow call, and once the upstream runs it, cancels it in a second POST. */
  async function callThenCancel(
    granted: GrantedTask,
    id: number | string,
    tag: string,
    extra: Record<string, unknown> = {},
  ): Promise<{ status: number; type: string | null; body: string }> {
    const call = toolCall(id, 'probe__sleep', { ms: 60_000, tag });
    const pending = post(granted.mcp.url, granted.mcp.token, { ...call, ...extra }).then(
      async (res) => ({
        status: res.status,
        type: res.headers.get('content-type'),
        body: await res.text(),
      }),
    );
    await eventually(async () => expect(await upstreamTags(granted, 'sleeping')).toContain(tag));
    const note = await post(granted.mcp.url, granted.mcp.token, {
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: id, reason: 'changed my mind' },
    });
    expect(note.status).toBe(202);
    return pending;
  }

  for (const path of ['fast', 'sdk'] as const) {
    it(`the cancelled POST ends with no JSON-RPC response for its id (${path} path)`, async () => {
      const granted = await grantTask(gw(), ['probe:*']);
      fastCallSwitch.enabled = path === 'fast';
      const served = fastCallSwitch.served;
      const answer = await callThenCancel(granted, 41, `raw-${path}`);
      // (The test's own probe__sleeping polls are fast-path calls too.)
      if (path === 'fast') expect(fastCallSwitch.served).toBeGreaterThan(served);
      else expect(fastCallSwitch.served).toBe(served);
      fastCallSwitch.enabled = true;
      // A request is answered with JSON or SSE; only an SSE stream may end without a response.
      expect(answer.status).toBe(200);
      expect(answer.type).toContain('text/event-stream');
      expect(messagesOf(answer.type, answer.body)).toEqual([]);
      // The upstream was told, and the event says cancelled, not timed out.
      await eventually(async () =>
        expect(await cancelledUpstream(granted)).toContain(`raw-${path}`),
      );
      const events = await eventually(async () => {
        const found = (await toolEvents(gw(), granted.task.id)).filter(
          (e) => (e.arguments as { tag?: string } | undefined)?.tag === `raw-${path}`,
        );
        expect(found).toHaveLength(1);
        return found;
      });
      expect(events[0]).toMatchObject({ integration: 'probe', tool: 'sleep', ok: false });
      expect(events[0]!.error).toMatch(/cancelled/);
      expect(events[0]!.error).not.toMatch(/in time|timeout/i);
    });
  }

  it('a call that asked for progress (an SSE answer) is cut without its response too', async () => {
    const granted = await grantTask(gw(), ['probe:*']);
    const answer = await callThenCancel(granted, 'p-7', 'raw-progress', {
      params: {
        name: 'probe__sleep',
        arguments: { ms: 60_000, tag: 'raw-progress' },
        _meta: { progressToken: 'p' },
      },
    });
    expect(answer.status).toBe(200);
    expect(answer.type).toContain('text/event-stream');
    const messages = messagesOf(answer.type, answer.body);
    expect(messages.filter((m) => 'id' in m)).toEqual([]);
    await eventually(async () =>
      expect(await cancelledUpstream(granted)).toContain('raw-progress'),
    );
  });

  it('a v1 SDK client that aborts sees its own AbortError; nothing records a timeout', async () => {
    const granted = await grantTask(gw(), ['probe:*']);
    const client = new Client({ name: 'cancel-v1', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(granted.mcp.url), {
        requestInit: { headers: { authorization: `Bearer ${granted.mcp.token}` } },
      }),
    );
    try {
      for (const tag of ['v1-a', 'v1-b']) {
        const controller = new AbortController();
        const call = client.callTool(
          { name: 'probe__sleep', arguments: { ms: 60_000, tag } },
          undefined,
          { signal: controller.signal },
        );
        // Aborted once the upstream is running the call: the gateway must then cancel it there.
        await eventually(async () =>
          expect(await upstreamTags(granted, 'sleeping')).toContain(tag),
        );
        controller.abort();
        // The 1.x client wraps its own abort reason (McpError -32001 "AbortError: …"); nothing
        // of the gateway's (no upstream error, no data) reaches it.
        const error = await call.then(
          () => undefined,
          (e: unknown) => e as { code?: number; message: string; data?: unknown },
        );
        expect(error?.message).toMatch(/^MCP error -32001: AbortError: /);
        expect(error?.data).toBeUndefined();
        await eventually(async () => expect(await cancelledUpstream(granted)).toContain(tag));
      }
      // The cancelled calls are events with a cancelled error, never a timeout.
      const events = await eventually(async () => {
        const found = (await toolEvents(gw(), granted.task.id)).filter((e) =>
          ['v1-a', 'v1-b'].includes((e.arguments as { tag?: string } | undefined)?.tag ?? ''),
        );
        expect(found).toHaveLength(2);
        return found;
      });
      for (const event of events) {
        expect(event.error).toMatch(/cancelled/);
        expect(event.error).not.toMatch(/in time|timeout/i);
      }
      const metrics = await (await fetch(`${gw().url}/metrics`)).text();
      expect(metrics).toMatch(
        /switchboard_tool_calls_total\{[^}]*outcome="cancelled"[^}]*\} [1-9]/,
      );
      const logged = gw().logs.text();
      expect(logged).not.toContain('upstream_timeout');
      expect(logged).not.toContain('did not answer in time');
    } finally {
      await client.close();
    }
  });
});
