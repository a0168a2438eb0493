import { once } from 'node:events';
import type { Request as ExpressRequest, Response as ExpressResponse } from 'express';

/**
 * express ↔ web Request/Response, for the SDK's web-standard handlers (what
 * `@modelcontextprotocol/node` would do; that package is not a dependency). The body is parsed
 * once (REFERENCES §A2.4): a body the caller already parsed is handed to the SDK as
 * `parsedBody` and never serialised again.
 */

/** Same bound as the SDK's DEFAULT_MAX_REQUEST_BODY_SIZE (4 MiB). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Headers the SDK never needs: the agent's credential stops at the auth layer. */
const DROPPED_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/** The answer to a JSON-RPC batch (http/mcp-routes.ts refuseBatches), HTTP 400. */
export const BATCH_REFUSED = {
  jsonrpc: '2.0',
  id: null,
  error: {
    code: -32600,
    message: 'Invalid Request: JSON-RPC batches are not supported; send one message per POST',
  },
} as const;

export type BodyRead =
  | { kind: 'json'; value: unknown }
  | { kind: 'raw'; text: string }
  | { kind: 'batch' }
  | { kind: 'too-large' };

/** Reads a body express did not parse (no json middleware, or another content type). */
export async function readBody(req: ExpressRequest): Promise<BodyRead> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) return { kind: 'too-large' };
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    const value = JSON.parse(text) as unknown;
    // Refused here too (not only by the route): a body express did not parse is still a batch.
    if (Array.isArray(value)) return { kind: 'batch' };
    return { kind: 'json', value };
  } catch {
    // Not JSON: handed to the SDK as is, which answers the spec's parse error.
    return { kind: 'raw', text };
  }
}

/**
 * A web Request for the SDK. With `signal` (the 2026-07-28 leg), it aborts when the client goes
 * away before the answer was sent: that is how a modern client cancels (it closes the request's
 * stream). The 2025 leg goes without: an AbortController costs ~80 µs here (Node 20 makes each
 * signal transferable), so it watches the connection with clientGone() instead.
 */
export function toWebRequest(
  req: ExpressRequest,
  rawBody: string | undefined,
  signal?: AbortSignal,
): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || DROPPED_HEADERS.has(name)) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  const hasBody = rawBody !== undefined && req.method !== 'GET' && req.method !== 'HEAD';
  return new Request(new URL(req.originalUrl, 'http://localhost'), {
    method: req.method,
    headers,
    ...(hasBody && { body: rawBody }),
    ...(signal && { signal }),
  });
}

/** Resolves when the client closed the connection before the answer was complete. */
export function clientGone(res: ExpressResponse): Promise<void> {
  return new Promise((resolve) => {
    res.once('close', () => {
      if (!res.writableFinished) resolve();
    });
  });
}

/** An AbortSignal for clientGone(), for the SDK handlers that take one. */
export function goneSignal(res: ExpressResponse): AbortSignal {
  const controller = new AbortController();
  clientGone(res).then(() => controller.abort());
  return controller.signal;
}

/**
 * Writes a web Response to express, streaming SSE bodies as they are produced. A stream is cut
 * at `closeAt` (ms since the epoch: the token's expiry), so no notification outlives the grant.
 */
export async function sendResponse(
  res: ExpressResponse,
  response: Response,
  closeAt?: number,
): Promise<void> {
  if (res.destroyed || res.writableEnded) {
    // The client left while the answer was made (a cancelled call): nobody to send it to.
    await response.body?.cancel().catch(() => {});
    return;
  }
  res.status(response.status);
  response.headers.forEach((value, name) => {
    res.setHeader(name, value);
  });
  if (!response.body) {
    res.end();
    return;
  }
  if (!response.headers.get('content-type')?.includes('text/event-stream')) {
    // A JSON answer is complete once produced: one write, no stream pump.
    res.end(Buffer.from(await response.arrayBuffer()));
    return;
  }
  const reader = response.body.getReader();
  const stop = () => {
    reader.cancel().catch(() => {});
  };
  res.once('close', stop);
  let timer: NodeJS.Timeout | undefined;
  if (
    closeAt !== undefined &&
    response.headers.get('content-type')?.includes('text/event-stream')
  ) {
    res.flushHeaders();
    // setTimeout holds at most 2^31-1 ms (~24.8 days); tokens live hours (policy maxTtl).
    const wait = Math.min(Math.max(0, closeAt - Date.now()), 2 ** 31 - 1);
    timer = setTimeout(stop, wait);
    timer.unref();
  }
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
      if (res.destroyed) break;
    }
  } catch {
    // The client went away or the stream was cut: nothing more to send.
  } finally {
    clearTimeout(timer);
    res.off('close', stop);
    if (!res.destroyed) res.end();
  }
}
