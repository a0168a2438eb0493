import { getEventListeners } from 'node:events';
/**
 * The 2025-11-25 task wire (gateway/src/mcp-tasks/wire-2025.ts): every shape parsed by the
 * SDK's own 2025 zod schemas (SDK v2 core, and the 1.x SDK whose client speaks it), and each
 * bound and rule named by the spec's words.
 */
import {
  CallToolResultSchema,
  CancelTaskResultSchema,
  CreateTaskResultSchema,
  GetTaskPayloadResultSchema,
  GetTaskResultSchema,
  ListTasksResultSchema,
  TaskSchema,
} from '@modelcontextprotocol/core';
import {
  RELATED_TASK_META_KEY as V1_RELATED_TASK_META_KEY,
  CreateTaskResultSchema as V1CreateTaskResultSchema,
  GetTaskResultSchema as V1GetTaskResultSchema,
  ListTasksResultSchema as V1ListTasksResultSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { RELATED_TASK_META_KEY as V2_RELATED_TASK_META_KEY } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { abortedPromise } from '../../gateway/src/mcp/mcp-task-methods-2025.ts';
import type { McpTaskRow } from '../../gateway/src/mcp-tasks/store.ts';
import { MCP_TASK_TTL_MS } from '../../gateway/src/mcp-tasks/wire.ts';
import {
  cancelRejected,
  clampTtl,
  createTaskResult2025,
  decodeTaskCursor,
  encodeTaskCursor,
  isTerminal,
  MIN_MCP_TASK_TTL_MS,
  RELATED_TASK_META_KEY,
  task2025,
  taskPayload2025,
  withExecutionTaskSupport,
} from '../../gateway/src/mcp-tasks/wire-2025.ts';
import { mcpTaskRow } from '../helpers/mcp-task-row.ts';

const at = new Date('2025-11-25T10:00:00.000Z');

const row = (over: Partial<McpTaskRow> = {}): McpTaskRow =>
  mcpTaskRow({
    ttlMs: 120_000,
    createdAt: at,
    updatedAt: new Date(at.getTime() + 1000),
    ...over,
  });

const statuses: McpTaskRow['status'][] = [
  'working',
  'input_required',
  'completed',
  'failed',
  'cancelled',
];

describe('2025-11-25 task shapes', () => {
  it('Task, CreateTaskResult, GetTaskResult, CancelTaskResult, ListTasksResult parse with the SDK schemas (v2 core and 1.x)', () => {
    for (const status of statuses) {
      const r = row({
        status,
        ...(status === 'completed' && { result: { content: [] } }),
        ...(status === 'failed' && { error: { code: -32603, message: 'x'.repeat(3000) } }),
        ...(status === 'input_required' && { inputRequests: { a: {} } }),
      });
      const task = task2025(r);
      expect(TaskSchema.parse(task)).toEqual(task);
      expect(GetTaskResultSchema.parse(task)).toMatchObject(task);
      expect(CancelTaskResultSchema.parse(task)).toMatchObject(task);
      expect(V1GetTaskResultSchema.parse(task)).toMatchObject(task);
      expect(CreateTaskResultSchema.parse(createTaskResult2025(r)).task).toEqual(task);
      expect(V1CreateTaskResultSchema.parse(createTaskResult2025(r)).task).toEqual(task);
      // MUST: createdAt and lastUpdatedAt, ISO 8601; the actual ttl; never the upstream's state.
      expect(task).toMatchObject({
        taskId: 'id-1',
        status,
        createdAt: '2025-11-25T10:00:00.000Z',
        lastUpdatedAt: '2025-11-25T10:00:01.000Z',
        ttl: 120_000,
        pollInterval: 500,
      });
      expect(JSON.stringify(task)).not.toContain('secret-state');
      expect(String(task.statusMessage ?? '').length).toBeLessThanOrEqual(500);
    }
    const list = { tasks: statuses.map((status) => task2025(row({ status }))), nextCursor: 'c' };
    expect(ListTasksResultSchema.parse(list).tasks).toHaveLength(5);
    expect(V1ListTasksResultSchema.parse(list).nextCursor).toBe('c');
  });

  it('an input_required task says where its question is answered (tasks/result)', () => {
    expect(task2025(row({ status: 'input_required' })).statusMessage).toMatch(/tasks\/result/);
  });

  it('a completed row whose result is a tool error is a failed task (the spec: isError → failed), still terminal', () => {
    const r = row({ status: 'completed', result: { content: [], isError: true } });
    expect(task2025(r).status).toBe('failed');
    expect(isTerminal(r)).toBe(true);
    expect(isTerminal(row({ status: 'input_required' }))).toBe(false);
  });

  it('tasks/result: the stored CallToolResult with the related-task _meta (its own _meta kept); a failed row throws its stored error', () => {
    expect(RELATED_TASK_META_KEY).toBe(V1_RELATED_TASK_META_KEY);
    expect(RELATED_TASK_META_KEY).toBe(V2_RELATED_TASK_META_KEY);
    const payload = taskPayload2025(
      row({
        status: 'completed',
        result: { content: [{ type: 'text', text: 'hi' }], _meta: { mine: 1 } },
      }),
    );
    expect(CallToolResultSchema.parse(payload)).toMatchObject({ content: [{ text: 'hi' }] });
    expect(GetTaskPayloadResultSchema.parse(payload)._meta).toEqual({
      mine: 1,
      [RELATED_TASK_META_KEY]: { taskId: 'id-1' },
    });
    expect(() =>
      taskPayload2025(
        row({ status: 'failed', error: { code: -32602, message: 'bad', data: { a: 1 } } }),
      ),
    ).toThrow(expect.objectContaining({ code: -32602, message: expect.stringContaining('bad') }));
  });

  it("a passthrough row's upstream id is in no 2025 answer (Task, CreateTaskResult, tasks/result)", () => {
    const secret = 'UPSTREAM-TASK-ID-7f3a';
    const followed = { upstreamTaskId: secret, upstreamWire: '2025-11-25' as const };
    const shown = [
      task2025(row(followed)),
      createTaskResult2025(row(followed)),
      taskPayload2025(row({ ...followed, status: 'completed', result: { content: [] } })),
    ];
    for (const answer of shown) expect(JSON.stringify(answer)).not.toContain(secret);
  });

  it("tasks/cancel of a terminal task: -32602 naming the status (the spec's example)", () => {
    const error = cancelRejected(row({ status: 'completed', result: { content: [] } }));
    expect([error.code, error.message]).toEqual([
      -32602,
      "Cannot cancel task: already in terminal status 'completed'",
    ]);
  });

  it('ttl: clamped into [1 min, MCP_TASK_TTL_MS]; absent or not a number is the max', () => {
    expect(clampTtl(undefined)).toBe(MCP_TASK_TTL_MS);
    expect(clampTtl('60000')).toBe(MCP_TASK_TTL_MS);
    expect(clampTtl(Number.NaN)).toBe(MCP_TASK_TTL_MS);
    expect(clampTtl(Number.POSITIVE_INFINITY)).toBe(MCP_TASK_TTL_MS);
    expect(clampTtl(0)).toBe(MIN_MCP_TASK_TTL_MS);
    expect(clampTtl(-1)).toBe(MIN_MCP_TASK_TTL_MS);
    expect(clampTtl(90_000.4)).toBe(90_000);
    expect(clampTtl(10 * MCP_TASK_TTL_MS)).toBe(MCP_TASK_TTL_MS);
  });

  it('cursors: opaque round trip; anything else is -32602', () => {
    const key = { micros: '1764064800123456', id: 'abc_-XYZ' };
    const cursor = encodeTaskCursor(key);
    expect(cursor).not.toContain('abc');
    expect(decodeTaskCursor(cursor)).toEqual(key);
    expect(decodeTaskCursor(undefined)).toBeUndefined();
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const bad of [
      'not base64 json',
      enc({ v: 1, t: '1.5', i: 'a' }),
      enc({ v: 1, t: '-1', i: 'a' }),
      enc({ v: 1, t: '9223372036854775808', i: 'a' }),
      enc({ v: 1, t: '1', i: '' }),
      enc({ v: 1, t: '1', i: 'x'.repeat(201) }),
      enc({ k: 'tools', o: 0 }),
      'x'.repeat(2000),
    ]) {
      expect(() => decodeTaskCursor(bad), bad.slice(0, 30)).toThrow(
        expect.objectContaining({ code: -32602 }),
      );
    }
  });

  it('tools/list: execution.taskSupport restored from the extension _meta; an ordinary tool is the same object', () => {
    const plain: { name: string; execution?: unknown } = { name: 'greet' };
    expect(withExecutionTaskSupport(plain)).toBe(plain);
    const modern = {
      name: 'slow',
      _meta: { 'io.modelcontextprotocol/tasks': { taskSupport: 'required' } },
    };
    expect(withExecutionTaskSupport(modern)).toEqual({
      ...modern,
      execution: { taskSupport: 'required' },
    });
    const both = { name: 'x', execution: { taskSupport: 'optional' } };
    expect(withExecutionTaskSupport(both)).toBe(both);
  });
});

describe('tasks/result wait', () => {
  it('adds one abort listener to the request signal however many loop turns it waits, and still resolves on abort', async () => {
    const controller = new AbortController();
    const turns = Array.from({ length: 30 }, () =>
      Promise.race([abortedPromise(controller.signal), Promise.resolve('turn')]),
    );
    expect(await Promise.all(turns)).toEqual(turns.map(() => 'turn'));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    await expect(abortedPromise(controller.signal)).resolves.toBeUndefined();
  });
});
