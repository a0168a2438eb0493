import type { Client } from '@modelcontextprotocol/client';

/** What the registry needs of an upstream MCP server, whatever its transport. */
export interface Upstream {
  request<T>(fn: (client: Client, timeoutMs: number) => Promise<T>): Promise<T>;
  status(): UpstreamStatus;
  stop(): Promise<void>;
}

export type UpstreamState = 'idle' | 'starting' | 'ready' | 'backoff' | 'failed' | 'stopped';

export interface UpstreamStatus {
  state: UpstreamState;
  pid: number | undefined;
  restarts: number;
  lastError: string | undefined;
}
