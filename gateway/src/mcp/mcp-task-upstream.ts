import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@modelcontextprotocol/client';
import { type CallToolResult, CLIENT_CAPABILITIES_META_KEY } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import { upstreamTaskCreated } from '../integrations/upstream/client.ts';
import type { Logger } from '../log.ts';
import type { McpTaskOutcome, McpTaskRow, UpstreamWire } from '../mcp-tasks/store.ts';
import { declaresTasks, TASKS_EXTENSION, taskSupportOf } from '../mcp-tasks/wire.ts';
import { callResultForEra } from './era-results.ts';
import { type ForwardDeps, forward } from './forward.ts';
import { MAX_RESULT_DEPTH, nestsDeeperThan } from './json-depth.ts';
import type { UpstreamTaskStarter } from './upstream-call.ts';

/**
 * MCP task passthrough (issue 19): a task-augmented tools/call of a tool with task support, to an
 * upstream whose server capabilities say it runs tasks itself (2026-07-28: the extension under
 * `capabilities.extensions`; 2025-11-25: `capabilities.tasks.requests.tools.call`), is created
 * UPSTREAM as a task instead of being held as one open synchronous request. The gateway's row
 * (mcp-tasks/store.ts) keeps the upstream's id (`upstream_task_id`, never shown to the agent) and
 * its run follows the upstream task by polling tasks/get; its end is stored like a sync call's
 * (mcp-task-runtime.ts outcomeOf). Every upstream request goes through forward() (instance,
 * per-task token) and has a timeout; every answer is checked (zod) and bounded in size.
 */

/**
 * The upstream's pollInterval is the upstream's to choose, but a hostile or careless one says 0
 * (a poll loop at full speed, per task: 100 open tasks of one agent task would be ~thousands of
 * requests a second) or 1e9 (a task that ends in a second would look stuck for 11 days). 500 ms
 * matches what the gateway tells its own agents (MCP_TASK_POLL_MS); 5 s keeps the agent's view at
 * most 5 s behind the upstream's.
 */
export const MIN_UPSTREAM_POLL_MS = 500;
export const MAX_UPSTREAM_POLL_MS = 5_000;
/** Each upstream task request (tasks/get, /update, /cancel, /result), at most: 30 s. */
export const UPSTREAM_TASK_REQUEST_MS = 30_000;
/** An upstream's CreateTaskResult or task status over 64 KiB (JSON) fails the row: a status is ~300 bytes. */
export const MAX_UPSTREAM_STATUS_BYTES = 64 * 1024;
/** Polls failing in a row (upstream down, timeouts) before the row ends failed: ~25 s at 5 s each. */
export const MAX_POLL_FAILURES = 5;
/** The row ends this long before its ttl at the latest, so the agent can still read why: 5 min. */
export const TTL_MARGIN_MS = 5 * 60_000;
/**
 * How long one run follows its upstream task before it parks the row until the next poll and
 * gives its worker slot back (mcp-tasks/store.ts parkMcpTaskRun): 10 s keeps a short task in one
 * run (no extra statements: ~20 polls), while a long one costs 2 statements per 10 s and holds
 * no slot of the per-replica (50) and per-agent-task (10) running caps between its turns.
 */
export const FOLLOW_SLICE_MS = 10_000;
/** A best-effort upstream tasks/cancel waits at most 5 s. */
export const UPSTREAM_CANCEL_MS = 5_000;

/** Whether the upstream behind `client` runs tasks itself, and on which wire. */
export function upstreamTaskWire(client: Client): UpstreamWire | undefined {
  const capabilities = client.getServerCapabilities();
  if (client.getProtocolEra() === 'modern') {
    return declaresTasks(capabilities) ? '2026-07-28' : undefined;
  }
  const tasks = (capabilities as { tasks?: { requests?: { tools?: { call?: unknown } } } })?.tasks;
  return tasks?.requests?.tools?.call !== undefined ? '2025-11-25' : undefined;
}

/** The polling interval to use, from the upstream's (see MIN/MAX_UPSTREAM_POLL_MS). */
export function clampPollMs(upstream: unknown): number {
  const ms = typeof upstream === 'number' && Number.isFinite(upstream) ? upstream : 0;
  return Math.min(MAX_UPSTREAM_POLL_MS, Math.max(MIN_UPSTREAM_POLL_MS, ms));
}

const taskId = z.string().min(1).max(256);
const status = z.enum(['working', 'input_required', 'completed', 'failed', 'cancelled']);
const created2026 = z.looseObject({ resultType: z.literal('task'), taskId, status });
const created2025 = z.looseObject({ task: z.looseObject({ taskId, status }) });
const object = z.record(z.string(), z.unknown());
const status2026 = z.looseObject({
  status,
  pollIntervalMs: z.unknown().optional(),
  result: object.optional(),
  error: z.looseObject({ code: z.number(), message: z.string() }).optional(),
  inputRequests: object.optional(),
});
const status2025 = z.looseObject({
  status,
  pollInterval: z.unknown().optional(),
  statusMessage: z.string().optional(),
});
const anyObject = z.looseObject({});

/** An upstream answer the gateway refuses (malformed, oversized): the row fails with its message. */
class UpstreamTaskInvalid extends Error {}

function checked<T>(schema: z.ZodType<T>, raw: unknown, what: string): T {
  if (Buffer.byteLength(JSON.stringify(raw ?? null)) > MAX_UPSTREAM_STATUS_BYTES) {
    throw new UpstreamTaskInvalid(
      `the upstream's ${what} is over ${MAX_UPSTREAM_STATUS_BYTES} bytes`,
    );
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new UpstreamTaskInvalid(`the upstream's ${what} is malformed: ${issues.slice(0, 300)}`);
  }
  return parsed.data;
}

/** An upstream task the gateway follows. */
export interface UpstreamTask {
  taskId: string;
  wire: UpstreamWire;
}

/** The `_meta` of every task request on 2026-07-28: the extension declared (its methods need it). */
const EXTENSION_META = {
  [CLIENT_CAPABILITIES_META_KEY]: { extensions: { [TASKS_EXTENSION]: {} } },
};

export interface StartOptions {
  ttlMs: number;
  /** Commits the upstream id under the row's lease; false: the row is no longer this run's. */
  commit(task: UpstreamTask): Promise<boolean>;
  /** Called once the id is committed (the runtime then follows the task). */
  created(task: UpstreamTask): void;
  /** Cancels an upstream task the row could not keep (best effort). */
  abandon(task: UpstreamTask): void;
}

/**
 * The seam of callTool's upstream leg (upstream-call.ts `upstreamTask`): where the connection's
 * upstream runs tasks and the tool has task support, the same tools/call, task-augmented (2026:
 * the extension declared in the envelope; 2025: `task: { ttl }`). A plain answer (the upstream
 * ran it synchronously, or asked for input first) is the call's answer as usual; a created task
 * is committed to the row before anything else and answered with an empty placeholder.
 */
export function upstreamTaskStarter(o: StartOptions): UpstreamTaskStarter {
  return (client, tool, request, send) => {
    if (taskSupportOf(tool) === 'forbidden') return undefined;
    const wire = upstreamTaskWire(client);
    if (!wire) return undefined;
    const augmented =
      wire === '2026-07-28'
        ? {
            ...request,
            _meta: {
              ...request._meta,
              [CLIENT_CAPABILITIES_META_KEY]: {
                ...(request._meta[CLIENT_CAPABILITIES_META_KEY] as object | undefined),
                extensions: { [TASKS_EXTENSION]: {} },
              },
            },
          }
        : { ...request, task: { ttl: o.ttlMs } };
    return send(augmented).catch(async (error: unknown): Promise<CallToolResult> => {
      const raw = upstreamTaskCreated(error);
      if (!raw) throw error;
      const task: UpstreamTask =
        wire === '2026-07-28'
          ? { taskId: checked(created2026, raw, 'CreateTaskResult').taskId, wire }
          : { taskId: checked(created2025, raw, 'CreateTaskResult').task.taskId, wire };
      if (!(await o.commit(task))) {
        o.abandon(task);
        throw new Error('the MCP task ended while its upstream task was being created');
      }
      o.created(task);
      return { content: [] };
    });
  };
}

export interface FollowDeps extends ForwardDeps {
  registry: Pick<IntegrationRegistry, 'get'>;
  log: Logger;
  /** The longest a passthrough row may run, from its creation (config; capped by its ttl). */
  maxMs: number;
}

/** One request to the row's upstream, on the instance its agent task maps to, bounded. */
async function onUpstream<T>(
  deps: FollowDeps,
  row: McpTaskRow,
  fn: (client: Client, timeoutMs: number) => Promise<T>,
): Promise<T> {
  const item = deps.registry.get(row.integration);
  if (!item) throw new Error(`the integration ${row.integration} is no longer loaded`);
  return forward(deps, item, row.claims, [row.tool], ({ client, timeoutMs }) =>
    fn(client, Math.min(timeoutMs, UPSTREAM_TASK_REQUEST_MS)),
  );
}

function taskRequest(task: UpstreamTask, params: Record<string, unknown> = {}) {
  return {
    taskId: task.taskId,
    ...params,
    ...(task.wire === '2026-07-28' && { _meta: EXTENSION_META }),
  };
}

/** tasks/cancel upstream, best effort: bounded, a failure logged, never thrown. */
export async function cancelUpstreamTask(
  deps: FollowDeps,
  row: McpTaskRow,
  task: UpstreamTask,
): Promise<void> {
  try {
    await onUpstream(deps, row, (client, timeoutMs) =>
      client.request({ method: 'tasks/cancel', params: taskRequest(task) }, anyObject, {
        timeout: Math.min(timeoutMs, UPSTREAM_CANCEL_MS),
      }),
    );
  } catch (error) {
    deps.log.warn(
      { err: error, mcpTaskId: row.id, integration: row.integration },
      'upstream task not cancelled',
    );
  }
}

const failed = (message: string, data?: unknown): McpTaskOutcome => ({
  status: 'failed',
  error: { code: -32603, message: message.slice(0, 2000), ...(data !== undefined && { data }) },
});

/** The run gives its slot back: the row is queued again, due in `park` ms (FOLLOW_SLICE_MS). */
export interface Parked {
  park: number;
}

/**
 * Follows a row's upstream task for up to FOLLOW_SLICE_MS (then Parked): first its pending input answers as tasks/update
 * (2026), then tasks/get every clamped pollInterval until terminal, an input_required (parks the
 * row), the row's bound (createdAt + min(maxMs, ttl - 5 min): the upstream task is cancelled
 * and the row fails) or MAX_POLL_FAILURES failed polls in a row. The signal aborts it (cancel,
 * revocation, shutdown). The caller (mcp-task-runtime.ts) stores the outcome.
 */
export async function followUpstreamTask(
  deps: FollowDeps,
  row: McpTaskRow,
  task: UpstreamTask,
  signal: AbortSignal,
  store: (result: CallToolResult) => McpTaskOutcome,
): Promise<McpTaskOutcome | Parked> {
  const sliceEnd = Date.now() + FOLLOW_SLICE_MS;
  const boundMs = Math.min(deps.maxMs, row.ttlMs - TTL_MARGIN_MS);
  const deadline = row.createdAt.getTime() + boundMs;
  const request = <T>(method: string, schema: z.ZodType<T>, params?: Record<string, unknown>) =>
    onUpstream(deps, row, (client, timeoutMs) =>
      client.request({ method, params: taskRequest(task, params) }, schema as never, {
        timeout: timeoutMs,
        signal,
      }),
    ) as Promise<unknown>;
  if (task.wire === '2026-07-28' && Object.keys(row.inputResponses).length > 0) {
    await request('tasks/update', anyObject, { inputResponses: row.inputResponses });
  }
  let failures = 0;
  for (;;) {
    if (Date.now() >= deadline) {
      void cancelUpstreamTask(deps, row, task);
      return failed(
        `the upstream task did not end within ${boundMs} ms, the bound of a passthrough MCP task; it was cancelled`,
      );
    }
    let raw: unknown;
    try {
      raw = await request('tasks/get', anyObject);
      failures = 0;
    } catch (error) {
      if (signal.aborted) throw error;
      failures += 1;
      if (failures >= MAX_POLL_FAILURES) {
        return failed(
          `the upstream task could not be read ${failures} times in a row: ${(error as Error).message}`,
        );
      }
      await sleep(MAX_UPSTREAM_POLL_MS, undefined, { signal });
      continue;
    }
    const outcome =
      task.wire === '2026-07-28'
        ? ended2026(checked(status2026, raw, 'task status'), store)
        : await ended2025(checked(status2025, raw, 'task status'), store, () =>
            request('tasks/result', anyObject),
          );
    if (outcome) return outcome;
    const upstreamMs =
      task.wire === '2026-07-28'
        ? (raw as { pollIntervalMs?: unknown }).pollIntervalMs
        : (raw as { pollInterval?: unknown }).pollInterval;
    const wait = Math.min(clampPollMs(upstreamMs), Math.max(0, deadline - Date.now()));
    if (Date.now() + wait >= sliceEnd) return { park: wait };
    await sleep(wait, undefined, { signal });
  }
}

/** A completed task's result, as the row stores a sync call's (depth-checked, era-shaped). */
function completed(
  result: Record<string, unknown>,
  store: (r: CallToolResult) => McpTaskOutcome,
): McpTaskOutcome {
  if (nestsDeeperThan(result, MAX_RESULT_DEPTH)) {
    return failed(`the upstream task's result nests deeper than ${MAX_RESULT_DEPTH} levels`);
  }
  const { resultType: _, ...plain } = result;
  return store(callResultForEra(plain as CallToolResult, undefined, 'modern'));
}

function ended2026(
  s: z.infer<typeof status2026>,
  store: (r: CallToolResult) => McpTaskOutcome,
): McpTaskOutcome | undefined {
  switch (s.status) {
    case 'working':
      return undefined;
    case 'input_required':
      if (!s.inputRequests || Object.keys(s.inputRequests).length === 0) return undefined;
      return { status: 'input_required', inputRequests: s.inputRequests, requestState: null };
    case 'completed':
      return s.result
        ? completed(s.result, store)
        : failed('the upstream task completed without a result');
    case 'failed':
      return failed(
        `the upstream task failed: ${s.error?.message ?? 'no error given'}`,
        s.error && { code: s.error.code },
      );
    case 'cancelled':
      return failed('the upstream cancelled its task');
  }
}

async function ended2025(
  s: z.infer<typeof status2025>,
  store: (r: CallToolResult) => McpTaskOutcome,
  result: () => Promise<unknown>,
): Promise<McpTaskOutcome | undefined> {
  switch (s.status) {
    case 'working':
    case 'input_required':
      return undefined;
    case 'completed':
    case 'failed': {
      // tasks/result answers what the call would have (a tool error is an isError result).
      const raw = checkedResult(await result());
      return completed(raw, store);
    }
    case 'cancelled':
      return failed('the upstream cancelled its task');
  }
}

function checkedResult(raw: unknown): Record<string, unknown> {
  const parsed = anyObject.safeParse(raw);
  if (!parsed.success) throw new UpstreamTaskInvalid("the upstream's task result is not an object");
  return parsed.data;
}
