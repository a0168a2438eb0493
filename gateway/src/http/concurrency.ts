import type { RequestId } from '@modelcontextprotocol/server';
import type { NextFunction, Request, Response } from 'express';
import { jsonRpcErrorOf } from '../errors.ts';
import { requestId } from '../mcp/inflight.ts';
import type { TokenClaims } from '../tokens/claims.ts';
import { releaseAdmission } from './admission.ts';

/**
 * In-flight MCP requests per task, across every token of the task (one for /mcp, one per
 * /mcp/<integration>, one for /mcp/switchboard): counted per token, a task given a token per
 * integration would multiply the cap by its number of endpoints. In memory, per process: with N
 * replicas a task may hold N times the cap at worst. Kept so (issue 19) because a shared count
 * would cost two statements a call (take, give back) and leak slots of a replica that dies
 * mid-call until some lease ran out; the cap bounds what one agent holds of one process, which
 * is what it protects, and the per-token rate limit, exact across replicas, bounds its rate.
 *
 * The rate limiter bounds requests a minute; this bounds what one agent holds at once (an
 * upstream slot, an SSE answer, a database poll each): 1,000 concurrent calls from one token
 * were all accepted before (issue 13).
 */
export class ConcurrencyLimiter {
  private readonly counts = new Map<string, number>();

  /** Takes a slot of `key`; undefined when all `max` are taken, else the release (idempotent). */
  enter(key: string, max: number): (() => void) | undefined {
    const held = this.counts.get(key) ?? 0;
    if (held >= max) return undefined;
    this.counts.set(key, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = (this.counts.get(key) ?? 1) - 1;
      if (now <= 0) this.counts.delete(key);
      else this.counts.set(key, now);
    };
  }

  /** Slots held by `key` now (for tests and metrics). */
  held(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}

/**
 * A full slot gives no hint of when one frees (a call may take seconds or minutes): 1 s is the
 * shortest Retry-After HTTP can say, and a retrying client is refused cheaply meanwhile.
 */
export const IN_FLIGHT_RETRY_AFTER_S = 1;

/**
 * Methods that hold their POST open as a stream for as long as the client likes (2026-07-28
 * `subscriptions/listen`): bounded by the subscription cap (mcp/subscriptions.ts), not here,
 * or a client following resources would use up its slots for calls.
 */
const STREAMING_METHODS = new Set(['subscriptions/listen']);

/**
 * Middleware: a POST carrying one JSON-RPC request takes a slot of its task until its answer
 * ends (or the client leaves); over `max()` the answer is 429 with Retry-After and a JSON-RPC
 * error for that id, so an MCP client reports it as the failure of that request. Notifications
 * and responses (no id) are answered at once and take none; nor do GET streams.
 */
export function inFlightCap(limiter: ConcurrencyLimiter, max: () => number) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const id = req.method === 'POST' ? requestId(req.body) : undefined;
    const method = (req.body as { method?: unknown } | undefined)?.method;
    if (id === undefined || STREAMING_METHODS.has(method as string)) {
      // A stream holds no slot of the process's admission limit either (admission.ts).
      if (id !== undefined) releaseAdmission(res);
      next();
      return;
    }
    const claims = res.locals.claims as TokenClaims;
    const limit = max();
    const release = limiter.enter(claims.taskId, limit);
    if (!release) {
      res.set('retry-after', String(IN_FLIGHT_RETRY_AFTER_S));
      res.status(429).json(tooManyInFlight(id, limit));
      return;
    }
    // 'close' follows 'finish' too, and comes alone when the client leaves first.
    res.once('close', release);
    next();
  };
}

export function tooManyInFlight(id: RequestId, limit: number) {
  return {
    jsonrpc: '2.0',
    id,
    error: jsonRpcErrorOf(
      'too_many_in_flight',
      `too many requests in flight for this task (limit ${limit}); retry in ${IN_FLIGHT_RETRY_AFTER_S} s`,
      { limit, retryAfter: IN_FLIGHT_RETRY_AFTER_S },
    ),
  };
}
