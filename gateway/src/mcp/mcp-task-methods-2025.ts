import {
  ProtocolError,
  ProtocolErrorCode,
  type Server,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { cancelMcpTask, listMcpTasks, type McpTaskRow } from '../mcp-tasks/store.ts';
import { taskSupportOf } from '../mcp-tasks/wire.ts';
import {
  cancelRejected,
  clampTtl,
  createTaskResult2025,
  decodeTaskCursor,
  encodeTaskCursor,
  isTerminal,
  MAX_TASK_LIST_PAGE,
  task2025,
  taskPayload2025,
  unknownTask2025,
} from '../mcp-tasks/wire-2025.ts';
import { DEFAULT_MAX_CALL_MS } from './call-bounds.ts';
import { protocolError } from './errors.ts';
import { inputCapabilities } from './input-required.ts';
import { askTaskInput } from './mcp-task-input-2025.ts';
import {
  createAgentMcpTask,
  type McpTaskMethodDeps,
  visibleRow as visibleRowFor,
  visibleToView,
} from './mcp-task-methods.ts';
import { visibleTool } from './tools.ts';
import type { View } from './view.ts';

/**
 * The 2025-11-25 task wire (basic/utilities/tasks: `capabilities.tasks`, `params.task`,
 * tasks/get, tasks/result, tasks/list, tasks/cancel) for 2025-era agents, on the same
 * `mcp_tasks` rows and runtime as the 2026-07-28 extension (mcp-task-methods.ts): a task is
 * created by insertMcpTask, run by the McpTaskRuntime, read by (id, agent task). Registered only
 * on a 2025-era server that declares `capabilities.tasks` (server.ts). A row this view may not
 * see (another agent task's, a tool the token's scope no longer covers, another integration's
 * on /mcp/<name>) is the same -32602 as an id that never existed.
 *
 * Client input: a run that asks for input parks its row `input_required` (tasks/get shows it).
 * A tasks/result waiting on it sends the pending requests to the client on its own stream and
 * files the answers (mcp-task-input-2025.ts), then keeps waiting; the SDK's legacy shim cannot
 * do this (it fulfils an input_required RETURN only for tools/call, prompts/get, resources/read).
 */

const taskIdParams = z.object({ taskId: z.string().min(1).max(200) });
const listParams = z.object({ cursor: z.string().max(1024).optional() }).loose();

/**
 * How often a tasks/result wait re-reads its row besides the bus's wake-up: 2 s. The bus
 * (MCP_TASK_ENDED, MCP_TASK_CANCEL) normally ends the wait within a NOTIFY hop; the re-read is
 * for a lost notification or a change no run end announces, at one indexed read per 2 s.
 */
export const RESULT_RECHECK_MS = 2_000;

/** The row, if this view may see it (mcp-task-methods.ts's one rule), in the 2025 words. */
function visibleRow(deps: McpTaskMethodDeps, view: View, id: string): Promise<McpTaskRow> {
  return visibleRowFor(deps, view, id, unknownTask2025);
}

/**
 * How long tasks/result waits for a row to end: the bound of the call itself (policy
 * `maxCallDuration`, 10 min by default, call-bounds.ts), which a run cannot outlast once it
 * started; a row that waits for input the client does not give (see above) or sits queued is answered
 * `mcp_task_wait_timeout` then, and tasks/result may be called again.
 */
function waitBound(deps: McpTaskMethodDeps, row: McpTaskRow): number {
  const policy = deps.handler.registry.currentPolicy();
  return policy?.integrations[row.integration]?.maxCallDuration ?? DEFAULT_MAX_CALL_MS;
}

export function registerMcpTaskMethods2025(
  server: Server,
  deps: McpTaskMethodDeps,
  view: View,
): void {
  const register = server.setRequestHandler.bind(server) as unknown as (
    method: string,
    schemas: { params: z.ZodType },
    handler: (params: never, ctx: ServerContext) => Promise<Record<string, unknown>>,
  ) => void;
  const sql = deps.runtime.deps.sql;

  register('tasks/get', { params: taskIdParams }, async (params: z.infer<typeof taskIdParams>) =>
    task2025(await visibleRow(deps, view, params.taskId)),
  );

  register(
    'tasks/result',
    { params: taskIdParams },
    async (params: z.infer<typeof taskIdParams>, ctx) => {
      let row = await visibleRow(deps, view, params.taskId);
      const deadline = Date.now() + waitBound(deps, row);
      const signal = ctx.mcpReq.signal;
      // Once the client failed to answer a round, it is not asked again in this wait.
      let mayAsk = true;
      while (!isTerminal(row)) {
        const left = deadline - Date.now();
        if (left <= 0) {
          throw protocolError(
            'mcp_task_wait_timeout',
            `task ${row.id} is still ${row.status} after ${Math.round(waitBound(deps, row) / 1000)} s (the call's bound, policy maxCallDuration); call tasks/result again or poll tasks/get`,
            { status: row.status },
          );
        }
        if (signal.aborted) throw new ProtocolError(ProtocolErrorCode.InternalError, 'cancelled');
        if (row.status === 'input_required' && mayAsk) {
          const declared = server.getClientCapabilities();
          mayAsk = await askTaskInput(deps, row, view.claims.taskId, declared, ctx, left);
          row = await visibleRow(deps, view, params.taskId);
          continue;
        }
        await Promise.race([
          deps.runtime.runEnded(row.id, Math.min(RESULT_RECHECK_MS, left)),
          abortedPromise(signal),
        ]);
        row = await visibleRow(deps, view, params.taskId);
      }
      if (row.status === 'cancelled') {
        throw protocolError('cancelled', `task ${row.id} was cancelled; it has no result`);
      }
      return taskPayload2025(row);
    },
  );

  register('tasks/list', { params: listParams }, async (params: z.infer<typeof listParams>) => {
    const after = decodeTaskCursor(params.cursor);
    const size = Math.max(1, Math.min(deps.handler.pageSize, MAX_TASK_LIST_PAGE));
    // One more than a page: whether there is a next one. The scope filter runs after the page is
    // read, so a page may hold fewer rows (or none) and still have a next cursor; each request
    // reads at most size + 1 rows, and an agent task has at most MAX_MCP_TASK_ROWS.
    const rows = await listMcpTasks(
      sql,
      view.claims.taskId,
      view.integration ?? null,
      after,
      size + 1,
    );
    const page = rows.slice(0, size);
    const tasks = page.filter((row) => visibleToView(row, view)).map(task2025);
    const last = page[page.length - 1];
    return rows.length > size && last
      ? { tasks, nextCursor: encodeTaskCursor({ micros: last.micros, id: last.id }) }
      : { tasks };
  });

  register(
    'tasks/cancel',
    { params: taskIdParams },
    async (params: z.infer<typeof taskIdParams>) => {
      const row = await visibleRow(deps, view, params.taskId);
      if (isTerminal(row) || !(await cancelMcpTask(sql, row.id, view.claims.taskId))) {
        // Ended between the read and the update: read again for the status it ended with.
        throw cancelRejected(isTerminal(row) ? row : await visibleRow(deps, view, params.taskId));
      }
      deps.runtime.cancelled(row);
      return task2025(await visibleRow(deps, view, params.taskId));
    },
  );
}

const abortions = new WeakMap<AbortSignal, Promise<void>>();

/**
 * Resolves when `signal` aborts; one listener per signal however often it is asked. tasks/result
 * asks once a loop turn (every 2 s for up to 10 min: 300 turns), and a listener a turn leaked
 * until the request ended, with Node's MaxListenersExceededWarning past 10.
 */
export function abortedPromise(signal: AbortSignal): Promise<void> {
  let aborted = abortions.get(signal);
  if (!aborted) {
    aborted = signal.aborted
      ? Promise.resolve()
      : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    abortions.set(signal, aborted);
  }
  return aborted;
}

/**
 * A 2025-era tools/call with tasks on (server.ts declared `capabilities.tasks`): the spec's
 * tool-level rules. `params.task` on an optional or required tool: one row (insertMcpTask, the
 * same limits as 2026) and `{ task }`. A required tool without `params.task`, or a forbidden one
 * with it: -32601 (the spec: MUST / SHOULD). Otherwise undefined: a plain sync call. Unknown,
 * hidden and out-of-scope tools are undefined too, so the sync path answers them alike.
 */
export async function createMcpTaskFor2025(
  deps: McpTaskMethodDeps,
  server: Server,
  view: View,
  params: { name: string; arguments?: Record<string, unknown>; task?: unknown },
): Promise<Record<string, unknown> | undefined> {
  const tool = await visibleTool(deps.handler, view, params.name);
  if (!tool) return undefined;
  const support = taskSupportOf(tool);
  const asked = params.task !== undefined && params.task !== null;
  const name = params.name.slice(0, 128);
  if (support === 'required' && !asked) {
    throw new ProtocolError(
      ProtocolErrorCode.MethodNotFound,
      `Task augmentation required for tools/call of ${name} (execution.taskSupport "required")`,
    );
  }
  if (!asked) return undefined;
  if (support === 'forbidden') {
    throw new ProtocolError(
      ProtocolErrorCode.MethodNotFound,
      `The tool ${name} does not support task augmentation (execution.taskSupport "forbidden")`,
    );
  }
  const row = await createAgentMcpTask(deps, view, tool, params, {
    // The 2025 handshake, remembered per token and seeded into this server (era-2025.ts).
    inputCapabilities: inputCapabilities(server.getClientCapabilities() ?? {}) as Record<
      string,
      unknown
    >,
    ttlMs: clampTtl((params.task as { ttl?: unknown }).ttl),
  });
  if (!row) return undefined;
  // The SDK's 2025 codec validates every tools/call answer as a CallToolResult, which refuses
  // a body carrying `task` without `content`: an empty `content` goes along (a Result may carry
  // more members; the 1.x client's CreateTaskResultSchema reads `task` and ignores it).
  return { ...createTaskResult2025(row), content: [] };
}

/** Whether a 2025-era call of `name` must not run sync (a `required` tool): the fast path's check. */
export async function requiresTask(
  deps: McpTaskMethodDeps,
  view: View,
  name: string,
): Promise<boolean> {
  const tool = await visibleTool(deps.handler, view, name);
  return tool !== undefined && taskSupportOf(tool) === 'required';
}
