import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OtlpReceiver, startOtlpReceiver } from '../helpers/otlp-receiver.ts';

// The test receiver (test/helpers/otlp-receiver.ts) against the real exporters the gateway and
// the sdk use, in both encodings: what it decodes is what the SDK recorded, ids and parentage
// included, so integration tests can trust what it reports.

describe.each([
  { protocol: 'http/protobuf', contentType: 'application/x-protobuf', Exporter: ProtoExporter },
  { protocol: 'http/json', contentType: 'application/json', Exporter: JsonExporter },
])('the OTLP receiver, $protocol', ({ protocol, contentType, Exporter }) => {
  let receiver: OtlpReceiver;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('decodes a parent and child span exported by the real exporter, with parentage, kinds, attributes and status', async () => {
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': `receiver-test-${protocol}` }),
      spanProcessors: [
        new BatchSpanProcessor({ exporter: new Exporter({ url: `${receiver.url}/v1/traces` }) }),
      ],
    });
    const tracer = provider.getTracer('receiver-test');
    // Explicit times (hrtime tuples): the decoded nanoseconds must be exactly these. The SDK's
    // own clock put a first span's child past its parent's end by ~0.6 ms, 3 runs in 3.
    const at = (ms: number): [number, number] => [1_800_000_000, 123_456_789 + ms * 1_000_000];
    const parent = tracer.startSpan('tools/call get_pr', {
      startTime: at(0),
      kind: SpanKind.SERVER,
      attributes: { 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'get_pr' },
    });
    const child = tracer.startSpan(
      'HTTP GET',
      {
        startTime: at(1),
        kind: SpanKind.CLIENT,
        attributes: {
          'http.response.status_code': 404,
          ratio: 0.25,
          ok: false,
          tags: ['a', 'b'],
        },
      },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'not found' });
    child.end(at(2));
    parent.end(at(3));
    // 26 more siblings: a batch of 28 spans, ids past 9 of them.
    for (let i = 0; i < 26; i++)
      tracer.startSpan(`sibling ${i}`, {}, trace.setSpan(ROOT_CONTEXT, parent)).end();
    await provider.forceFlush();
    await provider.shutdown();

    const spans = await receiver.waitFor((all) => all.length >= 28, 10_000);
    expect(receiver.rejected).toEqual([]);
    expect(receiver.requests.map((r) => r.contentType)).toEqual([contentType]);
    expect(receiver.requests[0]?.spanCount).toBe(28);

    const p = parent.spanContext();
    const c = child.spanContext();
    const gotParent = spans.find((s) => s.name === 'tools/call get_pr');
    const gotChild = spans.find((s) => s.name === 'HTTP GET');
    expect(gotParent).toMatchObject({
      traceId: p.traceId,
      spanId: p.spanId,
      parentSpanId: undefined,
      kind: 'SERVER',
      service: `receiver-test-${protocol}`,
      scope: 'receiver-test',
      attributes: { 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'get_pr' },
      status: { code: 'UNSET', message: undefined },
    });
    expect(gotChild).toMatchObject({
      traceId: p.traceId,
      spanId: c.spanId,
      parentSpanId: p.spanId,
      kind: 'CLIENT',
      attributes: { 'http.response.status_code': 404, ratio: 0.25, ok: false, tags: ['a', 'b'] },
      status: { code: 'ERROR', message: 'not found' },
    });
    expect(gotChild!.spanId).not.toBe(gotParent!.spanId);
    // Times are nanoseconds since the epoch, exactly as given (64-bit, no float rounding).
    const ns = (ms: number) => 1_800_000_000_123_456_789n + BigInt(ms) * 1_000_000n;
    expect([gotParent!.startNs, gotParent!.endNs]).toEqual([ns(0), ns(3)]);
    expect([gotChild!.startNs, gotChild!.endNs]).toEqual([ns(1), ns(2)]);
    const siblings = spans.filter((s) => s.name.startsWith('sibling '));
    expect(siblings).toHaveLength(26);
    expect(new Set(siblings.map((s) => s.spanId)).size).toBe(26);
    expect(siblings.every((s) => s.parentSpanId === p.spanId && s.traceId === p.traceId)).toBe(
      true,
    );
    expect(siblings.map((s) => s.name)).toContain('sibling 25');
  });

  it('refuses a body it cannot decode, and waitFor times out naming what arrived', async () => {
    const before = receiver.spans.length;
    const bad = await fetch(`${receiver.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      // A protobuf length of 100 bytes with 1 byte after it; for JSON, not JSON.
      body: new Uint8Array([0x0a, 100, 1]),
    });
    expect(bad.status).toBe(400);
    expect(receiver.rejected.at(-1)).toContain(contentType);
    const wrongPath = await fetch(`${receiver.url}/v1/metrics`, { method: 'POST', body: '{}' });
    expect(wrongPath.status).toBe(404);
    expect(receiver.spans).toHaveLength(before);
    await expect(receiver.waitFor((all) => all.length > 1000, 50)).rejects.toThrow(
      /no match after 50 ms; 28 spans received: receiver-test-/,
    );
  });
});
