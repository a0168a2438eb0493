/**
 * Attacks on the agent-facing MCP endpoints (/mcp, /mcp/<integration>) by a hostile agent
 * holding a real, narrow task token: whole gateway, real tokens, real stdio upstreams
 * (test/fixtures/mcp-integrations, policy test/fixtures/mcp-gateway/policy.yaml).
 */

import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import {
  eventually,
  grantTask,
  integrationOf,
  messagesOf,
  post,
  toolCall,
  toolEvents,
  useMcpGateway,
} from '../helpers/mcp-gateway.ts';

describe('MCP endpoints under attack', () => {
  const gw = useMcpGateway();

  describe('L1: JSON-RPC batches', () => {
    /** crashy allows 5 requests a minute per token (policy); the batch holds 12 calls. */
    const batch = (prefix: string) =>
      Array.from({ length: 12 }, (_, n) => toolCall(n + 1, `${prefix}sleep`, { ms: 1 }));

    const refused = {
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32600,
        message: 'Invalid Request: JSON-RPC batches are not supported; send one message per POST',
      },
    };

    it('a batch is refused (-32600, 400) even in a body the route does not parse (text/plain)', async () => {
      const granted = await grantTask(gw(), ['crashy:*']);
      const crashy = integrationOf(granted, 'crashy');
      for (const [url, token, prefix] of [
        [granted.mcp.url, granted.mcp.token, 'crashy__'],
        [crashy.url, crashy.token, ''],
      ] as const) {
        const res = await post(url, token, batch(prefix), {
          headers: { 'content-type': 'text/plain' },
        });
        expect(res.status).toBe(400);
        expect(await res.json()).toEqual(refused);
      }
    });

    it('a batch of 12 calls neither runs nor uses the rate limit, on /mcp and /mcp/<name>', async () => {
      const granted = await grantTask(gw(), ['crashy:*']);
      const crashy = integrationOf(granted, 'crashy');
      for (const [url, token, prefix] of [
        [granted.mcp.url, granted.mcp.token, 'crashy__'],
        [crashy.url, crashy.token, ''],
      ] as const) {
        for (let n = 0; n < 3; n++) {
          const res = await post(url, token, batch(prefix));
          expect(res.status).toBe(400);
          expect(await res.json()).toEqual(refused);
        }
      }
      // The refused batches used none of the rate limit: 5 single calls pass, the 6th is 429.
      for (let n = 1; n <= 5; n++) {
        const res = await post(crashy.url, crashy.token, toolCall(100 + n, 'sleep', { ms: 1 }));
        expect(res.status).toBe(200);
        const [answer] = messagesOf(res.headers.get('content-type'), await res.text());
        expect(answer).toMatchObject({ id: 100 + n, result: { content: [{ text: 'slept 1' }] } });
      }
      const sixth = await post(crashy.url, crashy.token, toolCall(106, 'sleep', { ms: 1 }));
      expect(sixth.status).toBe(429);
      expect(await sixth.json()).toMatchObject({ error: { code: 'rate_limited' } });
      // And none of the 72 batched calls ran: the task's events are the 5 single calls alone
      // (the batch's, had it run, would have been recorded before them).
      const events = await eventually(async () => {
        const found = await toolEvents(gw(), granted.task.id);
        expect(found).toHaveLength(5);
        return found;
      });
      expect(events.map((e) => [e.integration, e.tool, e.ok])).toEqual(
        Array.from({ length: 5 }, () => ['crashy', 'sleep', true]),
      );
    });
  });

  describe('M4: resources, prompts and completions need the whole integration', () => {
    /** One 2025-era request; its JSON-RPC answer. */
    async function rpc(
      url: string,
      token: string,
      method: string,
      params: Record<string, unknown> = {},
    ): Promise<Record<string, unknown>> {
      const res = await post(url, token, { jsonrpc: '2.0', id: 1, method, params });
      const [answer] = messagesOf(res.headers.get('content-type'), await res.text());
      return answer ?? {};
    }

    /** Every request of the area, with what names fixture's things on /mcp/fixture or /mcp. */
    const requests = (prefix: string): Array<[string, Record<string, unknown>]> => [
      ['resources/list', {}],
      ['resources/templates/list', {}],
      ['resources/read', { uri: 'test://static-text' }],
      ['resources/subscribe', { uri: 'test://watched-resource' }],
      ['prompts/list', {}],
      ['prompts/get', { name: `${prefix}test_simple_prompt` }],
      [
        'completion/complete',
        {
          ref: { type: 'ref/prompt', name: `${prefix}test_prompt_with_arguments` },
          argument: { name: 'arg1', value: 'al' },
        },
      ],
    ];

    it('a token scoped to one tool of fixture gets none of them on /mcp/fixture (2025 era)', async () => {
      const granted = await grantTask(gw(), ['fixture:test_simple_text']);
      const fixture = integrationOf(granted, 'fixture');
      // Its tool still works.
      const call = await rpc(fixture.url, fixture.token, 'tools/call', {
        name: 'test_simple_text',
      });
      expect(call).toMatchObject({ result: { content: [{ type: 'text' }] } });
      for (const [method, params] of requests('')) {
        const answer = await rpc(fixture.url, fixture.token, method, params);
        expect({ method, answer }).toMatchObject({
          method,
          answer: { error: { code: -32601 } },
        });
        expect(answer.result).toBeUndefined();
      }
      // The server does not even advertise them.
      const hello = await rpc(fixture.url, fixture.token, 'initialize', {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'attacker', version: '1' },
      });
      const capabilities = (hello.result as { capabilities: Record<string, unknown> }).capabilities;
      expect(Object.keys(capabilities).sort()).toEqual(['logging', 'tools']);
    });

    it('…nor on the aggregate /mcp, where another integration granted whole still serves its own', async () => {
      const granted = await grantTask(gw(), ['fixture:test_simple_text', 'probe:*']);
      const { url, token } = granted.mcp;
      const listed = await rpc(url, token, 'resources/list');
      const uris = (listed.result as { resources: Array<{ uri: string }> }).resources.map(
        (r) => r.uri,
      );
      expect(uris).toEqual(['probe://counter']);
      const templates = await rpc(url, token, 'resources/templates/list');
      expect(templates.result).toEqual({ resourceTemplates: [] });
      // A URI is routed among the integrations the view may read: never to fixture (the only one
      // left, probe, answers every URI it is asked for with its counter).
      const read = await rpc(url, token, 'resources/read', { uri: 'test://static-text' });
      expect(read).toMatchObject({
        result: { contents: [{ uri: 'test://static-text', text: '0' }] },
      });
      expect(JSON.stringify(read)).not.toContain('static text resource');
      const counter = await rpc(url, token, 'resources/read', { uri: 'probe://counter' });
      expect(counter).toMatchObject({ result: { contents: [{ uri: 'probe://counter' }] } });
      // probe has no prompts or completions, fixture's are not served: none is offered.
      for (const [method, params] of requests('fixture__').slice(4)) {
        const answer = await rpc(url, token, method, params);
        expect({ method, answer }).toMatchObject({ method, answer: { error: { code: -32601 } } });
      }
    });

    it('2026-07-28 clients are refused alike', async () => {
      const granted = await grantTask(gw(), ['fixture:test_simple_text']);
      const fixture = integrationOf(granted, 'fixture');
      const client = new Client(
        { name: 'attacker-modern', version: '1.0.0' },
        { versionNegotiation: { mode: 'auto' } },
      );
      await client.connect(
        new StreamableHTTPClientTransport(new URL(fixture.url), {
          requestInit: { headers: { authorization: `Bearer ${fixture.token}` } },
        }),
      );
      try {
        expect(client.getProtocolEra()).toBe('modern');
        const capabilities = client.getServerCapabilities() ?? {};
        expect(capabilities.resources).toBeUndefined();
        expect(capabilities.prompts).toBeUndefined();
        expect(capabilities.completions).toBeUndefined();
        for (const [method, params] of requests('')) {
          if (method === 'resources/subscribe') continue; // not a 2026-07-28 method
          // 2026-07-28 over HTTP: -32601 travels as HTTP 404, which the client reports as such.
          const outcome = await client.request({ method, params } as never).then(
            () => 'answered',
            (e: unknown) => (e as { data?: { status?: number; text?: string } }).data,
          );
          expect({ method, outcome }).toEqual({
            method,
            outcome: {
              status: 404,
              statusText: 'Not Found',
              text: expect.stringContaining('"error":{"code":-32601,"message":"Method not found"}'),
            },
          });
        }
      } finally {
        await client.close();
      }
    });

    it('a fixture:* token gets all of them, on both endpoints', async () => {
      const granted = await grantTask(gw(), ['fixture:*']);
      const fixture = integrationOf(granted, 'fixture');
      for (const [url, token, prefix] of [
        [fixture.url, fixture.token, ''],
        [granted.mcp.url, granted.mcp.token, 'fixture__'],
      ] as const) {
        for (const [method, params] of requests(prefix)) {
          const answer = await rpc(url, token, method, params);
          expect({ method, error: answer.error }).toEqual({ method, error: undefined });
          expect(answer.result).toEqual(expect.any(Object));
        }
        const read = await rpc(url, token, 'resources/read', { uri: 'test://static-text' });
        expect(read).toMatchObject({
          result: { contents: [{ text: 'This is the content of the static text resource.' }] },
        });
      }
    });
  });

  describe('L2: metric labels', () => {
    /** The label sets (bucket bounds aside) of the tool-call metrics in a /metrics text. */
    function toolSeries(text: string): string[] {
      const sets = new Set<string>();
      for (const line of text.split('\n')) {
        const match = /^(switchboard_tool_call[a-z_]*)\{([^}]*)\}/.exec(line);
        if (!match) continue;
        const labels = match[2]!.split(',').filter((l) => !l.startsWith('le='));
        sets.add(`${match[1]!.replace(/_(bucket|sum|count)$/, '')}{${labels.join(',')}}`);
      }
      return [...sets].sort();
    }

    it('200 calls with made-up integration and tool names add three label sets, not 200', async () => {
      const before = toolSeries(await (await fetch(`${gw().url}/metrics`)).text());
      const granted = await grantTask(gw(), ['*:*']);
      const fixture = integrationOf(granted, 'fixture');
      const random = () => Math.random().toString(36).slice(2, 10);
      for (let n = 0; n < 100; n++) {
        const onAggregate = await post(
          granted.mcp.url,
          granted.mcp.token,
          toolCall(n, `x${random()}__t${random()}`),
        );
        expect(onAggregate.status).toBe(200);
        const onFixture = await post(fixture.url, fixture.token, toolCall(n, `t${random()}`));
        expect(onFixture.status).toBe(200);
        const [answer] = messagesOf(onFixture.headers.get('content-type'), await onFixture.text());
        expect(answer).toMatchObject({ error: { code: -32602 } });
      }
      // A real call, for a known label set to compare with.
      await post(fixture.url, fixture.token, toolCall(999, 'test_simple_text'));
      const after = await eventually(async () => {
        const text = await (await fetch(`${gw().url}/metrics`)).text();
        expect(text).toMatch(
          /switchboard_tool_calls_total\{[^}]*tool="test_simple_text"[^}]*\} [1-9]/,
        );
        expect(text).toContain(
          'switchboard_tool_calls_total{integration="unknown",tool="unknown",outcome="error"} 100',
        );
        return toolSeries(text);
      });
      // 200 made-up names: three label sets, whatever the names.
      expect(after.filter((series) => series.includes('"unknown"'))).toEqual([
        'switchboard_tool_call_duration_seconds{integration="unknown"}',
        'switchboard_tool_calls_total{integration="fixture",tool="unknown",outcome="error"}',
        'switchboard_tool_calls_total{integration="unknown",tool="unknown",outcome="error"}',
      ]);
      // With the real call's own (at most two): a fixed handful, not one per name.
      expect(after.filter((series) => !before.includes(series)).length).toBeLessThanOrEqual(5);
      // Nothing the agent made up is a label value.
      expect(after.join('\n')).not.toMatch(/"x[a-z0-9]+"|"t[a-z0-9]{8}"/);
    });
  });

  describe('L3: exchanges end with their token', () => {
    /** How an exchange ended, observed from the moment it opens (so no rejection goes unseen). */
    function outcome(exchange: Promise<unknown>): Promise<string> {
      return exchange.then(
        () => 'ended',
        (e: unknown) => `cut: ${(e as Error).message}`,
      );
    }

    /** The outcome, or a failure after `ms` (a deadline, not a sleep). */
    function ended(exchange: Promise<string>, what: string, ms = 10_000): Promise<string> {
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([
        exchange,
        new Promise<string>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${what} still open after ${ms} ms`)), ms);
        }),
      ]).finally(() => clearTimeout(timer));
    }

    /** A GET stream (2025 "listening for messages"): resolves when its body ends or breaks. */
    /** (Its outcome is wrapped: an async function returning a promise would wait for it.) */
    async function openGetStream(url: string, token: string): Promise<{ done: Promise<string> }> {
      const res = await fetch(url, {
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'text/event-stream',
          'mcp-protocol-version': '2025-11-25',
        },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      return { done: outcome(res.text()) };
    }

    /** A call that would run a minute, once the upstream runs it. */
    async function openLongCall(url: string, token: string, tag: string, name = 'probe__sleep') {
      const call = outcome(
        post(url, token, toolCall(tag, name, { ms: 60_000, tag })).then((r) => r.text()),
      );
      await eventually(async () => {
        const res = await post(url, token, toolCall('s', name.replace('sleep', 'sleeping')));
        expect(await res.text()).toContain(tag);
      });
      return { done: call };
    }

    async function upstreamCancelled(tag: string): Promise<void> {
      const checker = await grantTask(gw(), ['probe:*']);
      await eventually(async () => {
        const res = await post(
          checker.mcp.url,
          checker.mcp.token,
          toolCall(1, 'probe__cancellations'),
        );
        expect(await res.text()).toContain(tag);
      });
    }

    it('ending the task cuts its GET streams, listen streams and calls in flight', async () => {
      const granted = await grantTask(gw(), ['probe:*']);
      const probe = integrationOf(granted, 'probe');
      const getAggregate = await openGetStream(granted.mcp.url, granted.mcp.token);
      const getProbe = await openGetStream(probe.url, probe.token);
      const modern = new Client(
        { name: 'listener', version: '1.0.0' },
        { versionNegotiation: { mode: 'auto' } },
      );
      await modern.connect(
        new StreamableHTTPClientTransport(new URL(granted.mcp.url), {
          requestInit: { headers: { authorization: `Bearer ${granted.mcp.token}` } },
        }),
      );
      const listen = await modern.listen({ toolsListChanged: true });
      const call = await openLongCall(granted.mcp.url, granted.mcp.token, 'revoked-call');
      const res = await fetch(`${gw().url}/api/v1/tasks/${granted.task.id}/complete`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ result: 'done' }),
      });
      expect(res.status).toBe(200);
      try {
        expect(await ended(getAggregate.done, 'the /mcp GET stream')).toMatch(/^(ended|cut)/);
        expect(await ended(getProbe.done, 'the /mcp/probe GET stream')).toMatch(/^(ended|cut)/);
        expect(await ended(outcome(listen.closed), 'the listen stream')).toBe('ended');
        expect(await listen.closed).toBe('remote');
        // The call got no answer (its connection was cut) and was cancelled upstream.
        expect(await ended(call.done, 'the call')).toMatch(/^cut/);
        await upstreamCancelled('revoked-call');
      } finally {
        await modern.close().catch(() => {});
      }
    });

    it('an exchange open when its token expires is cut too', async () => {
      const granted = await grantTask(gw(), ['probe:*'], '4s');
      const getStream = await openGetStream(granted.mcp.url, granted.mcp.token);
      const call = await openLongCall(granted.mcp.url, granted.mcp.token, 'expired-call');
      expect(await ended(getStream.done, 'the GET stream', 15_000)).toMatch(/^(ended|cut)/);
      expect(await ended(call.done, 'the call', 15_000)).toMatch(/^cut/);
      await upstreamCancelled('expired-call');
    });
  });
});

describe('L2: /metrics with policy metrics.requireKey', () => {
  const gw = useTestGateway({
    SWITCHBOARD_POLICY: path.join(REPO_ROOT, 'test/fixtures/mcp-gateway/metrics-key-policy.yaml'),
  });

  async function keyWith(scopes: string[]): Promise<string> {
    const res = await fetch(`${gw().url}/api/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `metrics-${scopes.join('-')}`, scopes }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { key: string }).key;
  }

  const scrape = (key?: string) =>
    fetch(`${gw().url}/metrics`, key ? { headers: { authorization: `Bearer ${key}` } } : {});

  it('refuses a scrape without a key (401), with a key lacking metrics:read (403)', async () => {
    const anonymous = await scrape();
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { code: 'unauthorized' } });
    expect((await scrape('sbk_not-a-key')).status).toBe(401);
    const tasksOnly = await scrape(await keyWith(['tasks:read']));
    expect(tasksOnly.status).toBe(403);
    expect(await tasksOnly.json()).toMatchObject({
      error: { code: 'forbidden', message: 'this API key lacks the scope metrics:read' },
    });
  });

  it('answers a key with metrics:read (and the admin key)', async () => {
    for (const key of [await keyWith(['metrics:read']), ADMIN_KEY]) {
      const res = await scrape(key);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('http_request_duration_seconds');
    }
    // Health probes stay open.
    expect((await fetch(`${gw().url}/healthz`)).status).toBe(200);
  });
});
