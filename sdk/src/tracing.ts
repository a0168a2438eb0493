/**
 * @switchboard/sdk/tracing — OpenTelemetry tracing for an integration's TypeScript MCP server
 * (docs/manifest.md, "Tracing your integration"). A subpath of its own: `@switchboard/sdk` never
 * imports it, so an integration that does not trace loads none of OpenTelemetry.
 *
 *   const tracing = await startTracing('github');          // at start-up
 *   server.registerTool('get_pr', spec, (args, ctx) =>
 *     inToolCallSpan('get_pr', ctx.mcpReq._meta, () => api(args)));   // each tool
 *   await tracedFetch(url, init);                          // each outbound HTTP call
 *
 * The gateway passes the OTLP endpoint in the standard variables (OTEL_EXPORTER_OTLP_TRACES_
 * ENDPOINT, _PROTOCOL, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER) and the caller's span in each
 * request's `params._meta.traceparent` (SEP-414). Nothing here records a header value, a query
 * string or an error's message: they are where tokens and personal data travel.
 */
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import * as z from 'zod';
import { egressFetch } from './egress.ts';

export interface Tracing {
  /** Exports the spans queued so far. */
  flush(): Promise<void>;
  /** Exports what is queued and stops the exporter (idempotent). */
  shutdown(): Promise<void>;
}

const OFF: Tracing = { flush: async () => {}, shutdown: async () => {} };

/** The tracer's (instrumentation scope's) name. */
const SCOPE = '@switchboard/sdk';
/** A shutdown on a signal waits this long for the collector, then exits anyway (a stuck collector must not keep a stopped server alive: the gateway kills it 10 s after SIGTERM). */
const EXIT_FLUSH_MS = 5_000;
/** W3C caps tracestate at 32 members of ≤ 256 characters; 512 is what the gateway keeps too. */
const MAX_TRACESTATE = 512;
const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

const httpUrl = z.url({ protocol: /^https?$/ });
const protocol = z.enum(['http/protobuf', 'http/json'], {
  error: 'expected http/protobuf or http/json (grpc is not built in)',
});
const envSchema = z.object({
  OTEL_SDK_DISABLED: z.string().optional(),
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'none'], { error: 'expected otlp or none' }).optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl.optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: protocol.optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: protocol.optional(),
  OTEL_SERVICE_NAME: z.string().min(1).max(256).optional(),
  OTEL_TRACES_SAMPLER: z
    .enum([
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ])
    .default('parentbased_always_on'),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
});

let enabled = false;
let started: Promise<Tracing> | undefined;

/**
 * Starts exporting spans when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
 * or OTEL_EXPORTER_OTLP_ENDPOINT plus /v1/traces), over http/protobuf (the default) or http/json;
 * otherwise does nothing and loads nothing. Registers the AsyncLocalStorage context manager, the
 * W3C trace-context propagator and a tracer provider with a batch span processor; spans still
 * queued are exported when stdin ends (the gateway closed the stdio connection), on SIGTERM and
 * SIGINT (the process then exits 143 or 130 unless the server has its own handler), and before a
 * natural exit. A bad variable is reported on stderr and tracing stays off: tracing must never
 * stop the server. Call it once, before serving; a second call returns the first's result.
 */
export function startTracing(
  serviceName?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Tracing> {
  started ??= start(serviceName, env);
  return started;
}

async function start(serviceName: string | undefined, env: NodeJS.ProcessEnv): Promise<Tracing> {
  const raw = Object.fromEntries(
    Object.keys(envSchema.shape).map((key) => [key, env[key]?.trim() || undefined]),
  );
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      console.error(
        `tracing off: ${String(issue.path[0])}=${JSON.stringify(raw[String(issue.path[0])] ?? '')}: ${issue.message}`,
      );
    return OFF;
  }
  const e = parsed.data;
  const disabled = e.OTEL_SDK_DISABLED === 'true' || e.OTEL_TRACES_EXPORTER === 'none';
  const url =
    e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (e.OTEL_EXPORTER_OTLP_ENDPOINT &&
      `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`);
  if (disabled || !url) return OFF;

  const [sdk, { AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, resources] =
    await Promise.all([
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/core'),
      import('@opentelemetry/resources'),
    ]);
  const exporter =
    (e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL) === 'http/json'
      ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter({ url })
      : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter({ url });
  const ratio = new sdk.TraceIdRatioBasedSampler(e.OTEL_TRACES_SAMPLER_ARG);
  const sampler = {
    always_on: () => new sdk.AlwaysOnSampler(),
    always_off: () => new sdk.AlwaysOffSampler(),
    traceidratio: () => ratio,
    parentbased_always_on: () => new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }),
    parentbased_always_off: () => new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() }),
    parentbased_traceidratio: () => new sdk.ParentBasedSampler({ root: ratio }),
  }[e.OTEL_TRACES_SAMPLER]();
  const provider = new sdk.TracerProvider({
    sampler,
    resource: resources.resourceFromAttributes({
      'service.name': e.OTEL_SERVICE_NAME ?? serviceName ?? 'unknown_service:node',
    }),
    // The gateway's bounds: an error text or a long path cannot grow one span without limit.
    spanLimits: { attributeValueLengthLimit: 1024, attributeCountLimit: 64, eventCountLimit: 32 },
    spanProcessors: [new sdk.BatchSpanProcessor({ exporter })],
  });
  const contextManager = new AsyncLocalStorageContextManager();
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  enabled = true;

  let stopping: Promise<void> | undefined;
  const tracing: Tracing = {
    flush: () => provider.forceFlush(),
    shutdown: () => {
      stopping ??= provider.shutdown().catch(() => {});
      return stopping;
    },
  };
  flushOnExit(tracing);
  return tracing;
}

function flushOnExit(tracing: Tracing): void {
  // A stdio server's connection ends with stdin; the flush's HTTP request keeps the process up
  // until it is sent.
  process.stdin.once('end', () => void tracing.shutdown());
  process.once('beforeExit', () => void tracing.shutdown());
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    const onSignal = async () => {
      await Promise.race([
        tracing.shutdown(),
        new Promise((resolve) => setTimeout(resolve, EXIT_FLUSH_MS).unref()),
      ]);
      // Listening for the signal replaced Node's default exit: do that exit, unless the server
      // listens too and so decides itself when to stop.
      if (process.listenerCount(signal) === 1) process.exit(code);
    };
    process.on(signal, onSignal);
  }
}

/** The span a request's `_meta` names (SEP-414: traceparent, tracestate), or undefined. */
function remoteParent(meta: Record<string, unknown> | undefined): Context | undefined {
  const traceparent = meta?.traceparent;
  if (typeof traceparent !== 'string' || !TRACEPARENT.test(traceparent)) return undefined;
  const tracestate = meta?.tracestate;
  const carrier: Record<string, string> = { traceparent };
  if (typeof tracestate === 'string' && tracestate.length <= MAX_TRACESTATE)
    carrier.tracestate = tracestate;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** Runs `fn` in a new active span; a throw or rejection marks it failed (the error's class only). */
async function inSpan<T>(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  parent: Context,
  fn: (span: Span) => T | Promise<T>,
): Promise<T> {
  return trace
    .getTracer(SCOPE)
    .startActiveSpan(name, { kind, attributes }, parent, async (span) => {
      try {
        return await fn(span);
      } catch (error) {
        fail(span, error instanceof Error ? error.name : 'Error');
        throw error;
      } finally {
        span.end();
      }
    });
}

function fail(span: Span, errorType: string): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
  span.setAttribute('error.type', errorType);
}

/**
 * Runs a tool's work in a SERVER span continuing the caller's trace: `meta` is the request's
 * `params._meta` (`ctx.mcpReq._meta` in a tool callback), whose `traceparent` (and `tracestate`)
 * become the span's parent; without one the span starts a trace. Named and attributed per the
 * OpenTelemetry MCP conventions: `tools/call <tool>`, `mcp.method.name`, `gen_ai.tool.name`,
 * `gen_ai.operation.name`. A result with `isError: true` marks the span failed
 * (`error.type: tool_error`). With tracing off, `fn` just runs.
 */
export function inToolCallSpan<T>(
  tool: string,
  meta: Record<string, unknown> | undefined,
  fn: () => T | Promise<T>,
): Promise<T> {
  if (!enabled) return Promise.resolve().then(fn);
  const attributes = {
    'mcp.method.name': 'tools/call',
    'gen_ai.tool.name': tool,
    'gen_ai.operation.name': 'execute_tool',
  };
  const parent = remoteParent(meta) ?? context.active();
  return inSpan(`tools/call ${tool}`, SpanKind.SERVER, attributes, parent, async (span) => {
    const result = await fn();
    if ((result as { isError?: unknown } | null)?.isError === true) fail(span, 'tool_error');
    return result;
  });
}

/**
 * `fetch` in a CLIENT span, child of the active span (the tool's), with the span's
 * `traceparent` added to the request's headers so a traced API continues the trace. Recorded:
 * `http.request.method`, `server.address`, `server.port`, `url.scheme`, `url.path` (never the
 * query string, never a header), `http.response.status_code`; a status of 400 or more, or no
 * response, marks the span failed with `error.type` (the status, or the error's class).
 */
/** egress.ts: through the gateway's egress proxy when it names one; made at the first call. */
let outbound: typeof fetch | undefined;

export async function tracedFetch(
  input: string | URL | Request,
  init: RequestInit = {},
): Promise<Response> {
  outbound ??= egressFetch();
  if (!enabled) return outbound(input, init);
  const url = new URL(input instanceof Request ? input.url : input);
  const method = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const attributes = {
    'http.request.method': method,
    'server.address': url.hostname,
    'server.port': port,
    'url.scheme': url.protocol.slice(0, -1),
    'url.path': url.pathname,
  };
  return inSpan(`HTTP ${method}`, SpanKind.CLIENT, attributes, context.active(), async (span) => {
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : {}));
    propagation.inject(context.active(), headers, {
      set: (carrier, key, value) => carrier.set(key, value),
    });
    const response = await (outbound as typeof fetch)(input, { ...init, headers });
    span.setAttribute('http.response.status_code', response.status);
    if (response.status >= 400) fail(span, String(response.status));
    return response;
  });
}
