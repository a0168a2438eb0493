import {
  type CallToolResult,
  Client,
  isJSONRPCRequest,
  type JSONRPCMessage,
  StreamableHTTPClientTransport,
  TRACEPARENT_META_KEY,
  TRACESTATE_META_KEY,
} from '@modelcontextprotocol/client';
import type { Endpoint, TraceContext } from './bundle.ts';

/**
 * One MCP client for one bundle endpoint: Streamable HTTP with the task's bearer token, and
 * `auto` version negotiation, so the agent speaks 2026-07-28 where the server does and falls
 * back to the 2025 `initialize` handshake otherwise (the same as the gateway's own upstream
 * client, integrations/upstream/client.ts).
 */
export async function connectEndpoint(
  endpoint: Endpoint,
  trace?: TraceContext | undefined,
): Promise<Client> {
  const client = new Client(
    { name: 'switchboard-agent', version: '0.1.0' },
    { versionNegotiation: { mode: 'auto' } },
  );
  const transport = new StreamableHTTPClientTransport(new URL(endpoint.url), {
    requestInit: {
      // The HTTP headers carry the trace too: the gateway's ingress span reads them.
      headers: { authorization: `Bearer ${endpoint.token}`, ...(trace ?? {}) },
    },
  });
  if (trace) {
    const send = transport.send.bind(transport);
    // A batch (2025-03-26's JSON-RPC arrays) gets the trace on each of its requests.
    transport.send = (message, options) =>
      send(
        Array.isArray(message)
          ? message.map((m) => withTraceMeta(m, trace))
          : withTraceMeta(message, trace),
        options,
      );
  }
  await client.connect(transport);
  return client;
}

/**
 * A request with the task's trace context in its `_meta` (SEP-414: the unprefixed keys
 * traceparent and tracestate), so the gateway and the integration behind it continue the trace
 * the task runs in. Every request, not only tools/call: the transport is the one place they all
 * pass. Other `_meta` keys (progressToken, the 2026 envelope) are kept; notifications and
 * responses go as they are.
 */
export function withTraceMeta(message: JSONRPCMessage, trace: TraceContext): JSONRPCMessage {
  if (!isJSONRPCRequest(message)) return message;
  const params = (message.params ?? {}) as Record<string, unknown> & {
    _meta?: Record<string, unknown>;
  };
  return {
    ...message,
    params: {
      ...params,
      _meta: {
        ...params._meta,
        [TRACEPARENT_META_KEY]: trace.traceparent,
        ...(trace.tracestate ? { [TRACESTATE_META_KEY]: trace.tracestate } : {}),
      },
    },
  };
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
