import {
  type ClientCapabilities,
  type Server,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Logger } from '../log.ts';
import { type ClientReplies, isReply } from './client-replies.ts';
import type { Era2025Clients } from './era-2025-clients.ts';
import { cancelledResponse, type InFlight, requestId } from './inflight.ts';
import { acceptsInput } from './input-required.ts';
import type { NotificationHub } from './notifications.ts';
import type { View } from './view.ts';

/**
 * 2025-era clients (protocol 2024-11-05 … 2025-11-25), served statelessly. Per REFERENCES
 * §A2.2 a POST is answered with one JSON body (enableJsonResponse; the SDK's built-in fallback
 * always streams SSE, ~142 µs per call of conversion and framing) unless it carries a progress
 * token and so needs a stream. GET opens the standalone SSE stream that list_changed and
 * resources/updated travel on (transports "Listening for Messages from the Server"). There is
 * no session (no Mcp-Session-Id), so DELETE has nothing to end.
 */
export interface Era2025Deps {
  buildServer(view: View): Promise<Server>;
  hub: NotificationHub;
  inflight: InFlight;
  log: Logger;
  clients: Era2025Clients;
  replies: ClientReplies;
}

const initialize = z.object({
  method: z.literal('initialize'),
  params: z.object({ capabilities: z.record(z.string(), z.unknown()) }),
});

/**
 * The requests whose answer may need client input first: SEP-2322's multi-round-trip methods,
 * and tasks/result, which asks for a task's pending input (mcp-task-input-2025.ts).
 */
const MAY_ASK_FOR_INPUT = new Set(['tools/call', 'prompts/get', 'resources/read', 'tasks/result']);

function mayAskForInput(body: unknown): boolean {
  return messages(body).some((m) =>
    MAY_ASK_FOR_INPUT.has((m as { method?: unknown } | null)?.method as string),
  );
}

/**
 * The per-request server as if it had seen the client's handshake. The SDK seeds a 2026-07-28
 * instance from the request's envelope but has no public way to do so for a 2025 one, whose
 * handshake came in an earlier request; its legacy shim and push APIs read this field.
 */
function seedClientCapabilities(server: Server, capabilities: ClientCapabilities): void {
  (server as unknown as { _clientCapabilities?: ClientCapabilities })._clientCapabilities =
    capabilities;
}

const cancelled = z.object({
  method: z.literal('notifications/cancelled'),
  params: z.object({
    requestId: z.union([z.string(), z.number()]),
    reason: z.string().optional(),
  }),
});

function messages(body: unknown): unknown[] {
  return Array.isArray(body) ? body : [body];
}

const withProgressToken = z.object({
  id: z.union([z.string(), z.number()]),
  params: z.object({ _meta: z.object({ progressToken: z.union([z.string(), z.number()]) }) }),
});

/**
 * A request asking for progress needs a stream: JSON mode would drop the notifications. The
 * property look-up first: zod is only asked about a message that has a progress token at all
 * (a failing safeParse builds its issue list: tens of µs that nearly every request would pay).
 */
function wantsStream(body: unknown): boolean {
  return messages(body).some(
    (m) =>
      (m as { params?: { _meta?: { progressToken?: unknown } } } | null)?.params?._meta
        ?.progressToken !== undefined && withProgressToken.safeParse(m).success,
  );
}

function isInitialize(message: unknown): boolean {
  return (message as { method?: unknown } | null)?.method === 'initialize';
}

/** The same cheap look-up before zod, for notifications/cancelled. */
function isCancellation(message: unknown): boolean {
  return (message as { method?: unknown } | null)?.method === 'notifications/cancelled';
}

function isEventStream(response: Response): boolean {
  return response.headers.get('content-type')?.includes('text/event-stream') ?? false;
}

/** The response with `onEnd` run once when its body is done or abandoned. */
function whenBodyEnds(response: Response, onEnd: () => void): Response {
  const body = response.body;
  if (!body) {
    onEnd();
    return response;
  }
  const reader = body.getReader();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  const monitored = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          end();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        end();
        controller.error(error);
      }
    },
    cancel(reason) {
      end();
      return reader.cancel(reason).catch(() => {});
    },
  });
  return new Response(monitored, { status: response.status, headers: response.headers });
}

/** `gone`: resolves if the client disconnects before its answer is complete. */
export async function serveEra2025(
  deps: Era2025Deps,
  request: Request,
  body: unknown,
  view: View,
  gone: Promise<void>,
): Promise<Response> {
  const method = request.method.toUpperCase();
  if (method !== 'POST' && method !== 'GET') {
    return Response.json(
      { jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null },
      { status: 405, headers: { Allow: 'GET, POST' } },
    );
  }
  if (method === 'POST') {
    const all = messages(body);
    if (all.length > 0 && all.every(isReply)) {
      // Answers to the gateway's own requests (client input): nothing for a server to serve.
      // Batches are refused before this (http/mcp-routes.ts), so `all` holds one reply.
      let delivered = 0;
      for (const reply of all) if (await deps.replies.deliver(view.claims, reply)) delivered += 1;
      return delivered > 0
        ? new Response(null, { status: 202 })
        : Response.json(
            {
              jsonrpc: '2.0',
              id: null,
              error: { code: -32600, message: 'No request of this token waits for that reply' },
            },
            { status: 400 },
          );
    }
    for (const message of all) {
      // The method look-up first: a failing safeParse costs tens of µs (see wantsStream).
      const hello = isInitialize(message) ? initialize.safeParse(message) : undefined;
      if (hello?.success) {
        await deps.clients.rememberInitialize(
          view.claims,
          hello.data.params.capabilities as ClientCapabilities,
        );
      }
      if (!isCancellation(message)) continue;
      const cancel = cancelled.safeParse(message);
      if (cancel.success) {
        deps.inflight.cancel(view.claims, cancel.data.params.requestId, cancel.data.params.reason);
      }
    }
  }
  // The handshake may have been made on another replica (era-2025-clients.ts: ≤ 1 s stale).
  await deps.clients.load(view.claims);
  const server = await deps.buildServer(view);
  const declared = deps.clients.capabilities(view.claims);
  if (declared !== undefined) seedClientCapabilities(server, declared);
  // A call that may ask the client for input, or log to it, answers on a stream (the question
  // or the log travels there first); JSON otherwise, the fast common case.
  const streamsMore = acceptsInput(declared) || deps.clients.logLevel(view.claims) !== undefined;
  const stream = wantsStream(body) || (streamsMore && mayAskForInput(body));
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: method === 'POST' && !stream,
  });
  await server.connect(transport);
  const detach = deps.replies.attach(view.claims, transport);
  // A notifications/cancelled in another POST (above) reaches this exchange through InFlight.
  const id = method === 'POST' ? requestId(body) : undefined;
  const tracked = id === undefined ? undefined : deps.inflight.track(view.claims, id);
  let removeStream: (() => void) | undefined;
  let closed = false;
  let left = false;
  const teardown = () => {
    if (closed) return;
    closed = true;
    tracked?.done();
    detach();
    removeStream?.();
    transport.close().catch(() => {});
    server.close().catch(() => {});
  };
  // Closing the server aborts its handlers' signals: a call in flight is cancelled upstream.
  // In JSON mode the transport's answer never settles once the client has gone (its stream is
  // closed with no response to resolve), so leaving also ends our wait.
  const left499 = gone.then(() => {
    left = true;
    teardown();
    return new Response(null, { status: 499 });
  });
  // Cancelled: torn down before the handler's failure can become a response (the transport is
  // closed by then, so nothing is sent), and answered with no response for the request. An SSE
  // answer already under way (progress) just ends: closing the transport closes its stream.
  const cancelledByClient = tracked
    ? aborted(tracked.signal).then(() => {
        teardown();
        return cancelledResponse();
      })
    : new Promise<Response>(() => {});
  let response: Response;
  try {
    response = await Promise.race([
      transport.handleRequest(request, body === undefined ? undefined : { parsedBody: body }),
      left499,
      cancelledByClient,
    ]);
  } catch (error) {
    teardown();
    throw error;
  }
  if (!isEventStream(response) || left || closed) {
    teardown();
    return response;
  }
  if (method === 'GET') removeStream = deps.hub.addLegacyStream(view, server);
  return whenBodyEnds(response, teardown);
}

/** Resolves when `signal` aborts (never, if it does not). */
function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(), { once: true }),
  );
}
