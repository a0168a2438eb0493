import type { RequestId } from '@modelcontextprotocol/server';
import type { Grant } from '../tokens/grant.ts';

/**
 * Requests in flight, so a 2025-era `notifications/cancelled` can reach them. Served stateless,
 * that notification arrives in an HTTP request of its own, on a server instance that never saw
 * the request it names; this map (key: token id + JSON-RPC id, since request ids are only unique
 * per client) is what links the two. 2026-07-28 clients cancel by closing the request's stream,
 * which the SDK turns into the handler's abort signal directly.
 */
export class InFlight {
  private readonly calls = new Map<string, AbortController>();

  /** A signal that aborts with `parent` or on a matching cancellation; call done() when finished. */
  track(grant: Grant, id: RequestId, parent: AbortSignal): { signal: AbortSignal; done(): void } {
    const key = keyOf(grant, id);
    // One controller that follows the parent, rather than AbortSignal.any([parent, own]): the
    // same signal (aborted by either, with the first reason), one signal fewer per call.
    const controller = new AbortController();
    this.calls.set(key, controller);
    const follow = () => controller.abort(parent.reason);
    if (parent.aborted) follow();
    else parent.addEventListener('abort', follow, { once: true });
    return {
      signal: controller.signal,
      done: () => {
        parent.removeEventListener('abort', follow);
        if (this.calls.get(key) === controller) this.calls.delete(key);
      },
    };
  }

  /** Aborts the named request of this grant; false when there is none (already finished). */
  cancel(grant: Grant, id: RequestId, reason: string | undefined): boolean {
    const controller = this.calls.get(keyOf(grant, id));
    if (!controller) return false;
    controller.abort(reason ?? 'cancelled by the client');
    return true;
  }

  abortAll(): void {
    for (const controller of this.calls.values()) controller.abort('the endpoint is closing');
    this.calls.clear();
  }
}

function keyOf(grant: Grant, id: RequestId): string {
  // typeof keeps the number 1 and the string "1" apart, as JSON-RPC does.
  return `${grant.tokenId}\n${typeof id}:${String(id)}`;
}
