import { createMcpHandler, isLegacyRequest } from '@modelcontextprotocol/server';
import type { Request as ExpressRequest, Response as ExpressResponse } from 'express';
import type { EventBus } from '../db/bus.ts';
import type { Sql } from '../db/connect.ts';
import type { ToolCallEvent } from '../events/tool-calls.ts';
import type { ToolCallGuard } from '../guards/guard.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import type { TokenClaims } from '../tokens/claims.ts';
import { Catalog } from './catalog.ts';
import { ClientReplies } from './client-replies.ts';
import { PAGE_SIZE } from './cursors.ts';
import { serveEra2025 } from './era-2025.ts';
import { Era2025Clients } from './era-2025-clients.ts';
import { notReady } from './errors.ts';
import { fastCallEligible, serveFastCall } from './fast-call.ts';
import {
  BATCH_REFUSED,
  clientGone,
  goneSignal,
  MAX_BODY_BYTES,
  readBody,
  sendResponse,
  toWebRequest,
} from './http-bridge.ts';
import { InFlight, requestId } from './inflight.ts';
import { acceptsInput } from './input-required.ts';
import { createMcpTaskFor, registerMcpTaskMethods } from './mcp-task-methods.ts';
import {
  createMcpTaskFor2025,
  registerMcpTaskMethods2025,
  requiresTask,
} from './mcp-task-methods-2025.ts';
import { McpTaskRuntime, type McpTaskRuntimeDeps } from './mcp-task-runtime.ts';
import { NotificationHub } from './notifications.ts';
import { declarations, HEADER_MISMATCH, paramHeaderMismatch } from './param-headers.ts';
import { requestScope } from './request-scope.ts';
import { type ResourceDeps, resolveResourceUri } from './resources.ts';
import { buildServer } from './server.ts';
import { ResourceSubscriptions } from './subscriptions.ts';
import { visibleTool } from './tools.ts';
import { reuseUpstreamTokens } from './upstream-tokens.ts';
import type { View } from './view.ts';

export interface McpEndpointDeps {
  registry: IntegrationRegistry;
  log: Logger;
  /** 2025-era clients' handshakes and replies, shared by every replica (migration 0018). */
  sql: Sql;
  /** Tells the replica holding a call that a reply to its request arrived elsewhere. */
  bus: EventBus;
  /** This replica (gateway.ts `owner`). */
  instance: string;
  /** Short-lived token an HTTP upstream receives instead of the agent's (aud = integration, sub = task, scope = the tools being called). */
  upstreamToken(integration: string, claims: TokenClaims, tools: string[]): Promise<string>;
  /** Called after each tools/call ends, fire-and-forget: never awaited on the call's critical path. */
  onToolCall(event: ToolCallEvent): void;
  /** Whether tool-call arguments are included in events (policy decides; default false). */
  includeArguments?: (integration: string) => boolean;
  /** Items per page of our own list pagination (default PAGE_SIZE, 100); tests use fewer. */
  pageSize?: number;
  /** Guardrails every tools/call passes after the scope check (guards/; default none). */
  guards?: readonly ToolCallGuard[];
  /** MCP tasks (the tasks extension, durable in the database); off without. */
  mcpTasks?: McpTaskRuntimeDeps;
}

export interface McpEndpoint {
  /** Serve one MCP HTTP request (POST, GET or DELETE) for an authenticated claims. integration undefined = the aggregate /mcp. The request body may already be parsed by the caller: accept `parsedBody?: unknown`. */
  handle(
    req: ExpressRequest,
    res: ExpressResponse,
    claims: TokenClaims,
    integration: string | undefined,
    parsedBody?: unknown,
  ): Promise<void>;
  /** Starts the MCP task worker (after the integrations are loaded: it re-runs calls). */
  startMcpTasks?(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The agent-facing MCP endpoints, stateless on the SDK v2 for both protocol eras:
 * 2026-07-28 requests (with the per-request `_meta` envelope) go to createMcpHandler in
 * `legacy: 'reject'` mode, 2025-era requests to our own 2025-era leg (era-2025.ts: JSON answers, GET streams).
 * `isLegacyRequest` is the SDK's own routing predicate, so the split never disagrees with it.
 */
export function createMcpEndpoint(deps: McpEndpointDeps): McpEndpoint {
  const { registry, log } = deps;
  const inflight = new InFlight();
  const era2025Clients = new Era2025Clients(deps.sql, log);
  const replies = new ClientReplies({ sql: deps.sql, bus: deps.bus, log, instance: deps.instance });
  // Upstream changes go to the hub (declared below; only called once requests are served).
  const catalog = new Catalog(
    log,
    (integration, event) => notifications.publish(integration, event),
    (item, error) => {
      registry.refuseCatalog(item, error).catch((err: unknown) => {
        log.error({ integration: item.name, err }, 'refusing an oversized catalog failed');
      });
    },
    (item, tools) => registry.pinTools(item, tools),
  );
  const subscriptions = new ResourceSubscriptions(catalog, log);
  const handlerDeps: ResourceDeps = {
    registry,
    log,
    catalog,
    inflight,
    clients: era2025Clients,
    subscriptions,
    pageSize: deps.pageSize ?? PAGE_SIZE,
    upstreamToken: reuseUpstreamTokens(deps.upstreamToken),
    onToolCall: deps.onToolCall,
    ...(deps.includeArguments && { includeArguments: deps.includeArguments }),
    ...(deps.guards && { guards: deps.guards }),
  };
  const runtime = deps.mcpTasks && new McpTaskRuntime(deps.mcpTasks, handlerDeps);
  if (runtime) {
    const methodDeps = { handler: handlerDeps, runtime };
    handlerDeps.mcpTaskCall = (server, view, params, ctx) =>
      createMcpTaskFor(methodDeps, server, view, params, ctx);
    handlerDeps.mcpTaskMethods = (server, view) => registerMcpTaskMethods(server, methodDeps, view);
    handlerDeps.mcpTasks2025 = {
      call: (server, view, params) => createMcpTaskFor2025(methodDeps, server, view, params),
      methods: (server, view) => registerMcpTaskMethods2025(server, methodDeps, view),
      requiresTask: (view, name) => requiresTask(methodDeps, view, name),
    };
  }
  const notifications = new NotificationHub({
    registry,
    catalog,
    subscriptions,
    log,
    resolveUri: (view, uri) => resolveResourceUri(handlerDeps, view, uri),
  });
  const legacyDeps = {
    buildServer: (view: View) => buildServer(handlerDeps, view, 'legacy'),
    hub: notifications,
    inflight,
    log,
    clients: era2025Clients,
    replies,
  };

  const modern = createMcpHandler(
    () => {
      const scope = requestScope.getStore();
      if (!scope) throw new Error('MCP request outside of the endpoint scope');
      return buildServer(handlerDeps, scope.view, 'modern');
    },
    {
      legacy: 'reject',
      bus: notifications.bus,
      onerror: (error) => log.debug({ err: error }, 'mcp request rejected'),
    },
  );

  /** A 2026-07-28 tools/call whose Mcp-Param-* headers disagree with its body: 400 / -32020. */
  async function paramHeaderCheck(
    body: unknown,
    view: View,
    headers: ExpressRequest['headers'],
  ): Promise<Response | undefined> {
    const call = body as { method?: unknown; params?: { name?: unknown; arguments?: unknown } };
    if (call?.method !== 'tools/call' || typeof call.params?.name !== 'string') return undefined;
    const tool = await visibleTool(handlerDeps, view, call.params.name);
    const found = tool ? declarations(tool) : [];
    if (found.length === 0) return undefined;
    const args = call.params.arguments as Record<string, unknown> | undefined;
    const mismatch = paramHeaderMismatch(found, args, headers);
    if (!mismatch) return undefined;
    return jsonRpcError(
      400,
      HEADER_MISMATCH,
      `Bad Request: the request headers and body disagree: ${mismatch.message}`,
      requestId(body) ?? null,
      { mismatch },
    );
  }

  async function handle(
    req: ExpressRequest,
    res: ExpressResponse,
    claims: TokenClaims,
    integration: string | undefined,
    parsedBody?: unknown,
  ): Promise<void> {
    notifications.start();
    const view: View = { claims, integration };
    const post = req.method === 'POST';
    let body = post ? parsedBody : undefined;
    let raw: string | undefined;
    if (post && body === undefined) {
      const read = await readBody(req);
      if (read.kind === 'too-large') {
        await sendResponse(
          res,
          jsonRpcError(413, -32000, `Payload Too Large: at most ${MAX_BODY_BYTES} bytes`, null),
        );
        return;
      }
      if (read.kind === 'batch') {
        await sendResponse(res, Response.json(BATCH_REFUSED, { status: 400 }));
        return;
      }
      if (read.kind === 'json') body = read.value;
      else raw = read.text;
    }
    if (integration !== undefined) {
      const item = registry.get(integration);
      if (item?.state !== 'ready' || !item.upstream) {
        const error = notReady(integration, item?.state ?? 'unknown', item?.lastError);
        const id = requestId(body);
        const answer =
          post && id !== undefined
            ? jsonRpcError(200, error.code, error.message, id, error.data)
            : post && body !== undefined
              ? new Response(null, { status: 202 })
              : jsonRpcError(503, error.code, error.message, null, error.data);
        await sendResponse(res, answer);
        return;
      }
    }
    // Not for a 2025 client that declared input or asked for logs: its call may need the
    // stream the SDK path opens (era-2025.ts).
    if (post && fastCallEligible(body, view, req.headers)) {
      await era2025Clients.load(claims);
      if (
        !acceptsInput(era2025Clients.capabilities(claims)) &&
        era2025Clients.logLevel(claims) === undefined &&
        (await serveFastCall(handlerDeps, res, body, view))
      ) {
        return;
      }
    }
    const request = toWebRequest(req, raw);
    let response: Response;
    try {
      response = await requestScope.run({ view, body }, async () => {
        if (await isLegacyRequest(request, body)) {
          return serveEra2025(legacyDeps, request, body, view, clientGone(res));
        }
        const mismatch = await paramHeaderCheck(body, view, req.headers);
        if (mismatch) return mismatch;
        // The modern leg cancels through the request's signal (the client closes its stream).
        const signalled = toWebRequest(req, raw, goneSignal(res));
        return modern.fetch(signalled, body === undefined ? undefined : { parsedBody: body });
      });
    } catch (error) {
      // The SDK answers its own failures; this is ours (building the server, the legacy leg).
      log.error({ err: error, integration }, 'mcp request failed');
      response = jsonRpcError(500, -32603, 'Internal error', requestId(body) ?? null);
    }
    await sendResponse(res, response, claims.expiresAt * 1000);
  }

  return {
    handle,
    startMcpTasks: async () => runtime?.start(),
    async close() {
      inflight.abortAll();
      await Promise.all([modern.close(), notifications.close(), runtime?.close(), replies.close()]);
    },
  };
}

function jsonRpcError(
  status: number,
  code: number,
  message: string,
  id: string | number | null,
  data?: unknown,
): Response {
  return Response.json(
    { jsonrpc: '2.0', id, error: { code, message, ...(data !== undefined && { data }) } },
    { status },
  );
}
