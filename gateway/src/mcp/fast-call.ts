import type { IncomingHttpHeaders } from 'node:http';
import {
  type CallToolResult,
  classifyInboundRequest,
  isJsonContentType,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/server';
import type { Response as ExpressResponse } from 'express';
import type { Integration } from '../integrations/registry.ts';
import { sendResponse } from './http-bridge.ts';
import { cancelledByClient, cancelledResponse } from './inflight.ts';
import { callTool, type HandlerDeps, type ToolCallContext } from './tools.ts';
import { isAggregate, type View, visibleIntegrations } from './view.ts';

/**
 * A direct path for the commonest request of all, a 2025-era `tools/call` (REFERENCES §A2.5):
 * no per-request `Server` + `WebStandardStreamableHTTPServerTransport`, no web Request/Response
 * bridge, no JSON-RPC zod classification; the answer is written straight to `res`. The prototype
 * measured it halving the gateway's CPU per call (401 → 213 µs at C=16).
 *
 * It serves only the plain shape the SDK path would accept without a question, and leaves
 * everything else to the SDK, which then answers it (an error included) in its own words:
 * - one JSON-RPC request (no batch) `{jsonrpc: "2.0", id, method: "tools/call", params}` with no
 *   other member, id a string or a safe integer;
 * - params `name` (a string), `arguments` and `_meta` (plain objects, optional), nothing else
 *   (no MRTR `inputResponses`/`requestState`, no task augmentation);
 * - no `_meta.progressToken` (progress needs the SSE stream) and no `io.modelcontextprotocol/`
 *   envelope key (the SDK lifts those);
 * - the headers the SDK transport insists on (Accept both JSON and SSE, a JSON Content-Type, a
 *   supported or absent MCP-Protocol-Version), and the SDK's own classifier says 2025-era.
 * The call itself is `callTool` of tools.ts, the SDK handler's own body: same resolution, same
 * errors, same task:tool_use events.
 */

export interface FastToolCall {
  jsonrpc: '2.0';
  id: string | number;
  method: 'tools/call';
  params: { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> };
}

const REQUEST_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);
const PARAMS_KEYS = new Set(['name', 'arguments', '_meta']);
const ENVELOPE_PREFIX = 'io.modelcontextprotocol/';
const SUPPORTED_VERSIONS = new Set<string>(SUPPORTED_PROTOCOL_VERSIONS);
/**
 * Tests set `enabled` to false to send the same requests through the SDK path and compare;
 * `served` counts the calls answered here, so they can tell which path answered.
 */
export const fastCallSwitch = { enabled: true, served: 0 };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function onlyKeys(value: Record<string, unknown>, allowed: Set<string>): boolean {
  for (const key in value) if (!allowed.has(key)) return false;
  return true;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Whether the fast path may serve this request. Sync and allocation-light (~1 µs): it runs on
 * every MCP POST. The one place to add conditions (e.g. client capabilities that need the SSE
 * path); `_view` is there for those.
 */
export function fastCallEligible(
  body: unknown,
  _view: View,
  headers: IncomingHttpHeaders,
): body is FastToolCall {
  if (!fastCallSwitch.enabled || !isPlainObject(body)) return false;
  if (body.method !== 'tools/call' || body.jsonrpc !== '2.0') return false;
  const id = body.id;
  if (typeof id !== 'string' && !Number.isSafeInteger(id)) return false;
  if (!onlyKeys(body, REQUEST_KEYS)) return false;
  const params = body.params;
  if (!isPlainObject(params) || !onlyKeys(params, PARAMS_KEYS)) return false;
  if (typeof params.name !== 'string') return false;
  if (params.arguments !== undefined && !isPlainObject(params.arguments)) return false;
  const meta = params._meta;
  if (meta !== undefined) {
    if (!isPlainObject(meta) || meta.progressToken !== undefined) return false;
    for (const key in meta) if (key.startsWith(ENVELOPE_PREFIX)) return false;
  }
  const accept = header(headers, 'accept');
  if (!accept?.includes('application/json') || !accept.includes('text/event-stream')) return false;
  if (!isJsonContentType(header(headers, 'content-type'))) return false;
  const version = header(headers, 'mcp-protocol-version');
  if (version !== undefined && !SUPPORTED_VERSIONS.has(version)) return false;
  return legacyEra(version);
}

/**
 * The SDK's own classifier (isLegacyRequest's predicate) on an eligible body: what it says
 * depends only on the MCP-Protocol-Version header then (the body carries no envelope key, and
 * its shape is the one checked above), so it is asked once per supported version, on a body of
 * that shape. Asked per request, its zod passes (is it a result? an error response?) failed
 * and formatted their issues on every call: ~55 of the ~2,200 profiled µs of a call at C=16.
 */
const legacyByVersion = new Map<string | undefined, boolean>();
const SAMPLE_CALL = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'tool' } };

function legacyEra(version: string | undefined): boolean {
  let legacy = legacyByVersion.get(version);
  if (legacy === undefined) {
    const era = classifyInboundRequest({
      httpMethod: 'POST',
      ...(version !== undefined && { protocolVersionHeader: version }),
      body: SAMPLE_CALL,
    });
    legacy = era.kind === 'legacy';
    legacyByVersion.set(version, legacy);
  }
  return legacy;
}

/**
 * The integrations the SDK path's tools/call handler is given (server.ts buildServer): the
 * visible ones whose upstream offers tools. undefined when the SDK would register no tools/call
 * at all (an integration endpoint without tools): that answer is the SDK's to give.
 */
async function toolIntegrations(deps: HandlerDeps, view: View): Promise<Integration[] | undefined> {
  const visible = visibleIntegrations(deps.registry, view);
  const offers = await Promise.all(
    visible.map((item) =>
      deps.catalog.capabilities(item).then(
        (capabilities) => (capabilities.tools === undefined ? undefined : item),
        () => undefined,
      ),
    ),
  );
  const items = offers.filter((item): item is Integration => item !== undefined);
  return items.length > 0 || isAggregate(view) ? items : undefined;
}

/**
 * Serves an eligible call; false (nothing written) when it must go the SDK way after all. The
 * call's signal aborts when the client disconnects first (as closing the SDK server does), or
 * when a notifications/cancelled names it in another request (InFlight): then no JSON-RPC
 * response is sent (cancelledResponse).
 */
export async function serveFastCall(
  deps: HandlerDeps,
  res: ExpressResponse,
  call: FastToolCall,
  view: View,
): Promise<boolean> {
  const items = await toolIntegrations(deps, view);
  if (!items) return false;
  // A `required` tool called without `params.task` is the SDK path's -32601 (2025-11-25 tasks);
  // a call WITH `params.task` is never eligible (fastCallEligible: no other params key).
  if (deps.mcpTasks2025 && (await deps.mcpTasks2025.requiresTask(view, call.params.name))) {
    return false;
  }
  fastCallSwitch.served++;
  const tracked = deps.inflight.track(view.claims, call.id);
  // The tracked signal itself is aborted when the client leaves: one controller a call, not a
  // second one for InFlight to follow.
  let left = false;
  const onClose = () => {
    if (res.writableFinished) return;
    left = true;
    tracked.abort('the client disconnected');
  };
  res.once('close', onClose);
  const ctx: ToolCallContext = {
    mcpReq: {
      id: call.id,
      _meta: call.params._meta,
      signal: tracked.signal,
      // Only progress is ever notified, and only for a progress token, which is not eligible.
      notify: async () => {},
    },
    era: 'legacy',
  };
  let answer: string;
  try {
    // The caller checked that this client declared no input kinds and asked for no logs.
    const input = { capabilities: deps.clients.capabilities(view.claims) };
    const result = await callTool(deps, view, items, call.params, ctx, input);
    answer = JSON.stringify({ result: answerable(result), jsonrpc: '2.0', id: call.id });
  } catch (error) {
    answer = JSON.stringify({ jsonrpc: '2.0', id: call.id, error: jsonRpcError(error) });
  } finally {
    tracked.done();
    res.off('close', onClose);
  }
  // The SDK path drops the answer of a client that left (nothing to send it to); so do we.
  if (res.destroyed || res.writableEnded || left) return true;
  if (cancelledByClient(tracked.signal)) {
    await sendResponse(res, cancelledResponse());
    return true;
  }
  // statusCode + setHeader, not writeHead: end() then still adds Content-Length (no chunking).
  res.statusCode = 200;
  res.setHeader('content-type', 'application/json');
  res.end(answer);
  return true;
}

/**
 * What the SDK's tools/call wrapper does to a handler's result before sending it
 * (normalizeContentlessToolResult): `content: []` for a result without content, unless it is
 * of another family (task, input-required). The result already passed the upstream client's
 * schema, so the SDK's second validation would find nothing to change.
 */
function normalised(result: CallToolResult): CallToolResult {
  if (result.content !== undefined) return result;
  if ('task' in result || 'inputRequests' in result || 'requestState' in result) return result;
  return { ...result, content: [] };
}

/**
 * A 2025 client has no input_required vocabulary. Eligible clients declared no input kinds, so
 * an upstream's SDK refuses to ask them (-32021) before answering; what is left is a state-only
 * input_required (load shedding), answered as the SDK's legacy shim answers a question it cannot
 * put: an isError result.
 */
function answerable(result: CallToolResult): CallToolResult {
  if ((result as { resultType?: unknown }).resultType !== 'input_required')
    return normalised(result);
  return {
    content: [
      {
        type: 'text',
        text: 'The integration asked for client input, which this 2025-era client did not declare',
      },
    ],
    isError: true,
  };
}

/** The error member the SDK's Protocol sends for a thrown error (legacy codec: -32002 → -32602). */
function jsonRpcError(error: unknown): { code: number; message: string; data?: unknown } {
  const e = error as { code?: unknown; message?: unknown; data?: unknown };
  const thrown = Number.isSafeInteger(e.code) ? (e.code as number) : -32603;
  const out: { code: number; message: string; data?: unknown } = {
    code: thrown === -32002 ? -32602 : thrown,
    message: typeof e.message === 'string' ? e.message : 'Internal error',
  };
  if (e.data !== undefined) out.data = e.data;
  return out;
}
