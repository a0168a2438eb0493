import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import * as z from 'zod';
import { type FakeGitHub, startFakeGitHub } from '../helpers/fake-github.ts';
import {
  type OtlpReceiver,
  type ReceivedSpan,
  startOtlpReceiver,
} from '../helpers/otlp-receiver.ts';
import { manifestTransport } from '../helpers/server-transport.ts';

// The github example traced (issue 17): started as the gateway starts it (its manifest's
// command, the environment the gateway gives it: settings plus the OTLP variables of
// telemetry/child-env.ts), called over real stdio with `_meta.traceparent`, exporting to an
// in-process OTLP receiver. Each tool call is a SERVER span continuing the caller's span, each
// GitHub API call a CLIENT span under it with the traceparent header the API receives, and no
// token, header or query string is in any span.

const SERVER_DIR = fileURLToPath(new URL('../../servers/github/', import.meta.url));
const TOKEN = 'ghp_trace_token_0123456789';
const manifest = z
  .object({ server: z.object({ command: z.string(), args: z.array(z.string()) }) })
  .parse(parse(readFileSync(path.join(SERVER_DIR, 'switchboard.yaml'), 'utf8')));

/** 28 issues: a realistic list (ids past 9), all open. */
const ISSUES = Array.from({ length: 28 }, (_, i) => ({
  number: i + 1,
  title: `Issue ${i + 1}`,
  author: 'reporter',
  state: 'open' as const,
}));

const hex = (digits: number, seed: number) =>
  Array.from({ length: digits }, (_, i) => ((seed + i * 7) % 16).toString(16)).join('');

/** Everything a span says, as text: the place a token would show if one leaked. */
const spanText = (spans: ReceivedSpan[]) =>
  JSON.stringify(spans, (_, v) => (typeof v === 'bigint' ? v.toString() : v));

describe.each([
  {
    protocol: 'http/protobuf',
    contentType: 'application/x-protobuf',
    // What the gateway sets for an integration's server (telemetry/child-env.ts).
    env: (url: string) => ({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      OTEL_SERVICE_NAME: 'github',
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
    }),
  },
  {
    protocol: 'http/json',
    contentType: 'application/json',
    // The minimum: an endpoint and the protocol; the service name is startTracing's argument.
    env: (url: string) => ({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
    }),
  },
])('the github server traced over $protocol', ({ protocol, contentType, env }) => {
  let receiver: OtlpReceiver;
  let github: FakeGitHub;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    github = await startFakeGitHub({
      token: TOKEN,
      pulls: {
        'acme/api': [
          { number: 42, title: 'Add dark mode', body: 'Adds a toggle.', author: 'octocat' },
        ],
      },
      issues: { 'acme/api': ISSUES },
    });
  });
  afterAll(async () => {
    await github?.close();
    await receiver?.close();
  });

  async function connect() {
    const transport = manifestTransport(SERVER_DIR, manifest.server, {
      GITHUB_TOKEN: TOKEN,
      GITHUB_API_URL: github.url,
      ...env(`${receiver.url}/v1/traces`),
    });
    const client = new Client({ name: `github-tracing-${protocol}`, version: '0.0.0' });
    await client.connect(transport);
    return { client, transport };
  }

  it('a tool call continues _meta.traceparent; its GitHub call is a CLIENT child; flushed when the connection closes', async () => {
    const traceId = hex(32, protocol.length);
    const callerSpans = [hex(16, 1), hex(16, 2), hex(16, 3)];
    const { client } = await connect();
    const calls = [
      { name: 'get_pr', arguments: { repo: 'acme/api', number: 42 } },
      { name: 'list_issues', arguments: { repo: 'acme/api', state: 'open' } },
      { name: 'get_pr', arguments: { repo: 'acme/api', number: 404 } },
    ];
    const results = [];
    for (const [i, call] of calls.entries())
      results.push(
        await client.callTool({
          ...call,
          _meta: {
            traceparent: `00-${traceId}-${callerSpans[i]}-01`,
            tracestate: 'acme=t61rcWkgMzE',
          },
        }),
      );
    expect(results.map((r) => r.isError ?? false)).toEqual([false, false, true]);
    // The API saw each call's CLIENT span as its parent, in the caller's trace.
    expect(github.calls.map((c) => c.traceparent?.slice(0, 35))).toEqual([
      `00-${traceId}`,
      `00-${traceId}`,
      `00-${traceId}`,
    ]);
    // Closing ends the server's stdin: the queued spans are exported before it exits.
    await client.close();
    const spans = receiver.spans;
    expect(receiver.rejected).toEqual([]);
    expect(new Set(receiver.requests.map((r) => r.contentType))).toEqual(new Set([contentType]));
    expect(spans).toHaveLength(6);

    const toolSpans = spans.filter((s) => s.kind === 'SERVER');
    expect(toolSpans.map((s) => s.parentSpanId).sort()).toEqual([...callerSpans].sort());
    for (const [i, call] of calls.entries()) {
      const tool = toolSpans.find((s) => s.parentSpanId === callerSpans[i]);
      expect(tool).toMatchObject({
        traceId,
        name: `tools/call ${call.name}`,
        service: 'github',
        traceState: 'acme=t61rcWkgMzE',
        attributes: {
          'mcp.method.name': 'tools/call',
          'gen_ai.tool.name': call.name,
          'gen_ai.operation.name': 'execute_tool',
        },
      });
      const http = spans.filter((s) => s.parentSpanId === tool?.spanId);
      expect(http).toHaveLength(1);
      expect(http[0]).toMatchObject({
        traceId,
        kind: 'CLIENT',
        name: 'HTTP GET',
        service: 'github',
        attributes: {
          'http.request.method': 'GET',
          'server.address': '127.0.0.1',
          'server.port': Number(new URL(github.url).port),
          'url.scheme': 'http',
        },
      });
      expect(http[0]!.startNs).toBeGreaterThanOrEqual(tool!.startNs);
      // The API received this very span as its parent.
      expect(github.calls[i]?.traceparent).toBe(`00-${traceId}-${http[0]!.spanId}-01`);
    }
    const byPath = (p: string) => spans.find((s) => s.attributes['url.path'] === p);
    expect(byPath('/repos/acme/api/pulls/42')?.attributes['http.response.status_code']).toBe(200);
    // The query string (state=open&per_page=100) is not recorded.
    expect(byPath('/repos/acme/api/issues')?.attributes['http.response.status_code']).toBe(200);
    expect(spanText(spans)).not.toContain('per_page');
    // The 404: the HTTP span failed with its status, the tool span with tool_error.
    const missing = byPath('/repos/acme/api/pulls/404');
    expect(missing).toMatchObject({
      status: { code: 'ERROR' },
      attributes: { 'http.response.status_code': 404, 'error.type': '404' },
    });
    expect(spans.find((s) => s.spanId === missing?.parentSpanId)).toMatchObject({
      status: { code: 'ERROR' },
      attributes: { 'error.type': 'tool_error' },
    });
    // No token, no Authorization header, no header of any kind in any span or resource.
    const text = spanText(spans);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toMatch(/authorization|bearer|http\.request\.header/i);
    expect(github.calls.every((c) => c.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('without _meta a tool call starts its own trace; SIGTERM exports the queued spans before the process exits', async () => {
    const before = receiver.spans.length;
    const { client, transport } = await connect();
    const closed = new Promise<void>((resolve) => {
      client.onclose = () => resolve();
    });
    const result = await client.callTool({
      name: 'list_issues',
      arguments: { repo: 'acme/api', state: 'all' },
    });
    expect(result.isError ?? false).toBe(false);
    // The batch processor holds spans for 5 s; Node's default on SIGTERM is to die at once, so
    // spans there by the time the process has exited were sent by the handler's flush.
    process.kill(transport.pid!, 'SIGTERM');
    await closed;
    const spans = receiver.spans.slice(before);
    expect(spans).toHaveLength(2);
    const tool = spans.find((s) => s.kind === 'SERVER');
    const http = spans.find((s) => s.kind === 'CLIENT');
    expect(tool).toMatchObject({ name: 'tools/call list_issues', parentSpanId: undefined });
    expect(http).toMatchObject({ traceId: tool?.traceId, parentSpanId: tool?.spanId });
    expect(spanText(spans)).not.toContain(TOKEN);
  });
});
