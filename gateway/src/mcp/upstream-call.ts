import type { Client } from '@modelcontextprotocol/client';
import type { CallToolResult, ServerContext, Tool } from '@modelcontextprotocol/server';
import type { Integration, IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import { inSpan, SpanKind, traceHeaders } from '../telemetry/spans.ts';
import { callBounds, DEFAULT_MAX_CALL_MS } from './call-bounds.ts';
import { callResultForEra, type Era } from './era-results.ts';
import { resultTooDeep } from './errors.ts';
import { agentMeta, type ForwardDeps, forward } from './forward.ts';
import type { AgentInput } from './input-required.ts';
import { MAX_RESULT_DEPTH, nestsDeeperThan } from './json-depth.ts';
import type { View } from './view.ts';

/**
 * The upstream leg of a tools/call (tools.ts resolves, guards and reports the call; this sends
 * it): bounded, traced as a CLIENT span whose context the upstream receives in `_meta`.
 */

/** What a tools/call needs of its request context: the SDK's, or the fast path's (fast-call.ts). */
export interface ToolCallContext {
  mcpReq: Pick<ServerContext['mcpReq'], 'id' | '_meta' | 'signal' | 'notify'>;
  /** The era the answer is for (what of the upstream's result it may carry: era-results.ts). */
  era: Era;
  /**
   * MCP task passthrough (mcp-task-upstream.ts): given the connection the call goes on, sends it
   * as an upstream task where that upstream runs tasks itself, else undefined (a plain call).
   * The seam is here so a passthrough call passes every check a sync call does (tools.ts).
   */
  upstreamTask?: UpstreamTaskStarter;
}

/** One tools/call as an upstream task, if `client`'s server runs tasks; undefined otherwise. */
export type UpstreamTaskStarter = (
  client: Client,
  tool: Tool,
  request: UpstreamToolCall,
  /** Sends a tools/call exactly as a plain call is sent (bounds, definition, input_required). */
  send: (request: UpstreamToolCall) => Promise<CallToolResult>,
) => Promise<CallToolResult> | undefined;

/** The tools/call params the gateway sends upstream. */
export interface UpstreamToolCall {
  name: string;
  /** 2025-11-25 task augmentation (passthrough). */
  task?: { ttl: number };
  arguments?: Record<string, unknown>;
  inputResponses?: Record<string, unknown>;
  requestState?: string;
  _meta: Record<string, unknown>;
}

/** What the upstream leg needs of the endpoint's dependencies. */
export interface UpstreamCallDeps extends ForwardDeps {
  registry: IntegrationRegistry;
  log: Logger;
}

/** The upstream's answer, as the agent's era gets it. */
export async function answer(
  deps: UpstreamCallDeps,
  view: View,
  found: { item: Integration; tool: Tool },
  tool: string,
  params: { arguments?: Record<string, unknown>; _meta?: Record<string, unknown> },
  ctx: ToolCallContext,
  input: AgentInput,
): Promise<CallToolResult> {
  const answered = await callUpstream(deps, view, found, tool, params, ctx, input);
  // Nested too deeply to serialize for the agent: the upstream sent it so, so it is its fault.
  if (nestsDeeperThan(answered, MAX_RESULT_DEPTH)) throw resultTooDeep(found.item.name);
  return callResultForEra(answered, found.tool, ctx.era);
}

/**
 * tools/call on the upstream: progress re-stamped with the agent's own progressToken (the
 * upstream client assigns the upstream one) and rate-limited, cancellation passed on through the
 * signal (a 2025 notifications/cancelled aborts it through InFlight, see era-2025.ts and
 * fast-call.ts), the integration's timeout restarted by each progress notification (a tool that
 * reports progress may run past it; one that goes silent may not) and the whole call bounded by
 * the policy's maxCallDuration (call-bounds.ts).
 */
async function callUpstream(
  deps: UpstreamCallDeps,
  view: View,
  found: { item: Integration; tool: Tool },
  tool: string,
  params: { arguments?: Record<string, unknown>; _meta?: Record<string, unknown> },
  ctx: ToolCallContext,
  input: AgentInput,
): Promise<CallToolResult> {
  const signal = ctx.mcpReq.signal;
  const bounds = callBounds({
    integration: found.item.name,
    signal,
    progressToken: ctx.mcpReq._meta?.progressToken,
    notify: (params) => ctx.mcpReq.notify({ method: 'notifications/progress', params }),
    maxCallMs:
      deps.registry.currentPolicy()?.integrations[found.item.name]?.maxCallDuration ??
      DEFAULT_MAX_CALL_MS,
    log: deps.log,
  });
  try {
    return await inSpan(
      `tools/call ${tool}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'mcp.method.name': 'tools/call',
          'gen_ai.tool.name': tool,
          'switchboard.integration': found.item.name,
        },
      },
      // The upstream span's context replaces any the agent sent (SEP-414 keys in `_meta`);
      // with tracing off the agent's own passes through untouched.
      () => {
        const trace = traceHeaders();
        return forward(
          deps,
          found.item,
          view.claims,
          [tool],
          ({ client, timeoutMs, meta, retry }) => {
            const request: UpstreamToolCall = {
              name: tool,
              ...(params.arguments !== undefined && { arguments: params.arguments }),
              ...retry,
              _meta: { ...agentMeta(params._meta), ...meta, ...trace },
            };
            const send = (sent: UpstreamToolCall) =>
              client.callTool(sent, {
                // An input_required answer goes back to the agent as it is (mcp/input-required.ts).
                allowInputRequired: true,
                // The definition the agent was shown (the catalog's, checked): the MCP client
                // validates structuredContent and mirrors x-mcp-header params by it on every
                // instance, instead of re-listing the upstream's tools unbounded on a miss of its
                // own cache.
                toolDefinition: found.tool,
                ...bounds.options(timeoutMs),
              });
            return (ctx.upstreamTask?.(client, found.tool, request, send) ?? send(request)).catch(
              (error: unknown) => {
                throw bounds.failure(error);
              },
            );
          },
          { input, signal },
        );
      },
    );
  } finally {
    bounds.finish();
  }
}
