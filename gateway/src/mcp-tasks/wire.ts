import { randomBytes } from 'node:crypto';
import type { McpTaskRow } from './store.ts';

/**
 * The wire of the MCP tasks extension (SEP-2663, `io.modelcontextprotocol/tasks`, protocol
 * 2026-07-28) and its bounds: what a row looks like to the agent. Pure, so the unit tests cover
 * each rule by the spec's words.
 */

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/** Open MCP tasks one agent task may hold at once; the next tools/call is refused. */
export const MAX_OPEN_MCP_TASKS = 100;
/** Unexpired MCP tasks (ended ones too) of one agent task: rows one token can keep stored. */
export const MAX_MCP_TASK_ROWS = 1000;
/** How long a row answers tasks/get after it was created (then the retention job deletes it). */
export const MCP_TASK_TTL_MS = 60 * 60 * 1000;
/** What the agent is told to wait between polls. */
export const MCP_TASK_POLL_MS = 500;
/** A stored result or error over this many bytes (JSON) is replaced by a failed error. */
export const MAX_MCP_TASK_RESULT_BYTES = 1024 * 1024;
/** Calls of one agent task running at once (all replicas); the rest wait queued. */
export const MAX_RUNNING_PER_AGENT_TASK = 10;
/** Calls one replica runs at once. */
export const MCP_TASK_SLOTS = 50;
/** A running call's lease; renewed every third of it, taken back by another replica after it. */
export const MCP_TASK_LEASE_MS = 30_000;

/**
 * How long a first-round call of a `required` tool waits for its first run to end before the
 * CreateTaskResult is answered. A run that ends `input_required` within it is answered as the
 * round-1 InputRequiredResult and its row deleted (SEP-2663: the MRTR loop comes before the
 * task). A local run (claim, upstream answer, finish: 3 statements + one upstream round trip)
 * measured ~15-40 ms idle; on another replica add 2 NOTIFY hops (tens of ms each). 500 ms leaves
 * slack for a loaded machine while delaying a slow call's CreateTaskResult by at most half a
 * second (the agent polls every MCP_TASK_POLL_MS anyway).
 */
export const MCP_TASK_FIRST_ROUND_WAIT_MS = 500;

/** -32021: the client did not negotiate a capability the request needs (SEP-2575). */
export const MISSING_CLIENT_CAPABILITY = -32021;

/** 192 random bits, base64url: an id nobody can guess. */
export function newMcpTaskId(): string {
  return randomBytes(24).toString('base64url');
}

export type TaskSupport = 'forbidden' | 'optional' | 'required';

/**
 * A tool's declared task support: `execution.taskSupport` (2025-era field), or the extension's
 * `_meta` entry (the 2026-07-28 codec deletes `execution.taskSupport` from tools/list).
 */
export function taskSupportOf(tool: { execution?: unknown; _meta?: unknown }): TaskSupport {
  const fromMeta = (tool._meta as Record<string, { taskSupport?: unknown }> | undefined)?.[
    TASKS_EXTENSION
  ]?.taskSupport;
  const fromExecution = (tool.execution as { taskSupport?: unknown } | undefined)?.taskSupport;
  const value = fromMeta ?? fromExecution;
  return value === 'optional' || value === 'required' ? value : 'forbidden';
}

/** Whether a declared capabilities object (session or `_meta` envelope) names the extension. */
export function declaresTasks(capabilities: unknown): boolean {
  const extensions = (capabilities as { extensions?: Record<string, unknown> } | undefined)
    ?.extensions;
  return extensions !== undefined && extensions !== null && TASKS_EXTENSION in extensions;
}

/** The Task fields every answer about a row carries (flat: no `task` wrapper). */
function taskFields(row: McpTaskRow) {
  return {
    taskId: row.id,
    status: row.status,
    createdAt: row.createdAt.toISOString(),
    lastUpdatedAt: row.updatedAt.toISOString(),
    ttlMs: row.ttlMs,
    pollIntervalMs: row.pollIntervalMs,
  };
}

/** tools/call's answer when a task was created: CreateTaskResult, `resultType: "task"`. */
export function createTaskResult(row: McpTaskRow): Record<string, unknown> {
  return { resultType: 'task', ...taskFields(row) };
}

/**
 * tasks/get's DetailedTask: `result` inlined when completed, `error` when failed,
 * `inputRequests` when input_required; never `requestState` (the upstream's, kept here).
 */
export function detailedTask(row: McpTaskRow): Record<string, unknown> {
  const out: Record<string, unknown> = { resultType: 'complete', ...taskFields(row) };
  if (row.status === 'completed' && row.result) out.result = withoutRelatedTask(row.result);
  if (row.status === 'failed' && row.error) out.error = row.error;
  if (row.status === 'input_required' && row.inputRequests) out.inputRequests = row.inputRequests;
  return out;
}

/** The v1 `related-task` `_meta` key is not repeated on an inlined result (taskId is at the root). */
function withoutRelatedTask(result: Record<string, unknown>): Record<string, unknown> {
  const meta = result._meta as Record<string, unknown> | undefined;
  if (!meta || !('io.modelcontextprotocol/related-task' in meta)) return result;
  const { 'io.modelcontextprotocol/related-task': _, ...rest } = meta;
  return { ...result, _meta: rest };
}

/** A stored result within MAX_MCP_TASK_RESULT_BYTES, or why not. */
export function fitsResultCap(value: unknown): boolean {
  return Buffer.byteLength(JSON.stringify(value ?? null)) <= MAX_MCP_TASK_RESULT_BYTES;
}
