import {
  type CallToolResult,
  Client,
  StreamableHTTPClientTransport,
} from '@modelcontextprotocol/client';
import type { Endpoint } from './bundle.ts';

/**
 * One MCP client for one bundle endpoint: Streamable HTTP with the task's bearer token, and
 * `auto` version negotiation, so the agent speaks 2026-07-28 where the server does and falls
 * back to the 2025 `initialize` handshake otherwise (the same as the gateway's own upstream
 * client, integrations/upstream/client.ts).
 */
export async function connectEndpoint(endpoint: Endpoint): Promise<Client> {
  const client = new Client(
    { name: 'switchboard-agent', version: '0.1.0' },
    { versionNegotiation: { mode: 'auto' } },
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(endpoint.url), {
      requestInit: { headers: { authorization: `Bearer ${endpoint.token}` } },
    }),
  );
  return client;
}

/** The text blocks of a result, one per line (images, audio and resources have none). */
export function textOf(result: CallToolResult): string {
  return result.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('\n');
}

/** An error of any kind as one line for the log (SDK errors carry their JSON-RPC code). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' || typeof code === 'string'
    ? `${error.message} (code ${code})`
    : error.message;
}
