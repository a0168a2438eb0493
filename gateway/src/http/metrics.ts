import type { NextFunction, Request, Response } from 'express';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { Logger } from '../log.ts';
import { routeLabel } from './request-context.ts';
import { endRequestSpan, runInRequestSpan, startRequestSpan } from './tracing.ts';

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  /** Errors nothing caught (process-errors.ts): each was logged, and the gateway kept serving. */
  unhandledErrors: Counter<'kind'>;
  /**
   * Every label value below is bounded (docs/metrics.md): an integration is a name the registry
   * holds or `unknown` (tasks/tool-events.ts UNKNOWN_LABEL), a reason comes from a fixed list
   * (error codes, tokens/claims.ts TOKEN_REFUSAL_REASONS): never a path segment or an id.
   */
  tokenVerifications: Counter<'outcome' | 'reason'>;
  webhookRequests: Counter<'integration' | 'outcome' | 'reason'>;
  upstreamRestarts: Counter<'integration'>;
  guardRefusals: Counter<'guard' | 'integration' | 'code'>;
  approvalRequests: Counter<'integration'>;
  approvalDecisions: Counter<'integration' | 'decision'>;
  /** Requests refused by load shedding (admission.ts), by reason: concurrency or event_loop. */
  requestsShed: Counter<'reason'>;
  /** Rate-limit takes the database did not answer (db/rate-buckets.ts): timeout or error. */
  rateLimitFallbacks: Counter<'reason'>;
}

/** A registry per gateway (not prom-client's global one), so tests can run several in a process. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    // From a 1 ms health check to a 30 s long poll.
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const unhandledErrors = new Counter({
    name: 'switchboard_unhandled_errors_total',
    help: 'Unhandled promise rejections and uncaught exceptions, logged while the gateway kept serving',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const counter = <T extends string>(name: string, help: string, labelNames: readonly T[]) =>
    new Counter<T>({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    httpDuration,
    unhandledErrors,
    tokenVerifications: counter(
      'switchboard_token_verifications_total',
      'Bearer tokens checked on the MCP endpoints: outcome accepted (reason none) or refused, by reason',
      ['outcome', 'reason'],
    ),
    webhookRequests: counter(
      'switchboard_webhook_requests_total',
      'POSTs to /hooks/<integration>/<endpoint>: accepted, duplicate or refused (reason: the error code)',
      ['integration', 'outcome', 'reason'],
    ),
    upstreamRestarts: counter(
      'switchboard_upstream_restarts_total',
      "Starts of an integration's stdio server after its first (after an exit or a failed start)",
      ['integration'],
    ),
    guardRefusals: counter(
      'switchboard_guard_refusals_total',
      'Tool calls refused by a guard (argument_rules, approvals, budgets), by the refusal code',
      ['guard', 'integration', 'code'],
    ),
    approvalRequests: counter(
      'switchboard_approval_requests_total',
      'Approval requests created for held tool calls',
      ['integration'],
    ),
    approvalDecisions: counter(
      'switchboard_approval_decisions_total',
      'Decisions on approval requests as the held call saw them: approved, denied, expired',
      ['integration', 'decision'],
    ),
    requestsShed: counter(
      'switchboard_requests_shed_total',
      'Requests answered 503 overloaded before any work: at the concurrency limit or with the event loop late',
      ['reason'],
    ),
    rateLimitFallbacks: counter(
      'switchboard_rate_limit_fallbacks_total',
      "Per-token rate-limit takes the database did not answer in 200 ms (timeout) or failed (error): decided by the process's own bucket",
      ['reason'],
    ),
  };
}

/** Polled by probes, scrapers and every integration's key cache: logged at debug only. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics', '/.well-known/jwks.json']);

/**
 * Times every request, then logs one line for it and observes the histogram; with tracing on,
 * runs it in its ingress span (tracing.ts). One 'close' listener for both: it follows 'finish',
 * and comes alone when the client left first (logged and measured only once finished, as before).
 */
export function observeRequests(metrics: Metrics, log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    const traced = startRequestSpan(req);
    res.once('close', () => {
      const route = routeLabel(req, res);
      if (traced) endRequestSpan(traced, req, res, route);
      if (!res.writableFinished) return;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpDuration.observe(
        { method: req.method, route, status: String(res.statusCode) },
        seconds,
      );
      const line = {
        reqId: req.id,
        method: req.method,
        path: req.path,
        route,
        status: res.statusCode,
        ms: Math.round(seconds * 1e4) / 10,
        keyPrefix: req.apiKey?.prefix,
      };
      if (QUIET_ROUTES.has(route)) log.debug(line, 'request');
      else log.info(line, 'request');
    });
    if (traced) runInRequestSpan(res, traced, next);
    else next();
  };
}
