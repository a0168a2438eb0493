/**
 * The direct 2025-era tools/call path (gateway/src/mcp/fast-call.ts) answers exactly as the SDK
 * path does. Each request is sent twice over real HTTP to the same harness (real registry, real
 * stdio upstreams): once with the fast path on, once with it switched off (the SDK's server and
 * transport answer), and the two answers are compared byte for byte (same JSON-RPC id, so no
 * normalising is needed), with their status, content type and the task:tool_use event recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ToolCallEvent } from '../../gateway/src/events/tool-calls.ts';
import { fastCallSwitch } from '../../gateway/src/mcp/fast-call.ts';
import { useMigratedDatabase } from '../helpers/database.ts';
import {
  agentToken,
  GRANT_HEADER,
  grant,
  type Harness,
  startHarness,
} from '../helpers/mcp-harness.ts';

interface Answer {
  status: number;
  type: string | null;
  text: string;
}

const PROTOCOL = '2025-11-25';

describe('fast tools/call path (gateway/src/mcp/fast-call.ts) = the SDK path', () => {
  const database = useMigratedDatabase();
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(database);
    h.grants.set('all', grant('all', ['*:*'], 'session-1'));
    h.grants.set('narrow', grant('narrow', ['fixture:test_simple_text', 'probe:*']));
  });
  afterAll(async () => {
    fastCallSwitch.enabled = true;
    await h?.close();
  });

  async function post(
    body: unknown,
    who = 'all',
    integration?: string,
    signal?: AbortSignal,
  ): Promise<Answer> {
    const response = await fetch(h.url(integration), {
      method: 'POST',
      headers: {
        [GRANT_HEADER]: who,
        authorization: `Bearer ${agentToken(who)}`,
        accept: 'application/json, text/event-stream',
        'content-type': 'application/json',
        'mcp-protocol-version': PROTOCOL,
      },
      body: JSON.stringify(body),
      ...(signal && { signal }),
    });
    // The upstream client numbers its own requests (the progress token it gives the upstream is
    // that number; probe__whoami echoes it): the one id that differs from one call to the next.
    const text = (await response.text()).replace(/(progressToken\\*":)\d+/g, '$1N');
    return { status: response.status, type: response.headers.get('content-type'), text };
  }

  /** The events a request left behind (they are emitted on setImmediate, after the answer). */
  async function eventsOf(from: number): Promise<Omit<ToolCallEvent, 'durationMs'>[]> {
    await new Promise((r) => setTimeout(r, 20));
    return h.events.slice(from).map(({ durationMs: _, ...rest }) => rest);
  }

  /** The same request through both paths: answers and events. */
  async function both(
    body: unknown,
    who = 'all',
    integration?: string,
  ): Promise<{ fast: Answer; sdk: Answer; viaFast: boolean }> {
    fastCallSwitch.enabled = true;
    const before = h.events.length;
    const served = fastCallSwitch.served;
    const fast = await post(body, who, integration);
    const viaFast = fastCallSwitch.served === served + 1;
    const fastEvents = await eventsOf(before);
    fastCallSwitch.enabled = false;
    const middle = h.events.length;
    const sdk = await post(body, who, integration);
    const sdkEvents = await eventsOf(middle);
    fastCallSwitch.enabled = true;
    expect(fastCallSwitch.served).toBe(served + (viaFast ? 1 : 0));
    expect(fast).toEqual(sdk);
    expect(fastEvents).toEqual(sdkEvents);
    return { fast, sdk, viaFast };
  }

  const call = (id: number | string, name: string, args?: Record<string, unknown>) => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name, ...(args && { arguments: args }) },
  });

  it('a successful call, on /mcp and on /mcp/<integration>, with _meta passed through', async () => {
    const { fast, viaFast } = await both(call(1, 'fixture__test_simple_text'));
    expect(viaFast).toBe(true);
    expect(fast.status).toBe(200);
    expect(fast.type).toBe('application/json');
    expect(JSON.parse(fast.text)).toMatchObject({
      jsonrpc: '2.0',
      id: 1,
      result: { content: [{ type: 'text' }] },
    });
    expect((await both(call('s-2', 'test_simple_text'), 'all', 'fixture')).viaFast).toBe(true);
    const whoami = {
      ...call(3, 'probe__whoami', {}),
      params: { name: 'probe__whoami', arguments: {}, _meta: { 'example.com/trace': 'abc' } },
    };
    const { fast: meta } = await both(whoami);
    expect(meta.text).toContain('example.com/trace');
    await both(call(4, 'fixture__test_multiple_content_types'));
  });

  it('an isError result, unknown, out-of-scope and hidden tools (-32602 "Tool … not found")', async () => {
    const { fast } = await both(call(5, 'fixture__test_error_handling'));
    expect(JSON.parse(fast.text).result.isError).toBe(true);
    const unknown = await both(call(6, 'fixture__no_such_tool'));
    expect(unknown.viaFast).toBe(true);
    expect(JSON.parse(unknown.fast.text).error).toEqual({
      code: -32602,
      message: 'Tool fixture__no_such_tool not found',
    });
    const outOfScope = await both(call(7, 'fixture__test_error_handling'), 'narrow');
    expect(JSON.parse(outOfScope.fast.text).error.code).toBe(-32602);
    const hidden = await both(call(8, 'fixture__report_env'));
    expect(JSON.parse(hidden.fast.text).error.code).toBe(-32602);
    await both(call(9, 'on_event'), 'all', 'probe');
    await both(call(10, 'nonamespace'));
  });

  it('invalid params: missing name, arguments not an object, an extra member (the SDK answers)', async () => {
    const missing = await both({ jsonrpc: '2.0', id: 11, method: 'tools/call', params: {} });
    expect(missing.viaFast).toBe(false);
    expect(JSON.parse(missing.fast.text).error.code).toBe(-32602);
    await both({
      ...call(12, 'fixture__test_simple_text'),
      params: { name: 'x', arguments: 'no' },
    });
    await both({ jsonrpc: '2.0', id: 13, method: 'tools/call' });
    await both({ ...call(14, 'fixture__test_simple_text'), extra: true });
  });

  it('an upstream that crashes mid-call', async () => {
    const ready = async () => {
      for (let i = 0; i < 100; i++) {
        const answer = await post(call(99, 'crashy__sleep', { ms: 1 }));
        if (JSON.parse(answer.text).result) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('crashy did not come back');
    };
    await ready();
    fastCallSwitch.enabled = true;
    let from = h.events.length;
    const served = fastCallSwitch.served;
    const fast = await post(call(15, 'crashy__crash', { ms: 50 }));
    expect(fastCallSwitch.served).toBe(served + 1);
    const fastEvents = await eventsOf(from);
    await ready();
    fastCallSwitch.enabled = false;
    from = h.events.length;
    const sdk = await post(call(15, 'crashy__crash', { ms: 50 }));
    const sdkEvents = await eventsOf(from);
    fastCallSwitch.enabled = true;
    expect(JSON.parse(fast.text).error.message).toMatch(/^integration crashy: the server exited/);
    expect(fast).toEqual(sdk);
    expect(fastEvents).toEqual(sdkEvents);
    await ready();
  });

  it('a notifications/cancelled in another request aborts the call in flight, upstream too', async () => {
    const cancelled = async (id: number, tag: string): Promise<Answer> => {
      const pending = post(call(id, 'probe__sleep', { ms: 10_000, tag }));
      await new Promise((r) => setTimeout(r, 300));
      const note = await post({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: id, reason: 'changed my mind' },
      });
      expect(note.status).toBe(202);
      return pending;
    };
    fastCallSwitch.enabled = true;
    const fast = await cancelled(16, 'fast');
    fastCallSwitch.enabled = false;
    const sdk = await cancelled(16, 'sdk');
    fastCallSwitch.enabled = true;
    expect(fast).toEqual(sdk);
    const seen = await post(call(17, 'probe__cancellations'));
    expect(seen.text).toContain('fast');
    expect(seen.text).toContain('sdk');
  });

  it('a client that disconnects cancels its call upstream', async () => {
    const controller = new AbortController();
    fastCallSwitch.enabled = true;
    const pending = post(
      call(18, 'probe__sleep', { ms: 10_000, tag: 'gone' }),
      'all',
      undefined,
      controller.signal,
    );
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    await expect(pending).rejects.toThrow('This operation was aborted');
    for (let i = 0; i < 50; i++) {
      const seen = await post(call(19, 'probe__cancellations'));
      if (seen.text.includes('gone')) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the upstream never saw the cancellation');
  });
});
