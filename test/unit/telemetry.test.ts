import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/src/config.ts';
import { ConfigError } from '../../gateway/src/errors.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { traceExportEnv } from '../../gateway/src/telemetry/child-env.ts';
import { readTracingConfig } from '../../gateway/src/telemetry/config.ts';
import {
  contextOf,
  currentTraceparent,
  inSpan,
  traceHeaders,
  tracingEnabled,
  validTraceparent,
} from '../../gateway/src/telemetry/spans.ts';
import { captureLogs } from '../helpers/gateway.ts';

// Issue 17: the standard OTEL_* variables, read once with the rest of the configuration.

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('tracing configuration (OTEL_* variables)', () => {
  it('is off unless an endpoint or an exporter is set, and off when disabled', () => {
    expect(readTracingConfig({})).toEqual({ config: undefined, problems: [] });
    expect(
      readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' })
        .config,
    ).toBeUndefined();
    expect(
      readTracingConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_TRACES_EXPORTER: 'none',
      }).config,
    ).toBeUndefined();
    expect(loadConfig({}, '/srv').tracing).toBeUndefined();
  });

  it('appends /v1/traces to the generic endpoint, takes the traces endpoint as it is', () => {
    const generic = readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' });
    expect(generic.config).toMatchObject({
      exporter: 'otlp',
      protocol: 'http/protobuf',
      tracesUrl: 'http://collector:4318/v1/traces',
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
      serviceName: 'switchboard',
      batch: { maxQueueSize: 2048, maxExportBatchSize: 512 },
    });
    const own = readTracingConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/custom/path',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_SERVICE_NAME: 'gw-eu',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=a%20b',
    });
    expect(own.config).toMatchObject({
      tracesUrl: 'http://jaeger:4318/custom/path',
      protocol: 'http/json',
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
      serviceName: 'gw-eu',
      resourceAttributes: { 'deployment.environment': 'prod', team: 'a b' },
    });
  });

  it('names each bad variable and what was expected, with the rest of the configuration', () => {
    let problems: string[] = [];
    try {
      loadConfig(
        {
          PORT: 'eighty',
          OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
          OTEL_TRACES_SAMPLER: 'sometimes',
          OTEL_TRACES_SAMPLER_ARG: '2',
          OTEL_BSP_MAX_QUEUE_SIZE: '-1',
        },
        '/srv',
      );
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      problems = (error as ConfigError).problems;
    }
    const byName = (name: string) => problems.find((p) => p.startsWith(`${name}=`)) ?? '';
    expect(byName('PORT')).toContain('expected an integer');
    expect(byName('OTEL_EXPORTER_OTLP_ENDPOINT')).toContain('expected an absolute http(s) URL');
    expect(byName('OTEL_EXPORTER_OTLP_PROTOCOL')).toContain('grpc is not built in');
    expect(byName('OTEL_TRACES_SAMPLER')).toContain('parentbased_always_on');
    expect(byName('OTEL_TRACES_SAMPLER_ARG')).not.toBe('');
    expect(byName('OTEL_BSP_MAX_QUEUE_SIZE')).toContain('expected a whole number');
    expect(problems).toHaveLength(6);
  });
});

describe('span helpers with tracing off (what every gateway pays when OTEL_* is unset)', () => {
  it('run the work without a span, store no trace context and send none', async () => {
    expect(tracingEnabled()).toBe(false);
    const seen: string[] = [];
    const value = await inSpan('x', {}, async (span) => {
      seen.push(span.spanContext().traceId);
      return 42;
    });
    expect(value).toBe(42);
    expect(seen).toEqual(['0'.repeat(32)]);
    await expect(
      inSpan('x', {}, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(currentTraceparent()).toBeNull();
    expect(traceHeaders()).toEqual({});
    // Children spawned while off get no OTLP endpoint.
    expect(traceExportEnv('github')).toEqual({});
  });

  it('accept only a valid W3C traceparent from a row, a header or _meta', () => {
    expect(validTraceparent(`00-${TRACE}-${SPAN}-01`)).toBe(`00-${TRACE}-${SPAN}-01`);
    for (const bad of [
      `01-${TRACE}-${SPAN}-01`,
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `00-${TRACE.toUpperCase()}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-01-extra`,
      `00-${TRACE}-${SPAN}`,
      42,
      null,
    ]) {
      expect(validTraceparent(bad), String(bad)).toBeUndefined();
    }
    expect(trace.getSpanContext(contextOf('garbage'))).toBeUndefined();
  });
});

describe('log lines inside a span carry trace_id and span_id', () => {
  it('adds them inside a span only; lines outside stay as they were', () => {
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    try {
      const logs = captureLogs();
      const log = createLogger('info', logs.stream);
      // Outside any span, twice with fields (the shared empty mixin object must stay untouched).
      log.info({ a: 1 }, 'first');
      log.info({ b: 2 }, 'second');
      const span = trace.wrapSpanContext({ traceId: TRACE, spanId: SPAN, traceFlags: 1 });
      context.with(trace.setSpan(context.active(), span), () => log.info({ c: 3 }, 'inside'));
      log.info('after');
      log.flush();
      const [first, second, inside, after] = logs.lines;
      expect(first).toMatchObject({ a: 1, msg: 'first' });
      expect(first).not.toHaveProperty('trace_id');
      expect(second).toMatchObject({ b: 2 });
      expect(second).not.toHaveProperty('a');
      expect(inside).toMatchObject({ c: 3, trace_id: TRACE, span_id: SPAN, msg: 'inside' });
      expect(after).not.toHaveProperty('trace_id');
    } finally {
      context.disable();
    }
  });
});
