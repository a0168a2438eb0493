import {
  CLIENT_CAPABILITIES_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  type Server,
  type ServerContext,
  type Tool,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { splitNamespaced } from '../integrations/names.ts';
import {
  answerMcpTaskInput,
  cancelMcpTask,
  findMcpTask,
  insertMcpTask,
  type McpTaskRow,
  takeFirstRoundInput,
} from '../mcp-tasks/store.ts';
import {
  createTaskResult,
  declaresTasks,
  detailedTask,
  MAX_MCP_TASK_ROWS,
  MAX_OPEN_MCP_TASKS,
  MCP_TASK_FIRST_ROUND_WAIT_MS,
  MCP_TASK_POLL_MS,
  MCP_TASK_TTL_MS,
  MISSING_CLIENT_CAPABILITY,
  newMcpTaskId,
  TASKS_EXTENSION,
  taskSupportOf,
} from '../mcp-tasks/wire.ts';
import { scopeAllows } from '../tokens/scope.ts';
import { protocolError } from './errors.ts';
import { inputCapabilities } from './input-required.ts';
import type { McpTaskRuntime } from './mcp-task-runtime.ts';
import { type HandlerDeps, visibleTool } from './tools.ts';
import type { View } from './view.ts';

/**
 * The agent's side of MCP tasks (SEP-2663): which tools/call becomes one, and tasks/get,
 * tasks/update, tasks/cancel (tasks/result and tasks/list do not exist in the extension: the
 * SDK answers them -32601). Every method is gated on the request having negotiated the
 * extension (its envelope's client capabilities; -32021 otherwise). A row is found by its id AND
 * the token's agent task, and the token's scope must still cover the row's tool and the endpoint
 * its integration: any miss is the same -32602 "unknown task" as an id that never existed.
 */

const taskIdParams = z.object({ taskId: z.string().min(1).max(200) });
// The SDK lifts a request's top-level `inputResponses` (SEP-2322) into ctx.mcpReq.inputResponses.
const updateParams = taskIdParams.extend({
  inputResponses: z.record(z.string().max(200), z.unknown()).optional(),
});

/** Whether this request negotiated the extension (SEP-2575 per-request client capabilities). */
function negotiated(server: Server, ctx: ServerContext): boolean {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  return (
    declaresTasks(envelope?.[CLIENT_CAPABILITIES_META_KEY]) ||
    declaresTasks(server.getClientCapabilities())
  );
}

function missingCapability(what: string): ProtocolError {
  return new ProtocolError(
    MISSING_CLIENT_CAPABILITY,
    `${what} needs the ${TASKS_EXTENSION} extension, which this request did not declare`,
    { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
  );
}

const unknownTask = () => new ProtocolError(ProtocolErrorCode.InvalidParams, 'unknown task');

/**
 * Whether this view may see a row found by (id, agent task): the token's scope still covers the
 * row's tool, and a single-integration endpoint (/mcp/<name>) sees only its integration's rows.
 * The one rule for both eras (mcp-task-methods-2025.ts reads it too, tasks/list included).
 */
export function visibleToView(row: McpTaskRow | undefined, view: View): row is McpTaskRow {
  return (
    row !== undefined &&
    scopeAllows(view.claims.scope, row.integration, row.tool) &&
    (view.integration === undefined || view.integration === row.integration)
  );
}

/** The row, if this view may see it (visibleToView); `unknown()` otherwise, era's own words. */
export async function visibleRow(
  deps: McpTaskMethodDeps,
  view: View,
  taskId: string,
  unknown: () => ProtocolError = unknownTask,
): Promise<McpTaskRow> {
  const row = await findMcpTask(deps.runtime.deps.sql, taskId, view.claims.taskId);
  if (!visibleToView(row, view)) throw unknown();
  return row;
}

export interface McpTaskMethodDeps {
  handler: HandlerDeps;
  runtime: McpTaskRuntime;
}

export function registerMcpTaskMethods(server: Server, deps: McpTaskMethodDeps, view: View): void {
  const register = server.setRequestHandler.bind(server) as unknown as (
    method: string,
    schemas: { params: z.ZodType },
    handler: (params: never, ctx: ServerContext) => Promise<Record<string, unknown>>,
  ) => void;

  register(
    'tasks/get',
    { params: taskIdParams },
    async (params: z.infer<typeof taskIdParams>, ctx) => {
      if (!negotiated(server, ctx)) throw missingCapability('tasks/get');
      return detailedTask(await visibleRow(deps, view, params.taskId));
    },
  );

  register(
    'tasks/update',
    { params: updateParams },
    async (params: z.infer<typeof updateParams>, ctx) => {
      if (!negotiated(server, ctx)) throw missingCapability('tasks/update');
      const row = await visibleRow(deps, view, params.taskId);
      const responses = params.inputResponses ?? ctx.mcpReq.inputResponses ?? {};
      if (row.status === 'input_required' && Object.keys(responses).length > 0) {
        const queued = await answerMcpTaskInput(
          deps.runtime.deps.sql,
          row.id,
          view.claims.taskId,
          responses as Record<string, unknown>,
        );
        if (queued) deps.runtime.queued();
      }
      return { resultType: 'complete' };
    },
  );

  register(
    'tasks/cancel',
    { params: taskIdParams },
    async (params: z.infer<typeof taskIdParams>, ctx) => {
      if (!negotiated(server, ctx)) throw missingCapability('tasks/cancel');
      const row = await visibleRow(deps, view, params.taskId);
      if (await cancelMcpTask(deps.runtime.deps.sql, row.id, view.claims.taskId)) {
        deps.runtime.cancelled(row);
      }
      return { resultType: 'complete' };
    },
  );
}

/**
 * A tools/call as an MCP task, when it is one: the tool declares task support and the request
 * negotiated the extension. Not negotiated: a `required` tool is -32021, an `optional` one runs
 * as a plain sync call (undefined). The row is committed before the CreateTaskResult is answered.
 *
 * MRTR before the task (SEP-2663 + SEP-2322): a `required` tool's first round (no
 * inputResponses) waits up to MCP_TASK_FIRST_ROUND_WAIT_MS for its first run to end (the bus,
 * any replica); if that run asked for input, the row is deleted and the upstream's
 * InputRequiredResult is the answer, so no task exists yet. A later round (inputResponses, the
 * upstream's requestState) creates the task with them, so its first run sends them upstream.
 * An `optional` tool's input parks in its task (tasks/update), as the extension's
 * `input_required` status is for: an upstream without the extension says nothing that tells
 * "ask before the task" from "ask inside it", and `required` tools (no sync path) are the ones
 * whose input can only come first this way.
 */
export async function createMcpTaskFor(
  deps: McpTaskMethodDeps,
  server: Server,
  view: View,
  params: { name: string; arguments?: Record<string, unknown> },
  ctx: ServerContext,
): Promise<Record<string, unknown> | undefined> {
  const tool = await visibleTool(deps.handler, view, params.name);
  if (!tool) return undefined;
  const support = taskSupportOf(tool);
  if (support === 'forbidden') return undefined;
  if (!negotiated(server, ctx)) {
    if (support === 'required') throw missingCapability(`the tool ${params.name.slice(0, 128)}`);
    return undefined;
  }
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const declared = (envelope?.[CLIENT_CAPABILITIES_META_KEY] ??
    server.getClientCapabilities() ??
    {}) as never;
  // Untrusted retry material, passed upstream unchanged (the upstream validates it), as sync.
  const responses = ctx.mcpReq.inputResponses;
  const laterRound = responses !== undefined && Object.keys(responses).length > 0;
  const state = ctx.mcpReq.requestState<unknown>();
  const row = await createAgentMcpTask(deps, view, tool, params, {
    inputCapabilities: inputCapabilities(declared) as Record<string, unknown>,
    ttlMs: MCP_TASK_TTL_MS,
    ...(laterRound && { inputResponses: responses as Record<string, unknown> }),
    ...(typeof state === 'string' && { requestState: state }),
  });
  if (!row) return undefined;
  if (support === 'required' && !laterRound) {
    await deps.runtime.runEnded(row.id, MCP_TASK_FIRST_ROUND_WAIT_MS);
    const asked = await takeFirstRoundInput(deps.runtime.deps.sql, row.id, view.claims.taskId);
    if (asked) {
      return {
        resultType: 'input_required',
        inputRequests: asked.inputRequests,
        ...(asked.requestState !== null && { requestState: asked.requestState }),
      };
    }
  }
  return createTaskResult(row);
}

/** What differs between the eras when an agent's call becomes a row. */
export interface AgentMcpTaskExtras {
  /** The input kinds the agent declared (2026 envelope, or its 2025 handshake). */
  inputCapabilities: Record<string, unknown>;
  ttlMs: number;
  inputResponses?: Record<string, unknown>;
  requestState?: string;
}

/**
 * One agent's tools/call of `tool` (visible to `view`) as a queued row, both eras: the claim
 * (namespaced on /mcp, the endpoint's integration on /mcp/<name>; undefined if the name does not
 * resolve), insertMcpTask under the per-agent-task limits (`mcp_task_limit` past them), and the
 * runtime told there is work.
 */
export async function createAgentMcpTask(
  deps: McpTaskMethodDeps,
  view: View,
  tool: Tool,
  params: { name: string; arguments?: Record<string, unknown> },
  extras: AgentMcpTaskExtras,
): Promise<McpTaskRow | undefined> {
  const claim =
    view.integration === undefined
      ? splitNamespaced(params.name)
      : { integration: view.integration, name: params.name };
  if (!claim) return undefined;
  const row = await insertMcpTask(
    deps.runtime.deps.sql,
    {
      id: newMcpTaskId(),
      claims: view.claims,
      integration: claim.integration,
      tool: claim.name,
      viewIntegration: view.integration ?? null,
      requestedName: params.name,
      arguments: params.arguments,
      idempotent: tool.annotations?.idempotentHint === true,
      pollIntervalMs: MCP_TASK_POLL_MS,
      ...extras,
    },
    { open: MAX_OPEN_MCP_TASKS, rows: MAX_MCP_TASK_ROWS },
  );
  if (!row) {
    throw protocolError(
      'mcp_task_limit',
      `this agent task already has ${MAX_OPEN_MCP_TASKS} open MCP tasks (or ${MAX_MCP_TASK_ROWS} within their ttl); wait for one to end or cancel one`,
      { open: MAX_OPEN_MCP_TASKS, rows: MAX_MCP_TASK_ROWS },
    );
  }
  deps.runtime.queued();
  return row;
}
