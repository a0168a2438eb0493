import type { JSONRPCMessage, RequestId, Transport } from '@modelcontextprotocol/server';
import type { EventBus } from '../db/bus.ts';
import type { Sql } from '../db/connect.ts';
import type { Logger } from '../log.ts';
import type { TokenClaims } from '../tokens/claims.ts';
import { deleteWaits, handOverReply, insertWait, takeReply } from './client-reply-store.ts';
import { MAX_BODY_BYTES } from './http-bridge.ts';

/** The bus channel on which a replica is told that a reply for one of its waits is in the table. */
export const CLIENT_REPLY_CHANNEL = 'switchboard_client_replies';

/** Server→client requests one token may have waiting at once (a call asks one at a time). */
export const MAX_WAITS_PER_TOKEN = 100;

/** The ids the gateway gives its requests: the wait's row id (unique across replicas). */
const REQUEST_ID = /^switchboard-(\d{1,18})$/;

interface Waiting {
  tokenId: string;
  transport: Transport;
  originalId: RequestId;
}

export interface ClientRepliesDeps {
  sql: Sql;
  bus: EventBus;
  log: Logger;
  /** This replica (gateway.ts `owner`). */
  instance: string;
}

/**
 * Replies of 2025-era clients to the gateway's server→client requests (the SDK's legacy shim
 * turning an upstream's input_required into elicitation/create, sampling/createMessage or
 * roots/list on the call's SSE stream). Served statelessly, the client's answer comes in a POST
 * of its own, which has no server instance that sent the request, and behind a round-robin
 * balancer it may reach another replica: this is what links the two.
 *
 * Each per-request server numbers its requests from 0, so two calls of one token would both ask
 * with id 0; the gateway renames every outgoing request to `switchboard-<n>`, n the id of a row
 * it writes first in client_reply_waits (migration 0018; unique across replicas), which also
 * names the token asked and this replica. A reply POST:
 * - on the replica holding the call: handed to its transport in memory, the row deleted;
 * - on another: written into that row, only if it is this token's and still waiting (so no
 *   reply creates a row, and no token answers another's request), then NOTIFY with the row id;
 *   the holder deletes the row as it reads it and hands the reply to its transport. The POST is
 *   answered 202 once the row is written and the notification sent (both committed).
 * Anything else is refused, the same way whether the id exists or not (nothing to probe).
 * On the embedded PGlite (one process) every wait is in this process's memory, so replies take
 * the first path; the bus there is in-process and the second path is only reached for a row
 * of a previous run (answered into the row, swept at its expiry).
 * A reply is handed to its server with the id that server gave it.
 */
export class ClientReplies {
  private readonly waiting = new Map<string, Waiting>();
  private readonly subscribed: Promise<(() => Promise<void>) | undefined>;

  constructor(private readonly deps: ClientRepliesDeps) {
    this.subscribed = deps.bus
      .subscribe(CLIENT_REPLY_CHANNEL, (id) => this.handedOver(id))
      .catch((error: unknown) => {
        deps.log.error({ err: error }, 'client replies: cannot listen for handed-over replies');
        return undefined;
      });
  }

  async close(): Promise<void> {
    const unsubscribe = await this.subscribed;
    await unsubscribe?.().catch(() => {});
  }

  /** Renames the requests `transport` sends; the returned function forgets what it still waits for. */
  attach(claims: TokenClaims, transport: Transport): () => void {
    const mine = new Set<string>();
    const renamed = new Map<RequestId, string>();
    const send = transport.send.bind(transport);
    transport.send = async (message, options) => {
      if (isRequest(message)) {
        await this.subscribed;
        // Written before the request goes out: the reply may reach another replica at once.
        const row = await insertWait(
          this.deps.sql,
          claims.tokenId,
          this.deps.instance,
          claims.expiresAt,
          MAX_WAITS_PER_TOKEN,
        );
        if (row === undefined) {
          throw new Error(`more than ${MAX_WAITS_PER_TOKEN} requests wait for this client`);
        }
        const id = `switchboard-${row}`;
        this.waiting.set(row, { tokenId: claims.tokenId, transport, originalId: message.id });
        mine.add(row);
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
      const left = [...mine].filter((row) => this.waiting.delete(row));
      deleteWaits(this.deps.sql, left).catch((error: unknown) => {
        this.deps.log.warn({ err: error }, 'client replies: ended waits not deleted (swept later)');
      });
    };
  }

  /**
   * Hands a client's reply to the request it answers, here or on the replica holding it; false
   * when none of this token waits for it (or the reply is over the MCP body limit).
   */
  async deliver(claims: TokenClaims, reply: JSONRPCMessage): Promise<boolean> {
    const id = (reply as { id?: unknown }).id;
    const row = typeof id === 'string' ? REQUEST_ID.exec(id)?.[1] : undefined;
    if (row === undefined) return false;
    if (Buffer.byteLength(JSON.stringify(reply)) > MAX_BODY_BYTES) return false;
    const found = this.waiting.get(row);
    if (found) {
      if (found.tokenId !== claims.tokenId) return false;
      this.waiting.delete(row);
      this.hand(found, reply);
      await deleteWaits(this.deps.sql, [row]);
      return true;
    }
    if (!(await handOverReply(this.deps.sql, row, claims.tokenId, reply))) return false;
    await this.deps.bus.publish(CLIENT_REPLY_CHANNEL, row);
    return true;
  }

  /** A reply was written into a wait's row by another replica: ours if we hold that wait. */
  private handedOver(row: string): void {
    if (!this.waiting.has(row)) return;
    takeReply(this.deps.sql, row, this.deps.instance)
      .then((taken) => {
        const found = this.waiting.get(row);
        if (!taken || !found || found.tokenId !== taken.tokenId) return;
        this.waiting.delete(row);
        this.hand(found, taken.reply);
      })
      .catch((error: unknown) => {
        this.deps.log.error({ err: error }, 'client replies: a handed-over reply was not taken');
      });
  }

  private hand(found: Waiting, reply: JSONRPCMessage): void {
    found.transport.onmessage?.({ ...reply, id: found.originalId } as JSONRPCMessage);
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
