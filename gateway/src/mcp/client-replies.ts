import type { JSONRPCMessage, RequestId, Transport } from '@modelcontextprotocol/server';
import type { TokenClaims } from '../tokens/claims.ts';

interface Waiting {
  transport: Transport;
  originalId: RequestId;
}

/**
 * Replies of 2025-era clients to the gateway's server→client requests (the SDK's legacy shim
 * turning an upstream's input_required into elicitation/create, sampling/createMessage or
 * roots/list on the call's SSE stream). Served statelessly, the client's answer comes in a POST
 * of its own, which has no server instance that sent the request: this is what links the two.
 *
 * Each per-request server numbers its requests from 0, so two calls of one token would both ask
 * with id 0; the gateway renames every outgoing request id to one unique in this process
 * (`switchboard-<n>`), and keys the wait by token too, so only the token that was asked can
 * answer. A reply is handed to its server with the id that server gave it.
 */
export class ClientReplies {
  private next = 0;
  private readonly waiting = new Map<string, Waiting>();

  /** Renames the requests `transport` sends; the returned function forgets what it still waits for. */
  attach(claims: TokenClaims, transport: Transport): () => void {
    const mine = new Set<string>();
    const renamed = new Map<RequestId, string>();
    const send = transport.send.bind(transport);
    transport.send = (message, options) => {
      if (isRequest(message)) {
        this.next += 1;
        const id = `switchboard-${this.next}`;
        const key = keyOf(claims, id);
        this.waiting.set(key, { transport, originalId: message.id });
        mine.add(key);
        renamed.set(message.id, id);
        return send({ ...message, id }, options);
      }
      if (isCancellation(message)) {
        // A request the server gave up on (timeout, abort) is cancelled by the id the client saw.
        const id = renamed.get(message.params.requestId);
        if (id !== undefined) {
          return send({ ...message, params: { ...message.params, requestId: id } }, options);
        }
      }
      return send(message, options);
    };
    return () => {
      for (const key of mine) this.waiting.delete(key);
    };
  }

  /** Hands a client's reply to the request it answers; false when none of this token waits for it. */
  deliver(claims: TokenClaims, reply: JSONRPCMessage): boolean {
    const id = (reply as { id?: unknown }).id;
    if (typeof id !== 'string' && typeof id !== 'number') return false;
    const key = keyOf(claims, id);
    const found = this.waiting.get(key);
    if (!found) return false;
    this.waiting.delete(key);
    found.transport.onmessage?.({ ...reply, id: found.originalId } as JSONRPCMessage);
    return true;
  }
}

/** A JSON-RPC response (result or error) rather than a request or a notification. */
export function isReply(message: unknown): message is JSONRPCMessage {
  if (message === null || typeof message !== 'object') return false;
  const m = message as Record<string, unknown>;
  return m.method === undefined && m.id !== undefined && ('result' in m || 'error' in m);
}

function isRequest(
  message: JSONRPCMessage,
): message is JSONRPCMessage & { id: RequestId; method: string } {
  const m = message as { id?: unknown; method?: unknown };
  return typeof m.method === 'string' && (typeof m.id === 'string' || typeof m.id === 'number');
}

function isCancellation(
  message: JSONRPCMessage,
): message is JSONRPCMessage & { method: string; params: { requestId: RequestId } } {
  const m = message as { method?: unknown; params?: { requestId?: unknown } };
  return m.method === 'notifications/cancelled' && m.params?.requestId !== undefined;
}

function keyOf(claims: TokenClaims, id: RequestId): string {
  return `${claims.tokenId}\n${typeof id}:${String(id)}`;
}
