import { z } from 'zod';

/**
 * The standard OpenTelemetry variables the gateway reads (https://opentelemetry.io/docs/specs/
 * otel/configuration/sdk-environment-variables/). Tracing is off unless an OTLP endpoint is set
 * or OTEL_TRACES_EXPORTER names an exporter: off, nothing of the SDK is even loaded, and a span
 * costs one boolean test (spans.ts). The exporter itself reads OTEL_EXPORTER_OTLP_HEADERS,
 * _TIMEOUT, _COMPRESSION and the certificate variables.
 */

export const TRACES_EXPORTERS = ['otlp', 'console', 'none'] as const;
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

export interface TracingConfig {
  exporter: Exclude<(typeof TRACES_EXPORTERS)[number], 'none'>;
  protocol: (typeof OTLP_PROTOCOLS)[number];
  /** The traces URL (…/v1/traces) the exporter posts to; undefined for the console exporter. */
  tracesUrl: string | undefined;
  sampler: (typeof SAMPLERS)[number];
  /** The ratio for the *traceidratio samplers, 0 to 1. */
  samplerRatio: number;
  serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES, parsed (key=value,…). */
  resourceAttributes: Record<string, string>;
  /** The batch span processor's bounds (OTEL_BSP_*): spans beyond the queue are dropped, counted. */
  batch: {
    maxQueueSize: number;
    maxExportBatchSize: number;
    scheduledDelayMillis: number;
    exportTimeoutMillis: number;
  };
}

const httpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}, 'expected an absolute http(s) URL, e.g. http://127.0.0.1:4318');

const count = (fallback: number) =>
  z
    .string()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().min(1, 'expected at least 1'))
    .default(fallback);

const ratio = z
  .string()
  .transform(Number)
  .pipe(z.number({ error: 'expected a number from 0 to 1' }).min(0).max(1))
  .default(1);

const boolean = z.enum(['true', 'false', '1', '0'], { error: 'expected true or false' });

const otelSchema = z.object({
  OTEL_SDK_DISABLED: boolean.default('false'),
  OTEL_TRACES_EXPORTER: z
    .enum(TRACES_EXPORTERS, {
      error: `expected one of ${TRACES_EXPORTERS.join(', ')} (switchboard exports OTLP over HTTP)`,
    })
    .optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl.optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: z
    .enum(OTLP_PROTOCOLS, {
      error: `expected one of ${OTLP_PROTOCOLS.join(', ')} (grpc is not built in: point it at a collector's HTTP port, 4318)`,
    })
    .optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z
    .enum(OTLP_PROTOCOLS, {
      error: `expected one of ${OTLP_PROTOCOLS.join(', ')} (grpc is not built in: point it at a collector's HTTP port, 4318)`,
    })
    .optional(),
  OTEL_TRACES_SAMPLER: z
    .enum(SAMPLERS, { error: `expected one of ${SAMPLERS.join(', ')}` })
    .default('parentbased_always_on'),
  OTEL_TRACES_SAMPLER_ARG: ratio,
  OTEL_SERVICE_NAME: z.string().min(1).default('switchboard'),
  OTEL_RESOURCE_ATTRIBUTES: z
    .string()
    .regex(
      /^[^=,\s]+=[^,]*(,[^=,\s]+=[^,]*)*$/,
      'expected key=value pairs separated by commas, e.g. deployment.environment=prod',
    )
    .optional(),
  // The spec's defaults, but a queue of 2048 spans (the spec's) at ~1 KB each is the bound.
  OTEL_BSP_MAX_QUEUE_SIZE: count(2048),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: count(512),
  OTEL_BSP_SCHEDULE_DELAY: count(5000),
  OTEL_BSP_EXPORT_TIMEOUT: count(30000),
});

/** The variables tracing reads (each checked; the operator guide's table lists them). */
export const OTEL_VARIABLES = Object.keys(otelSchema.shape);

/**
 * Tracing's configuration, or undefined when tracing is off. Problems are returned as lines in
 * the configuration's format (`NAME="value": expected …`) for loadConfig to report with the rest.
 */
export function readTracingConfig(env: NodeJS.ProcessEnv): {
  config: TracingConfig | undefined;
  problems: string[];
} {
  const raw: Record<string, string | undefined> = {};
  for (const key of OTEL_VARIABLES) {
    const value = env[key];
    raw[key] = value === undefined || value.trim() === '' ? undefined : value.trim();
  }
  const parsed = otelSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      config: undefined,
      problems: parsed.error.issues.map((issue) => {
        const name = String(issue.path[0]);
        return `${name}=${JSON.stringify(raw[name] ?? '')}: ${issue.message}`;
      }),
    };
  }
  const e = parsed.data;
  const disabled = e.OTEL_SDK_DISABLED === 'true' || e.OTEL_SDK_DISABLED === '1';
  const endpointSet =
    e.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined ||
    e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined;
  const exporter = e.OTEL_TRACES_EXPORTER ?? (endpointSet ? 'otlp' : 'none');
  if (disabled || exporter === 'none') return { config: undefined, problems: [] };
  const tracesUrl =
    exporter !== 'otlp'
      ? undefined
      : (e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
        // The spec: the generic endpoint is a base URL, the signal's path is appended.
        `${(e.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318').replace(/\/+$/, '')}/v1/traces`);
  return {
    config: {
      exporter,
      protocol:
        e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
      tracesUrl,
      sampler: e.OTEL_TRACES_SAMPLER,
      samplerRatio: e.OTEL_TRACES_SAMPLER_ARG,
      serviceName: e.OTEL_SERVICE_NAME,
      resourceAttributes: parseResourceAttributes(e.OTEL_RESOURCE_ATTRIBUTES),
      batch: {
        maxQueueSize: e.OTEL_BSP_MAX_QUEUE_SIZE,
        maxExportBatchSize: Math.min(e.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, e.OTEL_BSP_MAX_QUEUE_SIZE),
        scheduledDelayMillis: e.OTEL_BSP_SCHEDULE_DELAY,
        exportTimeoutMillis: e.OTEL_BSP_EXPORT_TIMEOUT,
      },
    },
    problems: [],
  };
}

function parseResourceAttributes(text: string | undefined): Record<string, string> {
  const attributes: Record<string, string> = {};
  if (!text) return attributes;
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    attributes[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(
      pair.slice(at + 1).trim(),
    );
  }
  return attributes;
}
