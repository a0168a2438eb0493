/**
 * The agent-facing MCP proxy core (gateway/src/mcp) against real upstream servers over real
 * transports: stdio fixtures (servers/fixture, test/fixtures/mcp-servers/probe-server.ts,
 * test/fixtures/upstreams/stdio-server.ts) and an HTTP upstream (the recorder), reached by real
 * clients of both protocol eras: the v2 Client negotiating 2026-07-28 ("modern"), the v2 Client
 * on the 2025 handshake ("legacy") and the 1.x SDK client. Spec references are to the MCP
 * specification 2025-11-25 unless the draft (2026-07-28) is named.
 */
import type { Client } from '@modelcontextprotocol/client';
import { ProtocolError } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useMigratedDatabase } from '../helpers/database.ts';
import {
  agentToken,
  clientTracker,
  connectV1,
  connectV2,
  GRANT_HEADER,
  grant,
  type Harness,
  startHarness,
  TEST_PAGE_SIZE,
} from '../helpers/mcp-harness.ts';

const textOf = (result: { content?: unknown }): string =>
  ((result.content as Array<{ type: string; text?: string }>)[0]?.text ?? '') as string;

/** Resolves when `check` passes, polling every 50 ms, or fails after `ms`. */
async function eventually(check: () => Promise<void> | void, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A promise resolved by the first call of the returned callback. */
function signal<T = void>(): { promise: Promise<T>; fire: (value: T) => void } {
  let fire!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    fire = resolve;
  });
  return { promise, fire };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`no ${what} in ${ms} ms`)), ms),
    ),
  ]);
}

describe('MCP proxy core (gateway/src/mcp)', () => {
  const database = useMigratedDatabase();
  let h: Harness;
  const { track, closeAll } = clientTracker();

  beforeAll(async () => {
    h = await startHarness(database);
    h.grants.set('all', grant('all', ['*:*'], 'session-1'));
    h.grants.set('narrow', grant('narrow', ['fixture:test_simple_text', 'probe:*']));
    h.grants.set('fixture-only', grant('fixture-only', ['fixture:*']));
    h.grants.set('other', grant('other', ['pertask:*']));
  });
  afterAll(async () => {
    await closeAll();
    await h?.close();
  });

  /** Every tool name of a 1.x client, following our cursors page by page. */
  async function v1ToolNames(grantName: string, integration?: string): Promise<string[]> {
    const v1 = track(await connectV1(h.url(integration), grantName));
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await v1.listTools(cursor ? { cursor } : undefined);
      expect(page.tools.length).toBeLessThanOrEqual(TEST_PAGE_SIZE);
      names.push(...page.tools.map((t) => t.name));
      cursor = page.nextCursor;
    } while (cursor);
    return names;
  }

  describe('tools/list (spec server/tools "Listing Tools")', () => {
    it('aggregates every ready integration the scope covers as <integration>__<tool>, alike on both eras', async () => {
      const modern = track(await connectV2(h.url(), 'all', 'modern'));
      const legacy = track(await connectV2(h.url(), 'all', 'legacy'));
      expect(modern.getProtocolEra()).toBe('modern');
      expect(legacy.getProtocolEra()).toBe('legacy');
      const modernNames = (await modern.listTools()).tools.map((t) => t.name);
      const legacyNames = (await legacy.listTools()).tools.map((t) => t.name);
      const v1Names = await v1ToolNames('all');
      expect(legacyNames).toEqual(modernNames);
      expect(v1Names).toEqual(modernNames);
      expect(modernNames).toEqual(
        expect.arrayContaining([
          'fixture__test_simple_text',
          'fixture__test_tool_with_progress',
          'probe__whoami',
          'probe__filler_5',
          'crashy__sleep',
          'recorder__whoami',
        ]),
      );
      // The refused integration is not served; the upstream's 11 tools at 2 a page were drained.
      expect(modernNames.some((n) => n.startsWith('disabled__'))).toBe(false);
      expect(modernNames.filter((n) => n.startsWith('probe__filler_'))).toHaveLength(5);
    });

    it('/mcp/<integration> serves that integration alone with names unchanged', async () => {
      const client = track(await connectV2(h.url('probe'), 'all', 'modern'));
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(
        expect.arrayContaining(['whoami', 'sleep', 'grow', 'filler_1', 'filler_5']),
      );
      expect(names.every((n) => !n.includes('__'))).toBe(true);
    });

    it('passes inputSchema, outputSchema, annotations, icons, title and _meta through unchanged', async () => {
      const client = track(await connectV2(h.url(), 'all', 'legacy'));
      const whoami = (await client.listTools()).tools.find((t) => t.name === 'probe__whoami');
      expect(whoami).toMatchObject({
        title: 'Who am I',
        description: 'Returns the _meta this call arrived with',
        inputSchema: { type: 'object', properties: {} },
        outputSchema: { type: 'object', properties: { meta: { type: 'object' } } },
        annotations: { readOnlyHint: true },
        icons: [{ src: 'https://example.com/probe.png', mimeType: 'image/png' }],
        _meta: { 'example.com/kind': 'probe' },
      });
    });

    it('lists only the tools the scope allows, and never a hidden one (ARCHITECTURE §4 routes)', async () => {
      const narrow = (await v1ToolNames('narrow')).sort();
      expect(narrow).toContain('fixture__test_simple_text');
      expect(narrow.filter((n) => n.startsWith('fixture__'))).toEqual([
        'fixture__test_simple_text',
      ]);
      expect(narrow.some((n) => n.startsWith('crashy__') || n.startsWith('recorder__'))).toBe(
        false,
      );
      // Hidden by manifest tools.hidden even under *:*: probe's on_event, fixture's report_env.
      const all = await v1ToolNames('all');
      expect(all).not.toContain('probe__on_event');
      expect(all).not.toContain('fixture__report_env');
      expect(await v1ToolNames('all', 'probe')).not.toContain('on_event');
    });

    it('pages with its own opaque cursors and rejects a forged one with -32602 (spec utilities/pagination)', async () => {
      const v1 = track(await connectV1(h.url(), 'all'));
      const first = await v1.listTools();
      expect(first.tools).toHaveLength(TEST_PAGE_SIZE);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await v1.listTools({ cursor: first.nextCursor });
      expect(second.tools[0]?.name).not.toBe(first.tools[0]?.name);
      await expect(v1.listTools({ cursor: 'not-a-cursor' })).rejects.toMatchObject({
        code: -32602,
      });
    });
  });

  describe('tools/call (spec server/tools "Calling Tools")', () => {
    it('answers out-of-scope, hidden and unknown tools with the very same error', async () => {
      const client = track(await connectV2(h.url(), 'narrow', 'modern'));
      const failure = async (name: string) => {
        const error = await client.callTool({ name, arguments: {} }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(ProtocolError);
        const { code, message } = error as ProtocolError;
        return { code, message: message.replace(name, '<name>') };
      };
      const unknown = await failure('probe__does_not_exist');
      expect(unknown).toEqual({ code: -32602, message: 'Tool <name> not found' });
      for (const name of [
        'fixture__test_image_content', // the integration is in scope, this tool is not
        'crashy__sleep', // the integration is not in scope at all
        'probe__on_event', // hidden (manifest tools.hidden), although probe:* is granted
        'nothing__here',
        'no-separator',
      ]) {
        expect(await failure(name)).toEqual(unknown);
      }
      const single = track(await connectV2(h.url('probe'), 'all', 'legacy'));
      await expect(single.callTool({ name: 'on_event', arguments: {} })).rejects.toMatchObject({
        code: -32602,
        message: 'Tool on_event not found',
      });
    });

    it('forwards a call and reports it to onToolCall, arguments only where policy allows', async () => {
      const client = track(await connectV2(h.url(), 'all', 'modern'));
      const before = h.events.length;
      const result = await client.callTool({ name: 'fixture__test_simple_text', arguments: {} });
      expect(textOf(result)).toBe('This is a simple text response for testing.');
      const failed = await client.callTool({ name: 'fixture__test_error_handling', arguments: {} });
      expect(failed.isError).toBe(true);
      await client.callTool({ name: 'probe__filler_1', arguments: { note: 'kept' } });
      await eventually(() => expect(h.events.length).toBeGreaterThanOrEqual(before + 3));
      const [simple, error, filler] = h.events.slice(before);
      expect(simple).toMatchObject({
        integration: 'fixture',
        tool: 'test_simple_text',
        ok: true,
        claims: { taskId: 'task-all' },
      });
      expect(simple?.durationMs).toBeGreaterThanOrEqual(0);
      expect(simple).not.toHaveProperty('arguments');
      expect(error).toMatchObject({ tool: 'test_error_handling', ok: false });
      expect(filler).toMatchObject({ integration: 'probe', arguments: { note: 'kept' } });
    });

    it('re-stamps upstream progress with the agent’s progressToken (spec utilities/progress)', async () => {
      for (const era of ['modern', 'legacy'] as const) {
        const client = track(await connectV2(h.url(), 'all', era));
        const seen: number[] = [];
        const result = await client.callTool(
          { name: 'fixture__test_tool_with_progress', arguments: {} },
          { onprogress: (p) => seen.push(p.progress) },
        );
        expect(textOf(result)).toBe('Completed 5 steps');
        expect(seen).toEqual([1, 2, 3, 4, 5]);
      }
      const v1 = track(await connectV1(h.url('fixture'), 'all'));
      const seen: number[] = [];
      await v1.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, {
        onprogress: (p) => seen.push(p.progress),
      });
      expect(seen).toEqual([1, 2, 3, 4, 5]);
    });

    it('passes a cancellation on to the upstream (spec utilities/cancellation)', async () => {
      const checker = track(await connectV2(h.url(), 'all', 'legacy'));
      const cancelledTags = async () =>
        JSON.parse(
          textOf(await checker.callTool({ name: 'probe__cancellations', arguments: {} })),
        ) as string[];
      const sleep = (tag: string) => ({ name: 'probe__sleep', arguments: { ms: 30_000, tag } });

      // 2026-07-28: the client closes the request's stream.
      const modern = track(await connectV2(h.url(), 'all', 'modern'));
      const abortModern = new AbortController();
      const modernCall = modern.callTool(sleep('modern'), { signal: abortModern.signal });
      setTimeout(() => abortModern.abort('enough'), 300);
      await expect(modernCall).rejects.toThrow(/^enough$/);
      // 2025: notifications/cancelled arrives in a POST of its own, on a server instance that
      // never saw the call; the endpoint links the two by token and request id.
      const legacy = track(await connectV2(h.url(), 'all', 'legacy'));
      const abortLegacy = new AbortController();
      const legacyCall = legacy.callTool(sleep('legacy'), { signal: abortLegacy.signal });
      setTimeout(() => abortLegacy.abort('enough'), 300);
      await expect(legacyCall).rejects.toThrow(/^enough$/);
      const v1 = track(await connectV1(h.url(), 'all'));
      const abortV1 = new AbortController();
      const v1Call = v1.callTool(sleep('v1'), undefined, { signal: abortV1.signal });
      setTimeout(() => abortV1.abort('enough'), 300);
      await expect(v1Call).rejects.toThrow('MCP error -32001: enough');
      await eventually(async () =>
        expect(await cancelledTags()).toEqual(expect.arrayContaining(['modern', 'legacy', 'v1'])),
      );
    });

    it('gives stdio upstreams the task context in _meta io.switchboard/task, which an agent cannot forge', async () => {
      const client = track(await connectV2(h.url(), 'all', 'modern'));
      const result = await client.callTool({
        name: 'probe__whoami',
        arguments: {},
        _meta: { 'io.switchboard/task': { taskId: 'forged' }, 'example.com/trace': 'abc' },
      });
      const meta = (result.structuredContent as { meta: Record<string, unknown> }).meta;
      expect(meta['io.switchboard/task']).toEqual({ taskId: 'task-all', sessionId: 'session-1' });
      expect(meta['example.com/trace']).toBe('abc');
      expect(JSON.stringify(meta)).not.toContain(agentToken('all'));
    });

    it('gives HTTP upstreams Bearer <upstream token>, never the agent’s token (ARCHITECTURE §4 per-task tokens)', async () => {
      for (const era of ['modern', 'legacy'] as const) {
        const client = track(await connectV2(h.url(), 'all', era));
        const result = await client.callTool({ name: 'recorder__whoami', arguments: {} });
        expect(textOf(result)).toBe('Bearer upstream.recorder.task-all.whoami');
      }
      const seen = h.recorder.authorizations;
      expect(seen).toContain('Bearer upstream.recorder.task-all.whoami');
      expect(seen.some((a) => a.includes('agent-secret'))).toBe(false);
      // Connection-level requests (initialize, its notification) belong to no task: no token.
      expect(seen[0]).toBe('');
    });

    it('sends each call to the instance of its task (manifest instances: task)', async () => {
      const pidOf = async (client: Client) =>
        (
          JSON.parse(
            textOf(await client.callTool({ name: 'pertask__report_env', arguments: {} })),
          ) as { pid: number }
        ).pid;
      const mine = track(await connectV2(h.url(), 'all', 'modern'));
      const again = track(await connectV2(h.url(), 'all', 'legacy'));
      const theirs = track(await connectV2(h.url(), 'other', 'modern'));
      const [first, second, other] = [await pidOf(mine), await pidOf(again), await pidOf(theirs)];
      expect(second).toBe(first);
      expect(other).not.toBe(first);
    });

    it('answers a JSON-RPC error naming the integration when its server crashes mid-call', async () => {
      const client = track(await connectV2(h.url(), 'all', 'legacy'));
      const started = Date.now();
      const error = await client.callTool({ name: 'crashy__crash', arguments: { ms: 100 } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as Error).message).toMatch(
        /^integration crashy: the server exited with code 1/,
      );
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });

  describe('resources, prompts, completion (spec server/resources, server/prompts, utilities/completion)', () => {
    it('merges resources and routes reads by URI, listed or matching a template, to their integration', async () => {
      const client = track(await connectV2(h.url(), 'all', 'modern'));
      const uris = (await client.listResources()).resources.map((r) => r.uri);
      expect(uris).toEqual(expect.arrayContaining(['test://static-text', 'probe://counter']));
      const templates = (await client.listResourceTemplates()).resourceTemplates;
      expect(templates.map((t) => t.uriTemplate)).toContain('test://template/{id}/data');

      const text = await client.readResource({ uri: 'test://static-text' });
      expect(text.contents[0]).toMatchObject({
        text: 'This is the content of the static text resource.',
      });
      const templated = await client.readResource({ uri: 'test://template/42/data' });
      expect(JSON.parse((templated.contents[0] as { text: string }).text)).toMatchObject({
        id: '42',
      });
      const counter = await client.readResource({ uri: 'probe://counter' });
      expect(counter.contents[0]).toMatchObject({ uri: 'probe://counter', mimeType: 'text/plain' });
      await expect(client.readResource({ uri: 'nowhere://at-all' })).rejects.toBeInstanceOf(
        ProtocolError,
      );
      await expect(client.readResource({ uri: 'nowhere://at-all' })).rejects.toMatchObject({
        code: -32602,
        message: 'Resource not found: nowhere://at-all',
      });
    });

    it('namespaces prompts on /mcp and keeps their names on /mcp/<integration>', async () => {
      const aggregate = track(await connectV2(h.url(), 'all', 'legacy'));
      const names = (await aggregate.listPrompts()).prompts.map((p) => p.name);
      expect(names).toEqual(
        expect.arrayContaining([
          'fixture__test_simple_prompt',
          'fixture__test_prompt_with_arguments',
        ]),
      );
      const got = await aggregate.getPrompt({
        name: 'fixture__test_prompt_with_arguments',
        arguments: { arg1: 'a', arg2: 'b' },
      });
      expect(got.messages[0]?.content).toMatchObject({
        text: "Prompt with arguments: arg1='a', arg2='b'",
      });
      const single = track(await connectV2(h.url('fixture'), 'all', 'modern'));
      expect((await single.listPrompts()).prompts.map((p) => p.name)).toContain(
        'test_simple_prompt',
      );
      const simple = await single.getPrompt({ name: 'test_simple_prompt' });
      expect(simple.messages).toHaveLength(1);
    });

    it('routes completion/complete by prompt name and by resource template', async () => {
      const client = track(await connectV2(h.url(), 'all', 'modern'));
      const prompt = await client.complete({
        ref: { type: 'ref/prompt', name: 'fixture__test_prompt_with_arguments' },
        argument: { name: 'arg1', value: 'a' },
      });
      expect(prompt.completion.values).toEqual(['alpha']);
      const template = await client.complete({
        ref: { type: 'ref/resource', uri: 'test://template/{id}/data' },
        argument: { name: 'id', value: '4' },
      });
      expect(template.completion.values).toEqual(['42']);
    });
  });

  describe('capabilities and availability (spec basic/lifecycle)', () => {
    it('advertises only what the upstreams can do, and never tasks', async () => {
      const aggregate = track(await connectV2(h.url(), 'all', 'legacy'));
      const all = aggregate.getServerCapabilities();
      expect(all).toMatchObject({
        tools: { listChanged: true },
        resources: { listChanged: true, subscribe: true },
        prompts: { listChanged: true },
        completions: {},
        // The fixture logs (utilities/logging); logging/setLevel is answered by the gateway.
        logging: {},
      });
      const recorder = track(await connectV2(h.url('recorder'), 'all', 'modern'));
      const only = recorder.getServerCapabilities();
      expect(only?.tools).toEqual({ listChanged: true });
      expect(only?.resources).toBeUndefined();
      expect(only?.prompts).toBeUndefined();
      expect(only?.completions).toBeUndefined();
      expect(only).not.toHaveProperty('logging');
      for (const caps of [all, only]) expect(caps).not.toHaveProperty('tasks');
    });

    it('answers /mcp/<integration> that is not ready with a JSON-RPC error naming it', async () => {
      for (const era of ['modern', 'legacy'] as const) {
        await expect(connectV2(h.url('disabled'), 'all', era)).rejects.toThrow(
          /integration disabled is not available \(refused\)/,
        );
      }
    });

    it('answers 2025-era POSTs as JSON unless a progress token asks for a stream (REFERENCES §A2.2)', async () => {
      const post = (body: unknown) =>
        fetch(h.url(), {
          method: 'POST',
          headers: {
            [GRANT_HEADER]: 'all',
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-protocol-version': '2025-11-25',
          },
          body: JSON.stringify(body),
        });
      const plain = await post({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'fixture__test_simple_text', arguments: {} },
      });
      expect(plain.headers.get('content-type')).toContain('application/json');
      expect(((await plain.json()) as { result: unknown }).result).toMatchObject({
        content: [{ type: 'text', text: 'This is a simple text response for testing.' }],
      });
      const streamed = await post({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: {
          name: 'fixture__test_tool_with_progress',
          arguments: {},
          _meta: { progressToken: 'p' },
        },
      });
      expect(streamed.headers.get('content-type')).toContain('text/event-stream');
      const frames = await streamed.text();
      expect(frames).toContain('"progressToken":"p"');
      const deleted = await fetch(h.url(), {
        method: 'DELETE',
        headers: { [GRANT_HEADER]: 'all' },
      });
      expect(deleted.status).toBe(405);
      expect(await deleted.json()).toEqual({
        jsonrpc: '2.0',
        error: { code: -32000, message: 'Method not allowed.' },
        id: null,
      });
    });
  });

  describe('change notifications (spec server/tools "List Changed Notification"; draft basic/patterns/subscriptions)', () => {
    /** A 2025 client whose GET stream is open (it opens it by itself after initialize). */
    async function legacyWithStream(grantName: string): Promise<Client> {
      const opened = signal();
      const spy: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        if (init?.method === 'GET' && response.ok) opened.fire();
        return response;
      };
      const client = track(await connectV2(h.url(), grantName, 'legacy', spy));
      await within(opened.promise, 5_000, 'GET stream');
      return client;
    }

    it('passes an upstream tools/list_changed to 2025 GET streams and 2026 listen streams that can see it', async () => {
      const legacy = await legacyWithStream('all');
      const legacyHeard = signal();
      legacy.setNotificationHandler('notifications/tools/list_changed', () => legacyHeard.fire());

      const modern = track(await connectV2(h.url(), 'all', 'modern'));
      const modernHeard = signal();
      modern.setNotificationHandler('notifications/tools/list_changed', () => modernHeard.fire());
      const subscription = await modern.listen({ toolsListChanged: true });
      expect(subscription.honoredFilter).toEqual({ toolsListChanged: true });

      // A client that cannot see probe must not hear about it.
      const outsider = track(await connectV2(h.url(), 'fixture-only', 'modern'));
      let outsiderHeard = 0;
      const outsiderBarrier = signal();
      outsider.setNotificationHandler('notifications/tools/list_changed', () => {
        outsiderHeard += 1;
        outsiderBarrier.fire();
      });
      await outsider.listen({ toolsListChanged: true });

      const caller = track(await connectV2(h.url(), 'all', 'legacy'));
      const grown = textOf(await caller.callTool({ name: 'probe__grow', arguments: {} }));
      await within(Promise.all([legacyHeard.promise, modernHeard.promise]), 5_000, 'list_changed');
      const names = (await modern.listTools(undefined, { cacheMode: 'bypass' })).tools.map(
        (t) => t.name,
      );
      expect(names).toContain(`probe__${grown}`);
      // A barrier instead of a sleep: a change the outsider can see, made after probe's. Its
      // stream is ordered, so once it hears this one, probe's would have come before it.
      const toggle = () =>
        caller.callTool({ name: 'fixture__test_trigger_tool_change', arguments: {} });
      expect(textOf(await toggle())).toBe('test_dynamic_tool is now listed');
      await within(outsiderBarrier.promise, 5_000, 'the fixture list_changed');
      expect(outsiderHeard).toBe(1);
      expect(textOf(await toggle())).toBe('test_dynamic_tool is now hidden');
      await subscription.close();
    });

    it('announces a registry change (reload, ready, failed) as list_changed on both eras', async () => {
      const legacy = await legacyWithStream('all');
      const legacyHeard = signal();
      legacy.setNotificationHandler('notifications/tools/list_changed', () => legacyHeard.fire());
      const modern = track(await connectV2(h.url('crashy'), 'all', 'modern'));
      const modernHeard = signal();
      modern.setNotificationHandler('notifications/tools/list_changed', () => modernHeard.fire());
      await modern.listen({ toolsListChanged: true });
      await h.registry.reload('crashy');
      await within(Promise.all([legacyHeard.promise, modernHeard.promise]), 5_000, 'list_changed');
      expect((await modern.listTools()).tools.map((t) => t.name)).toContain('sleep');
    });

    it('passes an upstream resources/updated to the subscribers of that URI on both eras', async () => {
      const legacy = await legacyWithStream('all');
      const legacyHeard = signal<string>();
      legacy.setNotificationHandler('notifications/resources/updated', (n) =>
        legacyHeard.fire(n.params.uri),
      );
      await legacy.subscribeResource({ uri: 'probe://counter' });

      const modern = track(await connectV2(h.url(), 'all', 'modern'));
      const modernHeard = signal<string>();
      modern.setNotificationHandler('notifications/resources/updated', (n) =>
        modernHeard.fire(n.params.uri),
      );
      const subscription = await modern.listen({ resourceSubscriptions: ['probe://counter'] });
      expect(subscription.honoredFilter).toEqual({ resourceSubscriptions: ['probe://counter'] });

      const caller = track(await connectV2(h.url(), 'all', 'legacy'));
      // The upstream subscription is made asynchronously after listen's ack: bump until heard.
      await eventually(async () => {
        await caller.callTool({ name: 'probe__bump', arguments: {} });
        await within(Promise.all([legacyHeard.promise, modernHeard.promise]), 500, 'update');
      });
      expect(await legacyHeard.promise).toBe('probe://counter');
      expect(await modernHeard.promise).toBe('probe://counter');
      await legacy.unsubscribeResource({ uri: 'probe://counter' });
      await subscription.close();
    });
  });
});
