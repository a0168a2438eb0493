import type { JSONRPCMessage } from '@modelcontextprotocol/client';
import { jsonRpcErrorOf } from '../../errors.ts';

/**
 * An upstream answer past MAX_MESSAGE_BYTES is never parsed, so the request it answered would
 * wait for its timeout. From the answer's first and last bytes we recover that request's id and
 * answer it ourselves with an error: only that request fails, at once; the server and every
 * other call on it go on. A message that is no answer (a notification, a server's own request,
 * whose ids are in the server's numbering, not ours) must never fail one of our requests, so
 * the id is taken only from a message that is visibly a response:
 *   `{"jsonrpc":"2.0","id":7,"result":…`  (id first: most servers), or
 *   `{"result":…,"jsonrpc":"2.0","id":7}` (result first, id last: the MCP SDK's own servers).
 * A server can fail its own pending requests with an error at any time anyway; guessing wrong
 * costs nothing more.
 */

/** A JSON-RPC id as it appears in JSON: a number or a string (of at most 128 characters). */
const ID = String.raw`(-?\d{1,16}|"(?:[^"\\]|\\.){0,128}")`;
const JSONRPC = String.raw`"jsonrpc"\s*:\s*"2\.0"\s*,\s*`;
const ANSWER_KEY = String.raw`"(?:result|error)"\s*:`;
const ID_FIRST = new RegExp(
  String.raw`^\s*\{\s*(?:${JSONRPC})?"id"\s*:\s*${ID}\s*,\s*(?:${JSONRPC})?${ANSWER_KEY}`,
);
const ANSWER_FIRST = new RegExp(String.raw`^\s*\{\s*(?:${JSONRPC})?${ANSWER_KEY}`);
const ID_LAST = new RegExp(
  String.raw`,\s*"id"\s*:\s*${ID}\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}\s*$`,
);

export type RequestId = string | number;

/** The id of the request a message answers, from its head (and its tail once it has ended). */
export function answeredId(head: Buffer, tail?: Buffer): RequestId | undefined {
  const start = head.toString('latin1');
  const first = ID_FIRST.exec(start);
  if (first) return parseId(first[1] as string);
  if (!tail || !ANSWER_FIRST.test(start)) return undefined;
  const last = ID_LAST.exec(tail.toString('latin1'));
  return last ? parseId(last[1] as string) : undefined;
}

function parseId(token: string): RequestId | undefined {
  try {
    const id = JSON.parse(token) as unknown;
    return typeof id === 'number' || typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** The error the gateway answers in place of an oversized answer (upstream_too_large). */
export function tooLargeAnswer(integration: string, id: RequestId, limit: number): JSONRPCMessage {
  return {
    jsonrpc: '2.0',
    id,
    error: jsonRpcErrorOf(
      'upstream_too_large',
      `integration ${integration}: the server's answer exceeded ${limit} bytes`,
      { integration, limit },
    ),
  };
}
