import type { NextFunction, Request, Response } from 'express';
import {
  contextFrom,
  SpanKind,
  startSpan,
  tracingEnabled,
  withActiveSpan,
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
  const parent = UNTRUSTED_PARENT.test(req.url)
    ? null
    : contextFrom(req.headers as Record<string, unknown>);
  const span = startSpan(`${req.method}`, {
    kind: SpanKind.SERVER,
    parent,
    attributes: {
      'http.request.method': req.method,
      'url.path': req.path.slice(0, 256),
      'switchboard.request_id': req.id,
    },
  });
  res.on('close', () => {
    const route = routeLabel(req, res);
    span.updateName(`${req.method} ${route}`);
    span.setAttribute('http.route', route);
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: 2 });
    if (!res.writableFinished) span.setAttribute('switchboard.aborted', true);
    span.end();
  });
  withActiveSpan(span, next, [req, res]);
}
