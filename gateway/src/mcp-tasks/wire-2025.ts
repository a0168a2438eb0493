import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { McpTaskListKey, McpTaskRow } from './store.ts';
import { MCP_TASK_TTL_MS, taskSupportOf } from './wire.ts';

/**
 * The 2025-11-25 wire of MCP tasks (basic/utilities/tasks, `capabilities.tasks`), over the same
 * rows as the 2026-07-28 extension (wire.ts): what a row looks like to a 2025-era agent. Pure, so
 * the unit tests parse each shape with the SDK's 2025 zod schemas.
 */

/** `_meta` key tying a tasks/result answer to its task (the spec: MUST on tasks/result). */
export const RELATED_TASK_META_KEY = 'io.modelcontextprotocol/related-task';

/** What `initialize` declares on a 2025-era server with MCP tasks on. */
export const TASKS_CAPABILITY_2025 = {
  list: {},
  cancel: {},
  requests: { tools: { call: {} } },
} as const;

/**
 * The shortest ttl a 2025 agent may ask for (`params.task.ttl`): 1 min. Shorter would let the row
 * expire between the agent's polls on a busy gateway (poll every MCP_TASK_POLL_MS, but a slow
 * tasks/result round trip counts too), and the retention job deletes it. The longest is
 * MCP_TASK_TTL_MS (1 h, the 2026 rows' own); the spec lets the receiver override the request.
 */
export const MIN_MCP_TASK_TTL_MS = 60_000;

/** A requested ttl clamped into [MIN_MCP_TASK_TTL_MS, MCP_TASK_TTL_MS]; absent or not a number: the max. */
export function clampTtl(requested: unknown): number {
  if (typeof requested !== 'number' || !Number.isFinite(requested)) return MCP_TASK_TTL_MS;
  return Math.min(MCP_TASK_TTL_MS, Math.max(MIN_MCP_TASK_TTL_MS, Math.round(requested)));
}

/**
 * A tool as a 2025 agent lists it: `execution.taskSupport` from the extension's `_meta` entry
 * when the field is gone (a 2026-07-28 upstream's tools/list has only the `_meta` one). The same
 * object when nothing is to add (no allocation for the common tool).
 */
export function withExecutionTaskSupport<T extends { execution?: unknown; _meta?: unknown }>(
  tool: T,
): T {
  const support = taskSupportOf(tool);
  const execution = tool.execution as { taskSupport?: unknown } | undefined;
  if (support === 'forbidden' || execution?.taskSupport !== undefined) return tool;
  return { ...tool, execution: { ...execution, taskSupport: support } };
}

/**
 * Tasks of one tasks/list page at most (a smaller configured page size wins): 20. A Task is
 * ~250 bytes (5 KB a page), each page reads 21 rows by index, and an agent task holds at most
 * MAX_MCP_TASK_ROWS (1,000) rows: 50 pages walk them all. Pages stay cheap however many rows a
 * token keeps; tasks/list is for finding a lost id, not a hot path.
 */
export const MAX_TASK_LIST_PAGE = 20;

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/**
 * Whether the row's status is terminal on this wire. A completed row whose stored result is a
 * tool error counts too (it is shown `failed`, below).
 */
export function isTerminal(row: McpTaskRow): boolean {
  return TERMINAL.has(row.status);
}

/** A tool result with `isError: true`: the spec's "failed" for a tools/call task. */
function toolError(row: McpTaskRow): boolean {
  return row.status === 'completed' && row.result?.isError === true;
}

/** statusMessage at most this long: a stored error message can be 2,000 chars (runtime). */
const STATUS_MESSAGE_CHARS = 500;

/** The spec's Task: ttl and pollInterval in ms, a `failed` status for a tool error too. */
export function task2025(row: McpTaskRow): Record<string, unknown> {
  const task: Record<string, unknown> = {
    taskId: row.id,
    status: toolError(row) ? 'failed' : row.status,
    createdAt: row.createdAt.toISOString(),
    lastUpdatedAt: row.updatedAt.toISOString(),
    ttl: row.ttlMs,
    pollInterval: row.pollIntervalMs,
  };
  const message = statusMessage(row);
  if (message !== undefined) task.statusMessage = message.slice(0, STATUS_MESSAGE_CHARS);
  return task;
}

function statusMessage(row: McpTaskRow): string | undefined {
  if (row.status === 'failed' && row.error) return row.error.message;
  if (toolError(row)) return 'The tool answered with a tool error (isError); tasks/result has it';
  if (row.status === 'cancelled') return 'The task was cancelled by request';
  if (row.status === 'input_required') {
    return 'The tool asks for client input: tasks/result puts the question to this client';
  }
  return undefined;
}

/** tools/call's answer when a task was created: CreateTaskResult `{ task }`. */
export function createTaskResult2025(row: McpTaskRow): Record<string, unknown> {
  return { task: task2025(row) };
}

/**
 * tasks/result of a terminal row: "exactly what the underlying request would have returned":
 * the stored CallToolResult with the related-task `_meta`, or the stored JSON-RPC error (thrown);
 * a cancelled row has neither, and answers the gateway's `cancelled` error (thrown by the caller).
 */
export function taskPayload2025(row: McpTaskRow): Record<string, unknown> {
  if (row.status === 'failed' && row.error) {
    throw new ProtocolError(row.error.code, row.error.message, row.error.data);
  }
  const result = row.result ?? { content: [] };
  const meta = (result._meta as Record<string, unknown> | undefined) ?? {};
  return { ...result, _meta: { ...meta, [RELATED_TASK_META_KEY]: { taskId: row.id } } };
}

/** tasks/cancel of a terminal row (the spec: -32602, this wording). */
export function cancelRejected(row: McpTaskRow): ProtocolError {
  return new ProtocolError(
    ProtocolErrorCode.InvalidParams,
    `Cannot cancel task: already in terminal status '${task2025(row).status as string}'`,
  );
}

/** The one answer for a task id this view may not see, unknown, or expired. */
export function unknownTask2025(): ProtocolError {
  return new ProtocolError(
    ProtocolErrorCode.InvalidParams,
    'Failed to retrieve task: Task not found',
  );
}

// A cursor is opaque (base64url JSON); inside, the last row's key. It needs no signature: a
// forged one can only choose where to start in rows the same agent task may list anyway.
const cursorSchema = z.object({
  v: z.literal(1),
  t: z.string().regex(/^\d{1,19}$/),
  i: z.string().min(1).max(200),
});

export function encodeTaskCursor(key: McpTaskListKey): string {
  return Buffer.from(JSON.stringify({ v: 1, t: key.micros, i: key.id }), 'utf8').toString(
    'base64url',
  );
}

/** The key a cursor stands for; -32602 for anything else (the spec: invalid cursor). */
export function decodeTaskCursor(cursor: string | undefined): McpTaskListKey | undefined {
  if (cursor === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = cursor.length <= 1024 ? JSON.parse(Buffer.from(cursor, 'base64url').toString()) : 0;
  } catch {
    parsed = undefined;
  }
  const result = cursorSchema.safeParse(parsed);
  if (!result.success || BigInt(result.data.t) > 9_223_372_036_854_775_807n) {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Invalid cursor');
  }
  return { micros: result.data.t, id: result.data.i };
}
