import type { Readable, Writable } from 'node:stream';
import {
  isInitializeRequest,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  PROTOCOL_VERSION_META_KEY,
  type RequestId,
  StreamableHTTPClientTransport,
} from '@modelcontextprotocol/client';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { describeError } from './mcp.ts';

/**
 * `switchboard connect`: a stdio MCP server for agents that only speak stdio, relaying every
 * JSON-RPC message to the gateway's Streamable HTTP endpoint and every answer back.
 *
 * Why a transparent relay and not an SDK Client to the gateway plus an SDK Server on stdio:
 *  - the two ends negotiate the protocol with each other, so each era (2026-07-28 and 2025)
 *    works exactly as it does against the gateway directly, with nothing to translate;
 *  - every method passes, including those a re-serving Server would each need a handler for
 *    (tools, resources, prompts, completion, `subscriptions/listen`, list_changed, logging,
 *    elicitation and sampling in both eras' shapes, `input_required` results); the gateway's own
 *    forwarding of the same set is several hundred lines (gateway/src/mcp/);
 *  - progress notifications arrive on the call's own SSE stream and are written out as they come.
 * What is left to the bridge is what HTTP adds and stdio has not: the bearer header, the
 * session id and `MCP-Protocol-Version` header of a 2025 connection (the SDK transport keeps
 * the session id; the version is read from the initialize result below), and cancellation,
 * which a 2026-07-28 request signals by closing its HTTP stream rather than by a notification.
 */

/** The first protocol version of the modern (stateless, per-request envelope) era. */
const FIRST_MODERN_VERSION = '2026-07-28';
/** JSON-RPC "internal error": the request could not be delivered to the gateway. */
const INTERNAL_ERROR = -32603;

export interface BridgeOptions {
  url: URL;
  /** The bearer token. Never logged: errors are described from the SDK's messages only. */
  token: string;
  stdin: Readable;
  stdout: Writable;
  log: (line: string) => void;
}

interface Pending {
  controller: AbortController;
  /** Cancelled by closing its stream (2026-07-28) rather than by notifications/cancelled. */
  modern: boolean;
  initialize: boolean;
}

/** Runs until stdin ends; then closes the HTTP side. */
export async function runBridge(options: BridgeOptions): Promise<void> {
  const { log } = options;
  const http = new StreamableHTTPClientTransport(options.url, {
    requestInit: { headers: { authorization: `Bearer ${options.token}` } },
  });
  const stdio = new StdioServerTransport(options.stdin, options.stdout);
  const pending = new Map<RequestId, Pending>();
  // Notifications and replies still being POSTed: a client often sends notifications/cancelled
  // and closes stdin right after, and that last notification must still reach the gateway.
  const delivering = new Set<Promise<void>>();
  const write = (message: JSONRPCMessage) =>
    stdio
      .send(message)
      .catch((error: unknown) => log(`cannot write to stdout: ${describeError(error)}`));

  http.onmessage = (message) => {
    if ('id' in message && !('method' in message) && message.id !== undefined) {
      const request = pending.get(message.id);
      pending.delete(message.id);
      // A 2025 connection: later requests carry the negotiated version as a header.
      if (request?.initialize && isJSONRPCResultResponse(message)) {
        const version = (message.result as { protocolVersion?: unknown }).protocolVersion;
        if (typeof version === 'string') http.setProtocolVersion(version);
      }
    }
    void write(message);
  };
  http.onerror = (error) => log(`gateway: ${describeError(error)}`);

  async function forward(message: JSONRPCMessage): Promise<void> {
    if (isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
      const id = (message.params as { requestId?: RequestId } | undefined)?.requestId;
      const request = id === undefined ? undefined : pending.get(id);
      if (id !== undefined && request?.modern) {
        pending.delete(id);
        request.controller.abort();
        return;
      }
    }
    let request: Pending | undefined;
    if (isJSONRPCRequest(message)) {
      const version = message.params?._meta?.[PROTOCOL_VERSION_META_KEY];
      request = {
        controller: new AbortController(),
        modern: typeof version === 'string' && version >= FIRST_MODERN_VERSION,
        initialize: isInitializeRequest(message),
      };
      pending.set(message.id, request);
    }
    try {
      await http.send(message, request && { requestSignal: request.controller.signal });
    } catch (error) {
      if (!isJSONRPCRequest(message) || request?.controller.signal.aborted) return;
      pending.delete(message.id);
      // The caller waits for an answer to its request: give it one rather than a hang.
      void write({
        jsonrpc: '2.0',
        id: message.id,
        error: { code: INTERNAL_ERROR, message: `switchboard connect: ${describeError(error)}` },
      });
    }
  }

  const closed = new Promise<void>((resolve) => {
    stdio.onclose = resolve;
  });
  stdio.onmessage = (message) => {
    const sent = forward(message);
    if (isJSONRPCRequest(message)) return;
    delivering.add(sent);
    void sent.finally(() => delivering.delete(sent));
  };
  stdio.onerror = (error) => log(`stdin: ${describeError(error)}`);
  options.stdin.once('end', () => void stdio.close());
  await http.start();
  await stdio.start();
  await closed;
  await Promise.allSettled(delivering);
  // Nobody is left to read an answer: the requests still open are abandoned, which cancels them.
  for (const request of pending.values()) request.controller.abort();
  await http.close();
}
