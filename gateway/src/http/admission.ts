import type { NextFunction, Request, Response } from 'express';
import { Gauge, type Registry } from 'prom-client';
import { jsonRpcErrorOf } from '../errors.ts';
import { sendErrorBody } from './errors.ts';

/**
 * Load shedding (issue 19): a gateway process past what it can serve answers new requests 503
 * with Retry-After at once, instead of queueing them behind the ones it holds (where every
 * caller's latency grows with the queue). Two signals, each off at 0:
 *
 * - concurrency: requests that do work (every method but GET/HEAD/OPTIONS) to the MCP endpoints,
 *   the API and the webhooks held at once, at most `maxConcurrent`. GETs are streams (MCP's
 *   list_changed, the API's SSE) or short reads: a stream would hold its slot for hours.
 * - event-loop delay: sampled every SAMPLE_MS; over `maxEventLoopDelayMs` in two samples in a
 *   row (one long pause, a GC or a policy load, is not overload; a loop that stays late is),
 *   every request to those paths, GETs included, is refused until a sample is under it again.
 *
 * Health (/healthz, /readyz), /metrics, the well-known metadata and the console's files are
 * never shed: a load balancer must see the process alive, and an operator its metrics. A shed
 * request is refused before its body is read or its token verified (a few µs of work): an MCP
 * request gets a JSON-RPC error (code `overloaded`, id null: the body is unread), a webhook a
 * 503 its sender retries (nothing was acknowledged, so nothing is lost), the API the usual
 * error body.
 */

/** Paths whose requests are admitted (or shed): the three that do work per request. */
const GATED = /^\/(?:mcp(?:\/|$|\?)|api\/|hooks\/)/i;
const MCP = /^\/mcp(?:\/|$|\?)/i;
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The event loop's delay is sampled this often: one timer, ~1 µs of work each. */
export const SAMPLE_MS = 50;
/** Overload is over in well under a second; 1 s is the least Retry-After can say. */
export const OVERLOAD_RETRY_AFTER_S = 1;

export type ShedReason = 'concurrency' | 'event_loop';

export interface AdmissionOptions {
  /** Requests that do work held at once; 0: no limit. */
  maxConcurrent: number;
  /** Event-loop delay (ms) past which requests are shed; 0: not watched. */
  maxEventLoopDelayMs: number;
  onShed?: (reason: ShedReason) => void;
}

export class Admission {
  /** Requests holding a slot now (switchboard_requests_in_flight). */
  inFlight = 0;
  /** The last sample of the event loop's delay, in ms (switchboard_event_loop_delay_seconds). */
  delayMs = 0;
  private lateSamples = 0;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: AdmissionOptions) {
    if (options.maxEventLoopDelayMs > 0) {
      let expected = performance.now() + SAMPLE_MS;
      this.timer = setInterval(() => {
        const now = performance.now();
        this.delayMs = Math.max(0, now - expected);
        expected = now + SAMPLE_MS;
        this.lateSamples = this.delayMs > options.maxEventLoopDelayMs ? this.lateSamples + 1 : 0;
      }, SAMPLE_MS);
      this.timer.unref();
    }
  }

  /** Stops sampling (the gateway's shutdown). */
  close(): void {
    clearInterval(this.timer);
  }

  /** Why a new request would be shed now; undefined: it would be admitted. */
  shedReason(counted: boolean): ShedReason | undefined {
    if (this.lateSamples >= 2) return 'event_loop';
    const max = this.options.maxConcurrent;
    if (counted && max > 0 && this.inFlight >= max) return 'concurrency';
    return undefined;
  }

  /** Middleware, first after the request's id and metrics (a shed request is counted there). */
  middleware() {
    return (req: Request, res: Response, next: NextFunction): void => {
      if (!GATED.test(req.url)) {
        next();
        return;
      }
      const counted = !READS.has(req.method);
      const reason = this.shedReason(counted);
      if (reason) {
        this.options.onShed?.(reason);
        shed(req, res, reason);
        return;
      }
      if (counted) {
        this.inFlight += 1;
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          this.inFlight -= 1;
        };
        res.locals.releaseAdmission = release;
        // 'close' follows 'finish', and comes alone when the client leaves first.
        res.once('close', release);
      }
      next();
    };
  }
}

/**
 * Gives back the admission slot of a request that turned into a long-lived stream (MCP's
 * `subscriptions/listen`): bounded by its own cap, it must not hold a slot for its hours.
 */
export function releaseAdmission(res: Response): void {
  (res.locals.releaseAdmission as (() => void) | undefined)?.();
}

function shed(req: Request, res: Response, reason: ShedReason): void {
  const message =
    reason === 'concurrency'
      ? `the gateway is at its limit of concurrent requests; retry in ${OVERLOAD_RETRY_AFTER_S} s`
      : `the gateway is overloaded (event loop delayed); retry in ${OVERLOAD_RETRY_AFTER_S} s`;
  res.set('retry-after', String(OVERLOAD_RETRY_AFTER_S));
  if (MCP.test(req.url)) {
    res.status(503).json({
      jsonrpc: '2.0',
      id: null,
      error: jsonRpcErrorOf('overloaded', message, {
        reason,
        retryAfter: OVERLOAD_RETRY_AFTER_S,
      }),
    });
    return;
  }
  sendErrorBody(res, 'overloaded', message, { reason, retryAfterSeconds: OVERLOAD_RETRY_AFTER_S });
}

/** switchboard_requests_in_flight and switchboard_event_loop_delay_seconds, read at each scrape. */
export function registerAdmissionMetrics(registry: Registry, admission: Admission): void {
  new Gauge({
    name: 'switchboard_requests_in_flight',
    help: 'Requests that do work (not GET) held by this process now, against SWITCHBOARD_MAX_CONCURRENT_REQUESTS',
    registers: [registry],
    collect() {
      this.set(admission.inFlight);
    },
  });
  new Gauge({
    name: 'switchboard_event_loop_delay_seconds',
    help: 'The last 50 ms sample of the event loop delay load shedding watches (0 when it is off)',
    registers: [registry],
    collect() {
      this.set(admission.delayMs / 1000);
    },
  });
}
