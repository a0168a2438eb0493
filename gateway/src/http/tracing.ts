import type { Request, Response } from 'express';
import {
  contextFrom,
  enterRequest,
  requestSpanNamed,
  type Span,
  SpanKind,
  SpanStatusCode,
  startSpan,
  tracingEnabled,
  validTraceparent,
} from '../telemetry/spans.ts';

/** Public senders (GitHub, Slack, anyone on the internet) do not get to join or steer a trace. */
const UNTRUSTED_PARENT = /^\/hooks\//i;

/**
 * The HTTP ingress span (OpenTelemetry's HTTP server conventions): one SERVER span per request,
 * named `METHOD route-pattern` once the route is known (or by a handler: `tools/call x`), the
 * parent of everything the request does. An incoming traceparent is continued, except on /hooks:
 * a webhook starts its own trace (the delivery, its tasks and their dispatch all join it).
 * Started and ended by the request observer (metrics.ts), which runs the rest of the request in
 * it; undefined with tracing off.
 */
export function startRequestSpan(req: Request): RequestSpan | undefined {
  if (!tracingEnabled()) return undefined;
  const untrusted = UNTRUSTED_PARENT.test(req.url);
  const headers = req.headers as Record<string, unknown>;
  const span = startSpan(req.method, {
    kind: SpanKind.SERVER,
    parent: untrusted ? null : contextFrom(headers),
    attributes: { 'http.request.method': req.method },
  });
  return { span, parent: untrusted ? undefined : validTraceparent(headers.traceparent) };
}

export interface RequestSpan {
  span: Span;
  /** The traceparent header it continued. */
  parent: string | undefined;
}

/** Runs the rest of the request in its span (see enterRequest in telemetry/spans.ts). */
export function runInRequestSpan(res: Response, request: RequestSpan, next: () => void): void {
  enterRequest(res, request.span, request.parent, next);
}

/** Ends the span when the response closes: its route, status, and whether it was cut short. */
export function endRequestSpan(request: RequestSpan, req: Request, res: Response, route: string) {
  const { span } = request;
  if (!requestSpanNamed(span)) span.updateName(`${req.method} ${route}`);
  span.setAttribute('http.route', route);
  span.setAttribute('http.response.status_code', res.statusCode);
  if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  if (!res.writableFinished) span.setAttribute('switchboard.aborted', true);
  span.end();
}
