import type { RequestId } from '@modelcontextprotocol/server';
import type { TokenClaims } from '../tokens/claims.ts';

/** The abort reason of a request its client cancelled (2025 `notifications/cancelled`). */
export class RequestCancelled extends Error {
  override readonly name = 'RequestCancelled';
}

/** Whether `signal` aborted because the client cancelled the request (not a timeout, not us). */
export function cancelledByClient(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason instanceof RequestCancelled;
}

/**
 * The HTTP answer to a POST whose request the client cancelled. The spec (2025-11-25
 * basic/utilities/cancellation) says the receiver SHOULD "not send a response for the cancelled
 * request", and a POST holding a request MUST be answered with `application/json` (which is one
 * JSON-RPC response) or `text/event-stream` (which SHOULD, not MUST, end with one): so an SSE
 * stream that ends at once, empty. Clients drop the late answer anyway; this one is not a lie.
 */
export function cancelledResponse(): Response {
  return new Response(null, {
    status: 200,
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
  });
}

/**
 * Requests in flight, so a 2025-era `notifications/cancelled` can reach them. Served stateless,
 * that notification arrives in an HTTP request of its own, on a server instance that never saw
 * the request it names; this map (key: token id + JSON-RPC id, since request ids are only unique
 * per client) is what links the two. Every 2025-era POST request is tracked for as long as its
 * HTTP exchange lasts (era-2025.ts, fast-call.ts), whatever its method. 2026-07-28 clients cancel
 * by closing the request's stream, which the SDK turns into the handler's abort signal directly.
 */
export class InFlight {
  private readonly calls = new Map<string, AbortController>();

  /**
   * A signal that aborts with `parent` (when given), on abort(), or on a matching cancellation,
   * with a RequestCancelled reason; call done() when the exchange is over.
   */
  track(
    claims: TokenClaims,
    id: RequestId,
    parent?: AbortSignal,
  ): { signal: AbortSignal; abort(reason: unknown): void; done(): void } {
    const key = keyOf(claims, id);
    // One controller that follows the parent, rather than AbortSignal.any([parent, own]): the
    // same signal (aborted by either, with the first reason), one signal fewer per call.
    const controller = new AbortController();
    this.calls.set(key, controller);
    const follow = () => controller.abort(parent?.reason);
    if (parent?.aborted) follow();
    else parent?.addEventListener('abort', follow, { once: true });
    return {
      signal: controller.signal,
      // For a caller whose own event ends the exchange (fast-call.ts: the client left), so it
      // needs no controller of its own to pass as `parent`.
      abort: (reason) => controller.abort(reason),
      done: () => {
        parent?.removeEventListener('abort', follow);
        if (this.calls.get(key) === controller) this.calls.delete(key);
      },
    };
  }

  /** Aborts the named request of this claims; false when there is none (already finished). */
  cancel(claims: TokenClaims, id: RequestId, reason: string | undefined): boolean {
    const controller = this.calls.get(keyOf(claims, id));
    if (!controller) return false;
    controller.abort(new RequestCancelled(reason ?? 'cancelled by the client'));
    return true;
  }

  abortAll(): void {
    for (const controller of this.calls.values()) controller.abort('the endpoint is closing');
    this.calls.clear();
  }
}

/** The id of a single JSON-RPC request, undefined for notifications, batches and non-JSON-RPC. */
export function requestId(body: unknown): RequestId | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const { id, method } = body as { id?: unknown; method?: unknown };
  if (typeof method !== 'string') return undefined;
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
}

function keyOf(claims: TokenClaims, id: RequestId): string {
  // typeof keeps the number 1 and the string "1" apart, as JSON-RPC does.
  return `${claims.tokenId}\n${typeof id}:${String(id)}`;
}
