import type { CallToolResult, Server, ServerContext, Tool } from '@modelcontextprotocol/server';
import { emitToolCall, type ToolCallEvent } from '../events/tool-calls.ts';
import { checkGuards, reportToGuards } from '../guards/chain.ts';
import type { GuardedCall, ToolCallGuard } from '../guards/guard.ts';
import { splitNamespaced } from '../integrations/names.ts';
import type { Integration, IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import { withExecutionTaskSupport } from '../mcp-tasks/wire-2025.ts';
import {
  contextFrom,
  failSpan,
  inSpan,
  nameRequestSpan,
  requestSpanFor,
  type Span,
  SpanKind,
  SpanStatusCode,
  tracingEnabled,
} from '../telemetry/spans.ts';
import { scopeAllows } from '../tokens/scope.ts';
import type { PublishedTools } from './catalog.ts';
import { paginateLists, type SizedList } from './cursors.ts';
import type { Era2025Clients } from './era-2025-clients.ts';
import type { Era } from './era-results.ts';
import { argumentsTooDeep, toolNotFound, upstreamFailure } from './errors.ts';
import type { ForwardDeps } from './forward.ts';
import type { InFlight } from './inflight.ts';
import { type AgentInput, agentInput } from './input-required.ts';
import { MAX_ARGUMENT_DEPTH, nestsDeeperThan } from './json-depth.ts';
import { answer, type ToolCallContext } from './upstream-call.ts';
import {
  integrationWide,
  isAggregate,
  toolAllowed,
  type View,
  visibleIntegrations,
} from './view.ts';

export type { ToolCallContext };

export interface HandlerDeps extends ForwardDeps {
  registry: IntegrationRegistry;
  log: Logger;
  pageSize: number;
  inflight: InFlight;
  /** What 2025-era clients declared in requests of their own (handshake, log level). */
  clients: Era2025Clients;
  onToolCall(event: ToolCallEvent): void;
  includeArguments?: (integration: string) => boolean;
  /** The guardrails every call the scope allows passes before the upstream (guards/). */
  guards?: readonly ToolCallGuard[];
  /**
   * A tools/call as an MCP task (mcp/mcp-task-methods.ts), when it becomes one: its
   * CreateTaskResult; undefined runs it as a sync call. Absent without a database.
   */
  mcpTaskCall?: (
    server: Server,
    view: View,
    params: { name: string; arguments?: Record<string, unknown> },
    ctx: ServerContext,
  ) => Promise<Record<string, unknown> | undefined>;
  /** Registers tasks/get, tasks/update, tasks/cancel on a 2026-07-28 server (with mcpTaskCall). */
  mcpTaskMethods?: (server: Server, view: View) => void;
  /**
   * The 2025-11-25 task wire (mcp/mcp-task-methods-2025.ts) on the same rows: a 2025-era
   * tools/call's CreateTaskResult (undefined: sync), and tasks/get, tasks/result, tasks/list,
   * tasks/cancel. Absent without a database.
   */
  mcpTasks2025?: {
    call: (
      server: Server,
      view: View,
      params: { name: string; arguments?: Record<string, unknown>; task?: unknown },
    ) => Promise<Record<string, unknown> | undefined>;
    methods: (server: Server, view: View) => void;
    /** Whether a call of `name` must be a task (a `required` tool): not for the fast path. */
    requiresTask: (view: View, name: string) => Promise<boolean>;
  };
}

/**
 * The tools of the integrations a view sees, one list per integration: in scope, never
 * hidden, prefixed on /mcp. Every field an upstream gave (inputSchema, outputSchema,
 * annotations, icons, title, _meta, …) is passed through; only the name changes. The lists
 * are the catalog's own (built once per catalog version), filtered only for a grant of some
 * of an integration's tools.
 */
export async function visibleTools(
  deps: HandlerDeps,
  view: View,
  items: Integration[],
): Promise<SizedList<Tool>[]> {
  return Promise.all(
    items.map(async (item) => {
      try {
        return toolsOf(view, item, await deps.catalog.tools(item));
      } catch (error) {
        // One broken server must not empty the aggregate; its own endpoint reports the error.
        if (!isAggregate(view)) throw upstreamFailure(item.name, error);
        return { items: [], sizes: [] };
      }
    }),
  );
}

function toolsOf(view: View, item: Integration, published: PublishedTools): SizedList<Tool> {
  const named = isAggregate(view) ? published.prefixed : published.tools;
  if (integrationWide(view, item.name)) return { items: named, sizes: published.sizes };
  const items: Tool[] = [];
  const sizes: number[] = [];
  for (const [index, tool] of published.tools.entries()) {
    if (!scopeAllows(view.claims.scope, item.name, tool.name)) continue;
    items.push(named[index] as Tool);
    sizes.push(published.sizes[index] ?? 0);
  }
  return { items, sizes };
}

/** The integration and tool a requested name claims: prefixed on /mcp, plain on /mcp/<name>. */
function claimed(view: View, requested: string): { integration: string; name: string } | undefined {
  return view.integration === undefined
    ? splitNamespaced(requested)
    : { integration: view.integration, name: requested };
}

/**
 * The integration a claimed tool belongs to, if the view may call it and the upstream has it.
 * Unknown, hidden and out-of-scope all come back undefined, so they are answered alike.
 */
async function resolveTool(
  deps: HandlerDeps,
  view: View,
  items: Integration[],
  claim: { integration: string; name: string },
): Promise<{ item: Integration; tool: Tool } | undefined> {
  const item = items.find((i) => i.name === claim.integration);
  if (!item || !toolAllowed(view, item, claim.name)) return undefined;
  let published: PublishedTools;
  try {
    published = await deps.catalog.tools(item);
  } catch (error) {
    throw upstreamFailure(item.name, error);
  }
  const tool = published.all.byName.get(claim.name);
  return tool ? { item, tool } : undefined;
}

/**
 * The upstream's definition of a tool the view may call, by the name the agent uses; undefined
 * for unknown, hidden and out-of-scope alike (and when the upstream cannot list its tools).
 */
export async function visibleTool(
  deps: HandlerDeps,
  view: View,
  requested: string,
): Promise<Tool | undefined> {
  const claim = claimed(view, requested);
  if (!claim) return undefined;
  const item = visibleIntegrations(deps.registry, view).find((i) => i.name === claim.integration);
  if (!item || !toolAllowed(view, item, claim.name)) return undefined;
  const published = await deps.catalog.tools(item).catch(() => undefined);
  return published?.all.byName.get(claim.name);
}

export function registerTools(
  server: Server,
  deps: HandlerDeps,
  view: View,
  items: Integration[],
  era: Era,
): void {
  server.setRequestHandler('tools/list', async (request) => {
    const lists = await visibleTools(deps, view, items);
    const { cursor } = request.params ?? {};
    const { page: listed, nextCursor } = paginateLists('tools', lists, cursor, deps.pageSize);
    // 2025-11-25 tasks (server.ts declared `capabilities.tasks`): each tool's taskSupport.
    const page =
      era === 'legacy' && server.getCapabilities().tasks !== undefined
        ? listed.map(withExecutionTaskSupport)
        : listed;
    return nextCursor === undefined ? { tools: page } : { tools: page, nextCursor };
  });

  server.setRequestHandler('tools/call', async (request, ctx) => {
    // The tasks extension on 2026-07-28; the 2025-11-25 task wire where this server declared
    // `capabilities.tasks` (server.ts).
    if (era === 'modern' && deps.mcpTaskCall) {
      const created = await deps.mcpTaskCall(server, view, request.params, ctx);
      if (created) return created as unknown as CallToolResult;
    }
    if (era === 'legacy' && deps.mcpTasks2025 && server.getCapabilities().tasks !== undefined) {
      const created = await deps.mcpTasks2025.call(server, view, request.params);
      if (created) return created as unknown as CallToolResult;
    }
    return callTool(
      deps,
      view,
      items,
      request.params,
      { mcpReq: ctx.mcpReq, era },
      agentInput(server, ctx, deps.clients.logLevel(view.claims)),
    );
  });
}

/**
 * One tools/call, for both the SDK handler above and the direct 2025-era path (fast-call.ts),
 * so the two answer alike: the tool resolved in the view (unknown, hidden and out of scope are
 * one "not found"), called upstream, and a task:tool_use event reported either way.
 *
 * Traced as a SERVER span (OpenTelemetry's MCP conventions, `tools/call <tool>`): the HTTP
 * request's own span, renamed, when the agent's `_meta.traceparent` adds nothing to the request's
 * (telemetry/spans.ts requestSpanFor), else a child of that `_meta.traceparent` (SEP-414).
 */
export function callTool(
  deps: HandlerDeps,
  view: View,
  items: Integration[],
  params: { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> },
  ctx: ToolCallContext,
  input: AgentInput,
): Promise<CallToolResult> {
  if (!tracingEnabled()) return callToolNow(deps, view, items, params, ctx, input);
  const name = String(params.name).slice(0, 128);
  const attributes = {
    'mcp.method.name': 'tools/call',
    'gen_ai.tool.name': name,
    'jsonrpc.request.id': String(ctx.mcpReq.id),
    'switchboard.task.id': view.claims.taskId,
  };
  const traced = async (span: Span) => {
    const result = await callToolNow(deps, view, items, params, ctx, input);
    if (result.isError === true) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'isError result' });
      span.setAttribute('error.type', 'tool_error');
    }
    return result;
  };
  const request = requestSpanFor(params._meta);
  if (request) {
    nameRequestSpan(request, `tools/call ${name}`);
    request.setAttributes(attributes);
    return traced(request).catch((error: unknown) => {
      failSpan(request, error);
      throw error;
    });
  }
  return inSpan(
    `tools/call ${name}`,
    { kind: SpanKind.SERVER, parent: contextFrom(params._meta), attributes },
    traced,
  );
}

async function callToolNow(
  deps: HandlerDeps,
  view: View,
  items: Integration[],
  params: { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> },
  ctx: ToolCallContext,
  input: AgentInput,
): Promise<CallToolResult> {
  const started = performance.now();
  const requested = params.name;
  const args = params.arguments;
  let toolKnown = false;
  const tooDeep = args !== undefined && nestsDeeperThan(args, MAX_ARGUMENT_DEPTH);
  const report = (integration: string, tool: string, ok: boolean, error?: string) => {
    const event: ToolCallEvent = {
      claims: view.claims,
      integration,
      tool,
      durationMs: Math.round(performance.now() - started),
      ok,
      known: { integration: items.some((i) => i.name === integration), tool: toolKnown },
    };
    if (error !== undefined) event.error = error;
    if (!ok && ctx.mcpReq.signal.aborted) event.cancelled = true;
    // Too deep to serialize: it would fail the batch of events it is written with.
    if (args !== undefined && !tooDeep && deps.includeArguments?.(integration)) {
      event.arguments = args;
    }
    emitToolCall(deps.onToolCall, event, deps.log);
  };

  const claim = claimed(view, requested);
  const integration = claim?.integration ?? '';
  const tool = claim?.name ?? requested;
  try {
    const found = claim && (await resolveTool(deps, view, items, claim));
    if (!found) throw toolNotFound(requested);
    // The request's fault (-32602), found before it is sent: serializing it for the upstream
    // would throw RangeError, which was answered as the upstream's (upstream_error).
    if (tooDeep) throw argumentsTooDeep(requested);
    toolKnown = true;
    const guards = deps.guards ?? [];
    if (guards.length === 0) {
      const result = await answer(deps, view, found, tool, params, ctx, input);
      report(
        integration,
        tool,
        result.isError !== true,
        result.isError ? 'isError result' : undefined,
      );
      return result;
    }
    const call = guardedCall(view, found, tool, args, ctx);
    const refusal = await checkGuards(guards, call, deps.log);
    if (refusal) {
      report(integration, tool, false, `${refusal.code}: ${refusal.message}`);
      return { isError: true, content: [{ type: 'text', text: refusal.message }] };
    }
    let result: CallToolResult | undefined;
    try {
      result = await answer(deps, view, found, tool, params, ctx, input);
    } finally {
      const outcome = {
        ok: result !== undefined && result.isError !== true,
        durationMs: Math.round(performance.now() - started),
        ...(result && { result }),
      };
      await reportToGuards(guards, call, outcome, deps.log);
    }
    report(
      integration,
      tool,
      result.isError !== true,
      result.isError ? 'isError result' : undefined,
    );
    return result;
  } catch (error) {
    report(integration, tool, false, (error as Error).message);
    throw error;
  }
}

/** What the guards see of a call; progress goes to the agent only if it asked for progress. */
function guardedCall(
  view: View,
  found: { item: Integration; tool: Tool },
  tool: string,
  args: Record<string, unknown> | undefined,
  ctx: ToolCallContext,
): GuardedCall {
  const progressToken = ctx.mcpReq._meta?.progressToken;
  let progress = 0;
  return {
    claims: view.claims,
    integration: found.item.name,
    tool,
    definition: found.tool,
    arguments: args,
    signal: ctx.mcpReq.signal,
    progress(message) {
      if (progressToken === undefined) return;
      progress += 1;
      void ctx.mcpReq
        .notify({ method: 'notifications/progress', params: { progressToken, progress, message } })
        .catch(() => {});
    },
  };
}
