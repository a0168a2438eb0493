import type { NextFunction, Request, Response } from 'express';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { Logger } from '../log.ts';
import { routeLabel } from './request-context.ts';

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  /** Errors nothing caught (process-errors.ts): each was logged, and the gateway kept serving. */
  unhandledErrors: Counter<'kind'>;
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
  return { registry, httpDuration, unhandledErrors };
}

/** Polled by probes, scrapers and every integration's key cache: logged at debug only. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics', '/.well-known/jwks.json']);

/** Times every request, then logs one line for it and observes the histogram. */
export function observeRequests(metrics: Metrics, log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeLabel(req, res);
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
    next();
  };
}
