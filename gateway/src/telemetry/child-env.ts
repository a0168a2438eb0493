import type { TracingConfig } from './config.ts';
import { currentTraceparent } from './spans.ts';

let exportTo: TracingConfig | undefined;

/** Set by startTracing: where the gateway's own spans go, so its children's can go there too. */
export function setChildExport(config: TracingConfig | undefined): void {
  exportTo = config;
}

/**
 * The OpenTelemetry variables a spawned program (an integration's server or process, an agent)
 * gets while tracing is on: the same OTLP traces endpoint and protocol as the gateway, its own
 * service name, and parent-based sampling so it records exactly the traces the gateway samples.
 * Never OTEL_EXPORTER_OTLP_HEADERS: a vendor's API key lives there, and the programs are not
 * trusted with the gateway's credentials. A collector without auth on the loopback (or a
 * sidecar) is the setup for children's spans (docs/operator-guide.md).
 */
export function traceExportEnv(serviceName: string): Record<string, string> {
  const config = exportTo;
  if (config?.exporter !== 'otlp' || !config.tracesUrl) return {};
  return {
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: config.tracesUrl,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: config.protocol,
    OTEL_SERVICE_NAME: serviceName,
    OTEL_TRACES_SAMPLER: 'parentbased_always_on',
  };
}

/**
 * TRACEPARENT for a program started for one piece of work (an agent for its task): the active
 * span's context, which the program continues (the OpenTelemetry environment-carrier convention).
 */
export function traceparentEnv(): Record<string, string> {
  const traceparent = currentTraceparent();
  return traceparent ? { TRACEPARENT: traceparent } : {};
}
