/**
 * Load shedding (issue 19; gateway/src/http/admission.ts) in a real `switchboard start` with an
 * admission limit of 2 and the real stdio `probe` server: two slow tool calls hold both slots;
 * then an MCP call is 503 with Retry-After and a JSON-RPC error `overloaded`, an API POST and a
 * webhook are 503 `overloaded` (nothing acknowledged: the sender retries), while health, the
 * metrics and API reads still answer; once the slow calls end, calls pass again. Runs on both
 * databases (one process). Timing is not asserted: the test waits for the slots by the metric.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY } from '../helpers/gateway.ts';
import { type GatewayProcess, startGatewayProcess } from '../helpers/gateway-process.ts';
import {
  eventually,
  grantTask,
  integrationOf,
  MCP_GATEWAY_ENV,
  messagesOf,
  post,
  toolCall,
} from '../helpers/mcp-gateway.ts';
import { scrape, value } from '../helpers/metrics.ts';

describe('a gateway at its admission limit sheds new requests with 503 and Retry-After', () => {
  let gw: GatewayProcess | undefined;
  beforeAll(async () => {
    gw = await startGatewayProcess({
      ...MCP_GATEWAY_ENV,
      SWITCHBOARD_MAX_CONCURRENT_REQUESTS: '2',
    });
    // Ready first: /readyz is 503 `starting` until every integration's server has started
    // (http/health.ts), which on a loaded machine can outlast the probe server's start (CI, once).
    await eventually(
      async () => expect((await fetch(`${gw!.url}/readyz`)).status).toBe(200),
      45_000,
    );
  }, 60_000);
  afterAll(async () => {
    await gw?.cleanup();
  });

  const metric = async (name: string, labels: Record<string, string> = {}) =>
    value(await scrape(gw!.url, ADMIN_KEY), name, labels) ?? 0;

  it('sheds MCP, API and webhook requests while two slow calls hold it; serves again after', async () => {
    const granted = await grantTask(gw!, ['probe:*']);
    const probe = integrationOf(granted, 'probe');
    // The probe server is up (one call at a time: each holds a slot only while it runs).
    await eventually(async () => {
      const res = await post(probe.url, probe.token, toolCall(1, 'sleep', { ms: 0 }));
      const [answer] = messagesOf(res.headers.get('content-type'), await res.text());
      expect(answer).toMatchObject({ result: { content: [{ text: 'slept 0' }] } });
    }, 30_000);

    const slow = [2, 3].map((id) =>
      post(probe.url, probe.token, toolCall(id, 'sleep', { ms: 4000 })).then(async (res) => ({
        status: res.status,
        messages: messagesOf(res.headers.get('content-type'), await res.text()),
      })),
    );
    // Awaited below; a failure before that must not leave them rejecting unhandled.
    for (const call of slow) call.catch(() => {});
    await eventually(async () => {
      const text = await scrape(gw!.url, ADMIN_KEY);
      expect(value(text, 'switchboard_requests_in_flight')).toBe(2);
    });

    const shed = await post(probe.url, probe.token, toolCall(4, 'sleep', { ms: 0 }));
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(await shed.json()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32000,
        message: expect.stringContaining('concurrent requests'),
        data: { code: 'overloaded', reason: 'concurrency', retryAfter: 1 },
      },
    });
    // The aggregate endpoint, the API's writes and the webhooks: the same 503.
    const aggregate = await post(
      granted.mcp.url,
      granted.mcp.token,
      toolCall(5, 'probe__sleep', { ms: 0 }),
    );
    expect(aggregate.status).toBe(503);
    const apiWrite = await fetch(`${gw!.url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external: true, scope: ['probe:*'] }),
    });
    expect(apiWrite.status).toBe(503);
    expect(apiWrite.headers.get('retry-after')).toBe('1');
    expect(await apiWrite.json()).toMatchObject({
      error: { code: 'overloaded', reason: 'concurrency', retryAfterSeconds: 1 },
    });
    const hook = await fetch(`${gw!.url}/hooks/probe/anything`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'x' }),
    });
    expect(hook.status).toBe(503);
    expect(hook.headers.get('retry-after')).toBe('1');
    expect(await hook.json()).toMatchObject({ error: { code: 'overloaded' } });
    // Never shed: liveness, readiness, metrics and reads.
    expect((await fetch(`${gw!.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${gw!.url}/readyz`)).status).toBe(200);
    const read = await fetch(`${gw!.url}/api/v1/tasks/${granted.task.id}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(read.status).toBe(200);
    expect(await metric('switchboard_requests_shed_total', { reason: 'concurrency' })).toBe(4);

    // The held calls were not disturbed, and the slots come back.
    for (const [i, answer] of (await Promise.all(slow)).entries()) {
      expect(answer.status).toBe(200);
      expect(answer.messages[0]).toMatchObject({
        id: i + 2,
        result: { content: [{ text: 'slept 4000' }] },
      });
    }
    await eventually(async () => expect(await metric('switchboard_requests_in_flight')).toBe(0));
    const after = await post(probe.url, probe.token, toolCall(6, 'sleep', { ms: 0 }));
    expect(after.status).toBe(200);
    expect(await metric('switchboard_requests_shed_total', { reason: 'concurrency' })).toBe(4);
  }, 60_000);
});
