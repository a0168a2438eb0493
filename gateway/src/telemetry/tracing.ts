import { context, DiagLogLevel, diag, propagation, trace } from '@opentelemetry/api';
import type { Logger } from '../log.ts';
import { GATEWAY_VERSION } from '../version.ts';
import { setChildExport } from './child-env.ts';
import type { TracingConfig } from './config.ts';
import { setTracingEnabled } from './spans.ts';

/** The running tracer provider: flushed and shut down last thing at shutdown (gateway.ts). */
export interface Tracing {
  /** Exports what is queued (tests call it before reading the receiver). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

const OFF: Tracing = { flush: async () => {}, shutdown: async () => {} };

/**
 * Registers the OpenTelemetry SDK globally (tracer provider, AsyncLocalStorage context manager,
 * W3C trace-context propagator) when tracing is configured. Off, nothing of the SDK is loaded:
 * the dynamic imports below are the only ones, and spans.ts short-cuts every helper.
 *
 * One provider per process: a second gateway in the same process (tests) shares the first's.
 */
export async function startTracing(
  config: TracingConfig | undefined,
  log: Logger,
): Promise<Tracing> {
  if (!config) return OFF;
  if (started) return started;
  const [
    {
      TracerProvider,
      BatchSpanProcessor,
      AlwaysOnSampler,
      AlwaysOffSampler,
      ParentBasedSampler,
      TraceIdRatioBasedSampler,
      ConsoleSpanExporter,
    },
    { AsyncLocalStorageContextManager },
    { W3CTraceContextPropagator },
    { resourceFromAttributes },
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
  ]);
  // The exporter's own failures (collector down, 4xx) reach the gateway's log, rate-limited by
  // the SDK's one line per failed export, never an exception.
  diag.setLogger(
    {
      error: (message, ...args) =>
        log.warn({ otel: args.map(String).join(' ').slice(0, 500) }, `tracing: ${message}`),
      warn: (message, ...args) =>
        log.warn({ otel: args.map(String).join(' ').slice(0, 500) }, `tracing: ${message}`),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  const ratio = new TraceIdRatioBasedSampler(config.samplerRatio);
  const sampler = {
    always_on: new AlwaysOnSampler(),
    always_off: new AlwaysOffSampler(),
    traceidratio: ratio,
    parentbased_always_on: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    parentbased_always_off: new ParentBasedSampler({ root: new AlwaysOffSampler() }),
    parentbased_traceidratio: new ParentBasedSampler({ root: ratio }),
  }[config.sampler];
  const exporter =
    config.exporter === 'console'
      ? new ConsoleSpanExporter()
      : config.protocol === 'http/json'
        ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter({
            url: config.tracesUrl,
          })
        : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter({
            url: config.tracesUrl,
          });
  const provider = new TracerProvider({
    sampler,
    resource: resourceFromAttributes({
      'service.name': config.serviceName,
      'service.version': GATEWAY_VERSION,
      ...config.resourceAttributes,
    }),
    // Bounds per span: a handler's error text or an argument list cannot grow one without limit.
    spanLimits: {
      attributeValueLengthLimit: 1024,
      attributeCountLimit: 64,
      eventCountLimit: 32,
      linkCountLimit: 16,
    },
    spanProcessors: [new BatchSpanProcessor({ exporter, ...config.batch })],
  });
  const contextManager = new AsyncLocalStorageContextManager();
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  setTracingEnabled(true);
  setChildExport(config);
  log.info(
    {
      exporter: config.exporter,
      url: config.tracesUrl,
      protocol: config.protocol,
      sampler: config.sampler,
    },
    'tracing on: spans exported over OTLP',
  );
  started = {
    flush: () => provider.forceFlush(),
    shutdown: async () => {
      await provider.forceFlush().catch(() => {});
    },
  };
  return started;
}

let started: Tracing | undefined;
