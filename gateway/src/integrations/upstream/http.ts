import { AsyncLocalStorage } from 'node:async_hooks';
import { type Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { Logger } from '../../log.ts';
import { rootCause } from '../../net/root-cause.ts';
import { traceHeaders, tracingEnabled } from '../../telemetry/spans.ts';
import { createUpstreamClient, followListChanges } from './client.ts';
import { type BoundsContext, boundResponse, requestIdOf } from './http-bounds.ts';
import { upstreamError } from './stdio.ts';
import type { Upstream, UpstreamState, UpstreamStatus } from './upstream.ts';

/**
 * The bearer token of the request being made to an HTTP upstream. The MCP endpoint runs each
 * agent's request inside `withUpstreamToken` with a short-lived token minted for that
 * integration and task (never the agent's own); the transport's fetch reads it from here, so
 * one shared client serves every task and each HTTP request still carries its caller's token.
 */
const upstreamToken = new AsyncLocalStorage<string>();

/** Runs `fn` so that every HTTP request it makes to an upstream carries `Bearer <token>`. */
export function withUpstreamToken<T>(token: string, fn: () => Promise<T>): Promise<T> {
  return upstreamToken.run(token, fn);
}

/**
 * fetch for the upstream transport: sets Authorization from the current request's token and
 * removes any other, so a header can never leak from one caller to the next. Outside any
 * agent's request (connecting, listing tools, calling handlers) it uses the gateway's own token,
 * when there is a token service to mint one. Every answer is bounded (http-bounds.ts): past
 * MAX_MESSAGE_BYTES only the request it answered fails.
 */
export function upstreamFetch(bounds: BoundsContext, gatewayToken?: () => Promise<string>) {
  return async (url: string | URL, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers);
    headers.delete('authorization');
    const token = upstreamToken.getStore() ?? (await gatewayToken?.());
    if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
    // W3C trace context of the call's span (the HTTP convention, besides `_meta`'s).
    if (tracingEnabled()) {
      for (const [name, value] of Object.entries(traceHeaders())) headers.set(name, value);
    }
    const response = await fetchWithOwnSignal(url, { ...init, headers });
    return boundResponse(response, requestIdOf(init?.body), bounds);
  };
}

/**
 * The SDK's transport passes one long-lived abort signal to every fetch, and Node 20's fetch
 * adds a listener to it per request that only garbage collection removes: under load it held
 * 400–2200 listeners (MaxListenersExceededWarning, ~180 µs of bookkeeping per call; see
 * test/bench/HISTORY.md). Each request gets a signal of its own instead, tied to the long-lived
 * one by a listener that is removed as soon as the response body has been read or the request
 * failed. An abort of the long-lived signal still aborts every request and stream in flight.
 */
export async function fetchWithOwnSignal(url: string | URL, init: RequestInit): Promise<Response> {
  const parent = init.signal;
  if (!parent) return fetch(url, init);
  const own = new AbortController();
  const onAbort = () => own.abort(parent.reason);
  if (parent.aborted) own.abort(parent.reason);
  else parent.addEventListener('abort', onAbort, { once: true });
  const release = () => parent.removeEventListener('abort', onAbort);
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: own.signal });
  } catch (error) {
    release();
    throw error;
  }
  if (!response.body) {
    release();
    return response;
  }
  // Released when the body ends, fails or is cancelled (the SDK closing an SSE stream, a body
  // cut at its size limit: http-bounds.ts).
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { value, done } = await reader.read();
          if (!done) return controller.enqueue(value);
          release();
          controller.close();
        } catch (error) {
          release();
          controller.error(error);
        }
      },
      cancel(reason) {
        release();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  own.signal.addEventListener('abort', release, { once: true });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/**
 * A Streamable HTTP MCP server that runs on its own (its URL was allowed by policy before this
 * is built). One client, connected on first use and reconnected after a failure; every request
 * carries the integration's timeout, and the connect itself is bounded by it.
 */
export class HttpUpstream implements Upstream {
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private state: UpstreamState = 'idle';
  private lastError: string | undefined;
  private restarts = 0;

  constructor(
    private readonly spec: {
      integration: string;
      url: string;
      requestTimeoutMs: number;
      /** The gateway's own token for this integration (sub = gateway), for requests of no task. */
      gatewayToken?: () => Promise<string>;
    },
    private readonly log: Logger,
  ) {}

  status(): UpstreamStatus {
    return {
      state: this.state,
      pid: undefined,
      restarts: this.restarts,
      lastError: this.lastError,
    };
  }

  async request<T>(fn: (client: Client, timeoutMs: number) => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      return await fn(client, this.spec.requestTimeoutMs);
    } catch (error) {
      if (isTransportFailure(error)) {
        // Drop the client: the next request reconnects (the server may have restarted).
        this.client = undefined;
        this.state = 'failed';
        this.lastError = (error as Error).message;
        this.restarts += 1;
        throw upstreamError(
          this.spec.integration,
          `the server at ${this.spec.url} failed: ${rootCause(error)}`,
          error,
        );
      }
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    await this.connecting?.catch(() => {});
    await this.client?.close().catch(() => {});
    this.client = undefined;
  }

  private connect(): Promise<Client> {
    if (this.state === 'stopped') {
      return Promise.reject(upstreamError(this.spec.integration, 'the integration is stopped'));
    }
    if (this.client) return Promise.resolve(this.client);
    // The connection (initialize, the notification stream it opens) belongs to no task: exit the
    // caller's token context so none of its long-lived requests carries that task's token.
    this.connecting ??= upstreamToken.exit(() => this.open());
    return this.connecting;
  }

  private open(): Promise<Client> {
    return (async () => {
      this.state = 'starting';
      const client = createUpstreamClient();
      try {
        await client.connect(
          new StreamableHTTPClientTransport(new URL(this.spec.url), {
            fetch: upstreamFetch(
              { integration: this.spec.integration, log: this.log },
              this.spec.gatewayToken,
            ),
          }),
          { timeout: this.spec.requestTimeoutMs },
        );
      } catch (error) {
        this.state = 'failed';
        this.lastError = (error as Error).message;
        // Refused or reset: expected while a server run by the integration's own process
        // starts (the registry retries), so the cause alone, without a stack.
        const context = { integration: this.spec.integration, url: this.spec.url };
        if (isTransportFailure(error)) {
          this.log.warn({ ...context, cause: rootCause(error) }, 'upstream connect failed');
        } else {
          this.log.warn({ ...context, err: error }, 'upstream connect failed');
        }
        throw upstreamError(
          this.spec.integration,
          `cannot reach ${this.spec.url}: ${rootCause(error)}`,
          error,
        );
      }
      await followListChanges(client, this.spec.requestTimeoutMs, (error) =>
        this.log.warn(
          { integration: this.spec.integration, err: error },
          'upstream list changes not followed',
        ),
      );
      this.client = client;
      this.state = 'ready';
      this.lastError = undefined;
      return client;
    })().finally(() => {
      this.connecting = undefined;
    });
  }
}

/** fetch wraps the useful part ("connect ECONNREFUSED 127.0.0.1:7301") in its causes. */
function isTransportFailure(error: unknown): boolean {
  const text = String((error as Error)?.message ?? '');
  return /fetch failed|ECONNREFUSED|ECONNRESET|socket hang up|Connection closed/i.test(text);
}
