import { SwitchboardError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { MAX_MESSAGE_BYTES } from './limits.ts';
import { type RequestId, tooLargeAnswer } from './oversized.ts';

/**
 * Byte limits on what an HTTP upstream answers (issue 13 item 4: a 300 MB result went to the
 * agent and took the gateway's memory up by 1.7 GB; an SSE event that never ended grew it by
 * 1.5 GB within the request's timeout). The same MAX_MESSAGE_BYTES as stdio, per message:
 *
 * - a JSON body is held (the SDK parses it whole anyway) up to the limit; past it, or with a
 *   Content-Length past it, the rest is not read and the body becomes a JSON-RPC error for the
 *   request it answered (upstream_too_large), so only that request fails, at once;
 * - an SSE stream goes through as it comes, each event bounded: an event past the limit ends
 *   the stream, with that error as its last event when the POST carried one request;
 * - any other body is bounded in total and errors past it.
 *
 * The connection is cancelled past the limit, so the server's bytes stop coming.
 */
export interface BoundsContext {
  integration: string;
  log: Logger;
}

export function boundResponse(
  response: Response,
  requestId: RequestId | undefined,
  context: BoundsContext,
  limit = MAX_MESSAGE_BYTES,
): Response {
  const source = response.body;
  if (!source) return response;
  const type = mediaType(response.headers.get('content-type'));
  const report = (what: string, bytes: number) =>
    context.log.warn(
      { integration: context.integration, what, bytes, limit, id: requestId },
      'upstream message too large',
    );
  const tooLarge = () =>
    requestId === undefined
      ? undefined
      : JSON.stringify(tooLargeAnswer(context.integration, requestId, limit));
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  const rebuilt = (body: ReadableStream<Uint8Array>) =>
    new Response(body, { status: response.status, statusText: response.statusText, headers });

  if (type === 'text/event-stream') {
    return rebuilt(
      boundedStream(source, sseEvents(limit), (bytes) => {
        report('sse event', bytes);
        const answer = tooLarge();
        // The cut event's type is one the SDK skips; the answer (if any) ends the stream.
        const end = '\nevent: switchboard-dropped\n\n';
        return end + (answer ? `event: message\ndata: ${answer}\n\n` : '');
      }),
    );
  }

  const declared = Number(response.headers.get('content-length'));
  const replaceJson = type === 'application/json' && tooLarge() !== undefined;
  if (Number.isFinite(declared) && declared > limit) {
    report('body', declared);
    source.cancel().catch(() => {});
    return rebuilt(
      replaceJson ? single(tooLarge() as string) : failing(tooLargeError(context, limit)),
    );
  }
  return rebuilt(
    heldStream(
      source,
      limit,
      (bytes) => {
        report('body', bytes);
        if (replaceJson) return tooLarge() as string;
        throw tooLargeError(context, limit);
      },
      type !== 'application/json',
    ),
  );
}

/** The id of the one JSON-RPC request in a POST's body, if it holds exactly one. */
export function requestIdOf(body: unknown): RequestId | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const message = JSON.parse(body) as { id?: unknown; method?: unknown };
    if (Array.isArray(message) || typeof message.method !== 'string') return undefined;
    return typeof message.id === 'number' || typeof message.id === 'string'
      ? message.id
      : undefined;
  } catch {
    return undefined;
  }
}

function tooLargeError(context: BoundsContext, limit: number): SwitchboardError {
  return new SwitchboardError(
    'upstream_too_large',
    `integration ${context.integration}: the server's answer exceeded ${limit} bytes`,
    { details: { limit } },
  );
}

function mediaType(contentType: string | null): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Counts one SSE event's bytes. `feed` returns, for a chunk, how many of its leading bytes are
 * complete events within the limit when the current event has just passed it, else undefined.
 * An event ends at a blank line ("\n\n" or "\r\n\r\n").
 */
function sseEvents(limit: number) {
  let eventBytes = 0;
  let lineBytes = 0;
  let lineFirst = -1;
  return {
    feed(chunk: Uint8Array): number | undefined {
      /** Where, in this chunk, the event being counted started. */
      let eventStart = eventBytes === 0 ? 0 : -1;
      let pos = 0;
      while (pos < chunk.length) {
        const newline = chunk.indexOf(10, pos);
        const end = newline === -1 ? chunk.length : newline;
        if (end > pos && lineBytes === 0) lineFirst = chunk[pos] as number;
        lineBytes += end - pos;
        eventBytes += end - pos + (newline === -1 ? 0 : 1);
        if (eventBytes > limit) return Math.max(eventStart, 0);
        if (newline === -1) break;
        const blank = lineBytes === 0 || (lineBytes === 1 && lineFirst === 13);
        lineBytes = 0;
        pos = newline + 1;
        if (blank) {
          eventBytes = 0;
          eventStart = pos;
        }
      }
      return undefined;
    },
    bytes: () => eventBytes,
  };
}

/**
 * Passes `source` through as it is read, until `counter` says an event passed the limit: then
 * the complete events before it, `end()`'s text, and the stream closes (the source cancelled).
 */
function boundedStream(
  source: ReadableStream<Uint8Array>,
  counter: ReturnType<typeof sseEvents>,
  end: (bytes: number) => string,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done) {
          controller.close();
          return;
        }
        const keep = counter.feed(value);
        if (keep === undefined) {
          controller.enqueue(value);
          return;
        }
        reader.cancel().catch(() => {});
        if (keep > 0) controller.enqueue(value.subarray(0, keep));
        controller.enqueue(new TextEncoder().encode(end(counter.bytes())));
        controller.close();
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}

/**
 * Reads `source` whole, up to `limit` bytes, before giving any of it (or, with `stream`, gives
 * it as it comes and only counts). Past the limit the source is cancelled and `over()`'s text
 * is the body instead (or its throw the stream's error).
 */
function heldStream(
  source: ReadableStream<Uint8Array>,
  limit: number,
  over: (bytes: number) => string,
  stream: boolean,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let held: Uint8Array[] = [];
  let bytes = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) {
            for (const part of held) controller.enqueue(part);
            held = [];
            controller.close();
            return;
          }
          bytes += value.length;
          if (bytes > limit) {
            held = [];
            reader.cancel().catch(() => {});
            controller.enqueue(new TextEncoder().encode(over(bytes)));
            controller.close();
            return;
          }
          if (stream) {
            controller.enqueue(value);
            return;
          }
          held.push(value);
        }
      },
      cancel: (reason) => {
        held = [];
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

function single(text: string): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(text));
      controller.close();
    },
  });
}

function failing(error: Error): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.error(error);
    },
  });
}
