import type { NextFunction, Request, Response } from 'express';
import {
  contextFrom,
  enterRequest,
  requestSpanNamed,
  resumeRequest,
  SpanKind,
  SpanStatusCode,
  startSpan,
  tracingEnabled,
  validTraceparent,
} from '../telemetry/spans.ts';
import { routeLabel } from './request-context.ts';

/** Public senders (GitHub, Slack, anyone on the internet) do not get to join or steer a trace. */
const UNTRUSTED_PARENT = /^\/hooks\//i;

/**
 * The HTTP ingress span (OpenTelemetry's HTTP server conventions): one SERVER span per request,
 * named `METHOD route-pattern` once the route is known, the parent of everything the request
 * does. An incoming traceparent is continued, except on /hooks: a webhook starts its own trace
 * (the delivery, its tasks and their dispatch all join it). Off, this is one boolean test.
 */
export function traceRequests(req: Request, res: Response, next: NextFunction): void {
  if (!tracingEnabled()) {
    next();
    return;
  }
  const untrusted = UNTRUSTED_PARENT.test(req.url);
  const headers = req.headers as Record<string, unknown>;
  const span = startSpan(req.method, {
    kind: SpanKind.SERVER,
    parent: untrusted ? null : contextFrom(headers),
    attributes: { 'http.request.method': req.method },
  });
  res.on('close', () => {
    const route = routeLabel(req, res);
    if (!requestSpanNamed(span)) span.updateName(`${req.method} ${route}`);
    span.setAttribute('http.route', route);
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    if (!res.writableFinished) span.setAttribute('switchboard.aborted', true);
    span.end();
  });
  enterRequest(res, span, untrusted ? undefined : validTraceparent(headers.traceparent), next);
}

/** Middleware after a body parser: the rest of the request in its span (see enterRequest). */
export function resumeTrace(_req: Request, res: Response, next: NextFunction): void {
  resumeRequest(res, next);
}
