import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

/**
 * The gateway's spans, through the OpenTelemetry API. With tracing off (tracing.ts never ran)
 * every helper here returns after one boolean test: no span object, no context switch, so the
 * hot path (a tools/call, ~300 µs of gateway CPU) pays nothing measurable (test/bench/HISTORY.md).
 *
 * Trace context crosses the queues as a W3C traceparent string stored on the row
 * (webhook_deliveries, tasks, outbox: `trace_parent`): the worker that claims the row, on any
 * replica, starts its span as a child of it, so one event is one trace.
 */

export type { Attributes, Context, Span };
export { SpanKind, SpanStatusCode };

let enabled = false;

/** Set by startTracing (tracing.ts) once a tracer provider is registered. */
export function setTracingEnabled(on: boolean): void {
  enabled = on;
}

export function tracingEnabled(): boolean {
  return enabled;
}

const tracer = () => trace.getTracer('switchboard');

/** A span that records nothing: what `fn` gets while tracing is off. */
const NOOP_SPAN = trace.wrapSpanContext({
  traceId: '0'.repeat(32),
  spanId: '0'.repeat(16),
  traceFlags: 0,
});

export interface SpanOptions {
  attributes?: Attributes;
  kind?: SpanKind;
  /** The parent: a stored traceparent (a queued row's), a context, or (unset) the active span. */
  parent?: string | null | Context;
  links?: Link[];
}

/** The context a new span starts in: a stored traceparent's, a given one, or the active one. */
function parentOf(options: SpanOptions): Context {
  if (options.parent === undefined) return context.active();
  if (typeof options.parent === 'string' || options.parent === null) {
    return contextOf(options.parent);
  }
  return options.parent;
}

/**
 * Runs `fn` inside a new active span: a throw or rejection marks the span as an error (the
 * error's name and message, never its details) and is rethrown; the span ends when `fn` settles.
 */
export function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => T): T {
  if (!enabled) return fn(NOOP_SPAN);
  const parent = parentOf(options);
  return tracer().startActiveSpan(
    name,
    {
      kind: options.kind ?? SpanKind.INTERNAL,
      attributes: options.attributes,
      links: options.links,
    },
    parent,
    (span) => {
      let result: T;
      try {
        result = fn(span);
      } catch (error) {
        failSpan(span, error);
        span.end();
        throw error;
      }
      if (result instanceof Promise) {
        return result.then(
          (value) => {
            span.end();
            return value;
          },
          (error: unknown) => {
            failSpan(span, error);
            span.end();
            throw error;
          },
        ) as T;
      }
      span.end();
      return result;
    },
  );
}

/** A span the caller ends (for work whose end is an event, not a promise: an HTTP response). */
export function startSpan(name: string, options: SpanOptions = {}): Span {
  if (!enabled) return NOOP_SPAN;
  const parent = parentOf(options);
  return tracer().startSpan(
    name,
    {
      kind: options.kind ?? SpanKind.INTERNAL,
      attributes: options.attributes,
      links: options.links,
    },
    parent,
  );
}

/** The request's own span and the traceparent header it continued (context values). */
const REQUEST_SPAN = createContextKey('switchboard.request-span');
const REQUEST_PARENT = createContextKey('switchboard.request-traceparent');
/** Where a request's context is kept for resumeRequest (a symbol on its response object). */
const KEPT = Symbol('switchboard.trace-context');
/** Request spans a handler named (`tools/call x`): the ingress keeps that name at the end. */
const named = new WeakSet<Span>();

/**
 * Runs `fn` (the rest of a request's handling) with the request's SERVER span active, and keeps
 * that context on `holder` (its response) for resumeRequest: a body parser calls `next()` from
 * the request stream's 'end' event, which runs in the context the server emitted the request
 * in, without the span, so everything after it would start new traces. Binding the streams'
 * listeners instead wraps every listener of every request (measured: more than the span costs).
 */
export function enterRequest<T>(
  holder: object,
  span: Span,
  incomingTraceparent: string | undefined,
  fn: () => T,
): T {
  let active = trace.setSpan(context.active(), span).setValue(REQUEST_SPAN, span);
  if (incomingTraceparent) active = active.setValue(REQUEST_PARENT, incomingTraceparent);
  (holder as { [KEPT]?: Context })[KEPT] = active;
  return context.with(active, fn);
}

/** After a body parser: back in the request's context (see enterRequest). */
export function resumeRequest(holder: object, next: () => void): void {
  const kept = enabled ? (holder as { [KEPT]?: Context })[KEPT] : undefined;
  if (kept) context.with(kept, next);
  else next();
}

/**
 * The request's own span, to stand for an MCP request as well (renamed `tools/call <tool>`), when
 * the MCP request's `_meta.traceparent` says nothing the HTTP request did not (absent, or the
 * same as its traceparent header): one span per call instead of two, ~25 µs of ~70 µs of tracing
 * per tools/call (test/bench/HISTORY.md). undefined: start a child span instead.
 */
export function requestSpanFor(meta: Record<string, unknown> | undefined): Span | undefined {
  if (!enabled) return undefined;
  const active = context.active();
  const span = active.getValue(REQUEST_SPAN) as Span | undefined;
  if (!span || trace.getSpan(active) !== span) return undefined;
  const own = validTraceparent(meta?.traceparent);
  if (own !== undefined && own !== active.getValue(REQUEST_PARENT)) return undefined;
  return span;
}

/** Names the request's span for what it served; the ingress then keeps that name. */
export function nameRequestSpan(span: Span, name: string): void {
  named.add(span);
  span.updateName(name);
}

export function requestSpanNamed(span: Span): boolean {
  return named.has(span);
}

/** Marks a span as failed with the error's class and message (no stack, no details: they may hold secrets). */
export function failSpan(span: Span, error: unknown, message?: string): void {
  if (!enabled) return;
  const text = message ?? (error instanceof Error ? error.message : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: text.slice(0, 500) });
  // A stable code when the error has one (SwitchboardError.code, AgentFailed.reason).
  const coded = error as { code?: unknown; reason?: unknown } | undefined;
  const code = typeof coded?.code === 'string' ? coded.code : coded?.reason;
  span.setAttribute(
    'error.type',
    typeof code === 'string' ? code.slice(0, 64) : ((error as Error)?.name ?? 'Error'),
  );
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A syntactically valid W3C traceparent (version 00, ids not all zero), or undefined. */
export function validTraceparent(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const match = TRACEPARENT.exec(value);
  if (!match || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return undefined;
  return value;
}

/** The active span's traceparent, to store on a row that carries the work on; null when off. */
export function currentTraceparent(): string | null {
  if (!enabled) return null;
  const span = trace.getActiveSpan();
  if (!span) return null;
  const { traceId, spanId, traceFlags } = span.spanContext();
  if (!trace.isSpanContextValid(span.spanContext())) return null;
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** A context whose parent is the remote span a stored traceparent names (ROOT when none or bad). */
export function contextOf(traceparent: string | null | undefined): Context {
  const valid = validTraceparent(traceparent);
  if (!valid) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent: valid });
}

/** Extracts W3C trace context from HTTP headers or MCP `_meta` (traceparent, tracestate). */
export function contextFrom(carrier: Record<string, unknown> | undefined): Context {
  if (!enabled || !carrier) return context.active();
  const traceparent = validTraceparent(carrier.traceparent);
  if (!traceparent) return context.active();
  const tracestate =
    typeof carrier.tracestate === 'string' ? carrier.tracestate.slice(0, 512) : undefined;
  return propagation.extract(ROOT_CONTEXT, { traceparent, ...(tracestate ? { tracestate } : {}) });
}

/**
 * The active context's traceparent (and tracestate) as carrier entries, for HTTP headers to an
 * upstream server or an MCP request's `_meta` (SEP-414: the unprefixed keys traceparent and
 * tracestate). Empty when tracing is off or no span is active.
 */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

export function traceHeaders(): Readonly<Record<string, string>> {
  if (!enabled) return NO_HEADERS;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}
