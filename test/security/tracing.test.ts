/**
 * Issue 17's hostile pass on tracing, with a real `switchboard start` exporting to an OTLP
 * receiver in the test: what a client, an agent or a webhook sender can put in trace context,
 * and what of the gateway's exporter configuration reaches the programs it starts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, REPO_ROOT } from '../helpers/gateway.ts';
import { type GatewayProcess, startGatewayProcess } from '../helpers/gateway-process.ts';
import {
  type OtlpReceiver,
  type ReceivedSpan,
  startOtlpReceiver,
} from '../helpers/otlp-receiver.ts';
import { until } from '../helpers/until.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-tracing-sec-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const POLICY = path.join(tmp, 'policy.yaml');
fs.writeFileSync(
  POLICY,
  'apiVersion: switchboard/policy/v1\nintegrations:\n  probe: { enabled: true }\n  fixture: { enabled: true }\ntokens: { defaultTtl: 15m, maxTtl: 2h }\n',
);
/** A vendor's credential in the exporter's headers: the gateway's own, for its own export. */
const VENDOR_KEY = 'vendor-api-key-never-passed-on-0123456789';
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

/** Until the named integrations are ready (they start in the background after listen). */
async function ready(gw: GatewayProcess, names: string[]): Promise<void> {
  await until(`${names.join(', ')} ready`, async () => {
    const res = await fetch(`${gw.url}/api/v1/integrations`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    const { integrations } = (await res.json()) as {
      integrations: Array<{ name: string; state: string }>;
    };
    const up = integrations.filter((i) => i.state === 'ready').map((i) => i.name);
    return names.every((n) => up.includes(n)) ? true : undefined;
  });
}

type Granted = {
  task: { id: string };
  integrations: Array<{ name: string; url: string; token: string }>;
};

describe('tracing under hostile input (issue 17)', () => {
  let receiver: OtlpReceiver;
  let gw: GatewayProcess;
  let granted: Granted;
  const clients: Client[] = [];

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    gw = await startGatewayProcess({
      // servers/ last: its fixture (report_env visible) overrides the test one by name.
      INTEGRATION_DIRS: `${path.join(REPO_ROOT, 'test/fixtures/mcp-integrations')}:${path.join(REPO_ROOT, 'servers')}`,
      SWITCHBOARD_POLICY: POLICY,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_HEADERS: `x-vendor-key=${VENDOR_KEY}`,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    await ready(gw, ['probe', 'fixture']);
    const res = await fetch(`${gw.url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        external: true,
        scope: ['probe:*', 'fixture:report_env'],
        prompt: 'x',
      }),
    });
    expect(res.status).toBe(201);
    granted = (await res.json()) as Granted;
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await gw?.cleanup();
    await receiver?.close();
  });

  async function connect(integration: string, headers: Record<string, string> = {}) {
    const endpoint = granted.integrations.find((i) => i.name === integration)!;
    const client = new Client({ name: 'hostile', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(endpoint.url), {
        requestInit: { headers: { authorization: `Bearer ${endpoint.token}`, ...headers } },
      }),
    );
    clients.push(client);
    return client;
  }

  const whoami = async (client: Client, meta: Record<string, unknown>) => {
    const result = await client.callTool({ name: 'whoami', arguments: {}, _meta: meta });
    expect(result.isError, JSON.stringify(result)).not.toBe(true);
    return (result.structuredContent as { meta: Record<string, unknown> }).meta;
  };

  it('a malformed or oversized _meta.traceparent is not continued: the call works, the upstream gets the gateway’s own', async () => {
    const client = await connect('probe');
    for (const [label, bad] of [
      ['10 KB', `00-${TRACE}-00f067aa0ba902b7-01${'x'.repeat(10_000)}`],
      ['a header injection', `00-${TRACE}-00f067aa0ba902b7-01\r\nx-evil: 1`],
      ['an all-zero trace id', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`],
      ['an object', { traceparent: 'nested' }],
    ] as const) {
      const seen = await whoami(client, { traceparent: bad, tracestate: 'k=v' });
      const sent = String(seen.traceparent);
      expect(sent, label).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(sent, label).not.toContain(TRACE);
    }
    const spans = await receiver.waitFor(
      (all) => all.filter((s) => s.name === 'tools/call whoami' && s.kind === 'SERVER').length >= 4,
    );
    for (const span of spans.filter((s) => s.name === 'tools/call whoami' && s.kind === 'SERVER')) {
      // The request's own span stands for the call (the garbage names no parent): a new trace.
      expect(span.traceId).not.toBe(TRACE);
      expect(span.parentSpanId).toBeUndefined();
      expect(span.attributes).toMatchObject({
        'http.route': '/mcp/:integration',
        'mcp.method.name': 'tools/call',
      });
    }
  });

  it('a valid _meta.traceparent is continued, and a 10 KB tracestate does not travel on whole', async () => {
    const client = await connect('probe');
    const parent = `00-${TRACE}-00f067aa0ba902b7-01`;
    const seen = await whoami(client, {
      traceparent: parent,
      tracestate: `k=${'v'.repeat(10_000)}`,
    });
    expect(String(seen.traceparent)).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    expect(String(seen.tracestate ?? '').length).toBeLessThanOrEqual(512);
    const spans = await receiver.waitFor((all) =>
      all.some((s) => s.traceId === TRACE && s.name === 'tools/call whoami' && s.kind === 'SERVER'),
    );
    const server = spans.find((s) => s.traceId === TRACE && s.kind === 'SERVER')!;
    expect(server.parentSpanId).toBe('00f067aa0ba902b7');
  });

  it('a webhook sender cannot choose the trace: /hooks ignores its traceparent (see trace-e2e.test.ts); /mcp may continue a client’s', async () => {
    const client = await connect('probe', { traceparent: `00-${TRACE}-1111111111111111-01` });
    await whoami(client, {});
    const call = (s: ReceivedSpan) =>
      s.traceId === TRACE &&
      s.parentSpanId === '1111111111111111' &&
      s.name === 'tools/call whoami';
    const spans = await receiver.waitFor((all) => all.some(call));
    const http = spans.find(call);
    // One span for the HTTP request and the tools/call it carried (no _meta of its own).
    expect(http).toMatchObject({ kind: 'SERVER', name: 'tools/call whoami' });
    expect(http?.attributes).toMatchObject({ 'http.route': '/mcp/:integration' });
  });

  it('an integration gets the OTLP endpoint for its own spans, never the exporter’s headers (a vendor key)', async () => {
    const client = await connect('fixture');
    const result = await client.callTool({ name: 'report_env', arguments: {} });
    const env = JSON.parse((result.content as Array<{ text: string }>)[0]!.text) as Record<
      string,
      string
    >;
    expect(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).toBe(`${receiver.url}/v1/traces`);
    expect(env.OTEL_SERVICE_NAME).toBe('fixture');
    expect(env).not.toHaveProperty('OTEL_EXPORTER_OTLP_HEADERS');
    expect(env).not.toHaveProperty('OTEL_EXPORTER_OTLP_ENDPOINT');
    expect(JSON.stringify(env)).not.toContain(VENDOR_KEY);
  });

  it('the exporter’s own headers reach the collector; no span carries a token or the vendor key', async () => {
    await until('an export', async () => (receiver.requests.length > 0 ? true : undefined));
    expect(receiver.requests.some((r) => r.headers['x-vendor-key'] === VENDOR_KEY)).toBe(true);
    const text = JSON.stringify(receiver.spans, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
    for (const secret of [VENDOR_KEY, ADMIN_KEY, ...granted.integrations.map((i) => i.token)]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toContain('Bearer');
    const attributeValues = receiver.spans.flatMap((s: ReceivedSpan) =>
      Object.values(s.attributes),
    );
    for (const value of attributeValues) expect(String(value).length).toBeLessThanOrEqual(1024);
  });
});

describe('a collector that is down (issue 17: exporting never blocks the gateway)', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await startGatewayProcess({
      INTEGRATION_DIRS: path.join(REPO_ROOT, 'test/fixtures/mcp-integrations'),
      SWITCHBOARD_POLICY: POLICY,
      // Nothing listens on port 9 of the loopback.
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_BSP_MAX_QUEUE_SIZE: '64',
      OTEL_EXPORTER_OTLP_TIMEOUT: '500',
    });
    await ready(gw, ['probe']);
  }, 120_000);
  afterAll(async () => {
    await gw?.cleanup();
  });

  it('serves 40 tool calls while every export fails, and says so in its log', async () => {
    const res = await fetch(`${gw.url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external: true, scope: ['probe:*'], prompt: 'x' }),
    });
    expect(res.status).toBe(201);
    const granted = (await res.json()) as Granted;
    const endpoint = granted.integrations.find((i) => i.name === 'probe')!;
    const client = new Client({ name: 'busy', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(endpoint.url), {
        requestInit: { headers: { authorization: `Bearer ${endpoint.token}` } },
      }),
    );
    try {
      for (let i = 0; i < 40; i++) {
        const result = await client.callTool({ name: 'whoami', arguments: {} });
        expect(result.isError).not.toBe(true);
      }
    } finally {
      await client.close();
    }
    await until('an export failure logged', async () =>
      gw.logs.some((l) => String(l.msg).startsWith('tracing:')) ? true : undefined,
    );
    const health = await fetch(`${gw.url}/readyz`);
    expect(health.status).toBe(200);
  });
});
