import fs from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { REPO_ROOT } from '../helpers/gateway.ts';
import { type OtlpReceiver, startOtlpReceiver } from '../helpers/otlp-receiver.ts';

// @switchboard/sdk/tracing (sdk/src/tracing.ts) in-process: the main entry stays free of
// OpenTelemetry, tracing stays off (and changes nothing) without an endpoint or with a bad
// variable, and, on, tracedFetch keeps the caller's headers, records no header or query, and
// puts its own span in `traceparent`. The github example's test covers the real stdio process.

const importTracing = async () => {
  // A fresh module each time: startTracing remembers its first call.
  vi.resetModules();
  return import('../../sdk/src/tracing.ts');
};

/** An HTTP server recording each request's headers, answering `status`. */
async function startEcho(status: number) {
  const seen: IncomingHttpHeaders[] = [];
  const http = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    res.writeHead(status).end('ok');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise((r) => http.close(r)) };
}

describe('@switchboard/sdk without tracing', () => {
  it('the main entry imports neither tracing.ts nor any @opentelemetry package, transitively', () => {
    const seen = new Set<string>();
    const specifiers: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = fs.readFileSync(file, 'utf8');
      for (const [, spec] of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        specifiers.push(spec!);
        if (spec!.startsWith('.')) visit(path.resolve(path.dirname(file), spec!));
      }
    };
    visit(path.join(REPO_ROOT, 'sdk/src/index.ts'));
    expect(seen.size).toBeGreaterThan(10);
    expect([...seen].filter((f) => f.endsWith('tracing.ts'))).toEqual([]);
    expect(specifiers.filter((s) => s.includes('opentelemetry'))).toEqual([]);
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'sdk/package.json'), 'utf8'));
    // The main entry stays index (sources, and its build); tracing (and server, which uses it)
    // are entries of their own.
    const entry = {
      'switchboard-source': './src/index.ts',
      types: './src/index.ts',
      default: './dist/index.js',
    };
    expect(pkg.exports['.']).toEqual(entry);
    expect(pkg.exports['./tracing']).toEqual({
      'switchboard-source': './src/tracing.ts',
      types: './src/tracing.ts',
      default: './dist/tracing.js',
    });
  });

  it('with no endpoint, tracing is off: fn runs as is, tracedFetch adds no header', async () => {
    const { startTracing, inToolCallSpan, tracedFetch } = await importTracing();
    const tracing = await startTracing('test', {});
    await tracing.flush();
    const echo = await startEcho(200);
    const meta = { traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01` };
    const status = await inToolCallSpan(
      't',
      meta,
      async () => (await tracedFetch(echo.url)).status,
    );
    expect(status).toBe(200);
    expect(echo.seen[0]).not.toHaveProperty('traceparent');
    await echo.close();
  });

  it.each([
    ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'grpc', 'expected http/protobuf or http/json'],
    ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'collector:4318', 'URL'],
    ['OTEL_TRACES_SAMPLER', 'sometimes', 'expected one of'],
  ])(
    'a bad %s=%s leaves tracing off and says which variable on stderr',
    async (name, value, why) => {
      const { startTracing, tracedFetch } = await importTracing();
      const errors: string[] = [];
      const spy = vi.spyOn(console, 'error').mockImplementation((line: string) => {
        errors.push(line);
      });
      await startTracing('test', {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces',
        [name]: value,
      });
      spy.mockRestore();
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain(`tracing off: ${name}="${value}": `);
      expect(errors[0]).toContain(why);
      const echo = await startEcho(200);
      await tracedFetch(echo.url);
      expect(echo.seen[0]).not.toHaveProperty('traceparent');
      await echo.close();
    },
  );
});

describe('@switchboard/sdk/tracing on', () => {
  let receiver: OtlpReceiver;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('tracedFetch keeps the request’s headers, injects traceparent, records no header, query or token; 5xx fails the span', async () => {
    const { startTracing, inToolCallSpan, tracedFetch } = await importTracing();
    // OTEL_EXPORTER_OTLP_ENDPOINT is a base: /v1/traces is appended.
    const tracing = await startTracing('unit-service', {
      OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    });
    const echo = await startEcho(503);
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const secret = 'sk_live_do_not_record_0123';
    const status = await inToolCallSpan(
      'fetch_things',
      { traceparent: `00-${traceId}-b7ad6b7169203331-01`, progressToken: 7 },
      async () => {
        const request = new Request(`${echo.url}/v2/things?api_key=${secret}&page=2`, {
          method: 'POST',
          headers: { authorization: `Bearer ${secret}`, 'x-api-key': secret },
          body: 'x',
        });
        return (await tracedFetch(request)).status;
      },
    );
    expect(status).toBe(503);
    expect(echo.seen[0]).toMatchObject({
      authorization: `Bearer ${secret}`,
      'x-api-key': secret,
      traceparent: expect.stringMatching(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`)),
    });
    await tracing.flush();
    const spans = await receiver.waitFor((all) => all.length >= 2, 10_000);
    const tool = spans.find((s) => s.kind === 'SERVER');
    const http = spans.find((s) => s.kind === 'CLIENT');
    expect(tool).toMatchObject({
      traceId,
      parentSpanId: 'b7ad6b7169203331',
      name: 'tools/call fetch_things',
      service: 'unit-service',
      scope: '@switchboard/sdk',
    });
    expect(http).toMatchObject({
      traceId,
      parentSpanId: tool?.spanId,
      name: 'HTTP POST',
      attributes: {
        'http.request.method': 'POST',
        'url.path': '/v2/things',
        'http.response.status_code': 503,
        'error.type': '503',
      },
      status: { code: 'ERROR' },
    });
    expect(echo.seen[0]?.traceparent).toBe(`00-${traceId}-${http?.spanId}-01`);
    const text = JSON.stringify(spans, (_, v) => (typeof v === 'bigint' ? String(v) : v));
    expect(text).not.toContain(secret);
    expect(text).not.toContain('page=2');
    await tracing.shutdown();
    await echo.close();
  });
});
