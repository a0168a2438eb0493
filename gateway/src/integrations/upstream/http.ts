import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { Logger } from '../../log.ts';
import { type UpstreamState, type UpstreamStatus, upstreamError } from './stdio.ts';
import type { Upstream } from './upstream.ts';

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
    private readonly spec: { integration: string; url: string; requestTimeoutMs: number },
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
    this.connecting ??= (async () => {
      this.state = 'starting';
      const client = new Client(
        { name: 'switchboard-gateway', version: '0.1.0' },
        { capabilities: {} },
      );
      try {
        await client.connect(new StreamableHTTPClientTransport(new URL(this.spec.url)), {
          timeout: this.spec.requestTimeoutMs,
        });
      } catch (error) {
        this.state = 'failed';
        this.lastError = (error as Error).message;
        this.log.warn(
          { integration: this.spec.integration, url: this.spec.url, err: error },
          'upstream connect failed',
        );
        throw upstreamError(
          this.spec.integration,
          `cannot reach ${this.spec.url}: ${rootCause(error)}`,
          error,
        );
      }
      this.client = client;
      this.state = 'ready';
      this.lastError = undefined;
      return client;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }
}

/** fetch wraps the useful part ("connect ECONNREFUSED 127.0.0.1:7301") in its causes. */
function rootCause(error: unknown): string {
  let current = error as { message?: unknown; cause?: unknown } | undefined;
  while (current?.cause instanceof Error) current = current.cause as typeof current;
  return String(current?.message ?? error);
}

function isTransportFailure(error: unknown): boolean {
  const text = String((error as Error)?.message ?? '');
  return /fetch failed|ECONNREFUSED|ECONNRESET|socket hang up|Connection closed/i.test(text);
}
