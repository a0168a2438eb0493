import type { Client } from '@modelcontextprotocol/client';
import type { UpstreamStatus } from './stdio.ts';

/** What the registry needs of an upstream MCP server, whatever its transport. */
export interface Upstream {
  request<T>(fn: (client: Client, timeoutMs: number) => Promise<T>): Promise<T>;
  status(): UpstreamStatus;
  stop(): Promise<void>;
}
