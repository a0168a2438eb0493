/**
 * The MCP tasks extension's wire (SEP-2663; gateway/src/mcp-tasks/wire.ts, and how a tool's
 * answer is stored: mcp/mcp-task-runtime.ts outcomeOf), each case named by the rule it covers.
 */
import { describe, expect, it } from 'vitest';
import { outcomeOf } from '../../gateway/src/mcp/mcp-task-runtime.ts';
import type { McpTaskRow } from '../../gateway/src/mcp-tasks/store.ts';
import {
  createTaskResult,
  declaresTasks,
  detailedTask,
  MAX_MCP_TASK_RESULT_BYTES,
  newMcpTaskId,
  taskSupportOf,
} from '../../gateway/src/mcp-tasks/wire.ts';
import { mcpTaskRow } from '../helpers/mcp-task-row.ts';

const at = new Date('2026-07-28T10:00:00.000Z');

const row = (over: Partial<McpTaskRow> = {}): McpTaskRow =>
  mcpTaskRow({ createdAt: at, updatedAt: at, ...over });

describe('MCP task wire (SEP-2663)', () => {
  it('CreateTaskResult is flat: resultType task, taskId, status, ISO times, integer ttlMs/pollIntervalMs; no task wrapper, result, error, inputRequests, requestState or v1 ttl', () => {
    const created = createTaskResult(row());
    expect(created).toEqual({
      resultType: 'task',
      taskId: 'id-1',
      status: 'working',
      createdAt: '2026-07-28T10:00:00.000Z',
      lastUpdatedAt: '2026-07-28T10:00:00.000Z',
      ttlMs: 3_600_000,
      pollIntervalMs: 500,
    });
  });

  it('tasks/get inlines result only when completed, error only when failed, inputRequests only when input_required; never requestState', () => {
    const done = detailedTask(row({ status: 'completed', result: { content: [] } }));
    expect([done.resultType, 'result' in done, 'error' in done]).toEqual(['complete', true, false]);
    const failed = detailedTask(
      row({ status: 'failed', error: { code: -32603, message: 'x' }, result: { content: [] } }),
    );
    expect(['result' in failed, failed.error]).toEqual([false, { code: -32603, message: 'x' }]);
    const parked = detailedTask(
      row({ status: 'input_required', inputRequests: { a: { method: 'elicitation/create' } } }),
    );
    expect(Object.keys(parked.inputRequests as object)).toEqual(['a']);
    for (const d of [done, failed, parked]) expect('requestState' in d).toBe(false);
  });

  it('passthrough: the upstream task id and wire appear in no CreateTaskResult or DetailedTask', () => {
    const upstream = { upstreamTaskId: 'UPSTREAM-SECRET-ID', upstreamWire: '2026-07-28' as const };
    for (const status of [
      'working',
      'input_required',
      'completed',
      'failed',
      'cancelled',
    ] as const) {
      const r = row({ ...upstream, status, result: { content: [] }, inputRequests: {} });
      for (const shown of [createTaskResult(r), detailedTask(r)]) {
        expect(JSON.stringify(shown)).not.toContain('UPSTREAM-SECRET-ID');
        expect(JSON.stringify(shown)).not.toContain('upstream');
      }
    }
  });

  it('the v1 related-task _meta key is not repeated on an inlined result', () => {
    const got = detailedTask(
      row({
        status: 'completed',
        result: {
          content: [],
          _meta: { 'io.modelcontextprotocol/related-task': { taskId: 'x' }, k: 1 },
        },
      }),
    );
    expect((got.result as { _meta: object })._meta).toEqual({ k: 1 });
  });

  it('a tool error completes with isError; input_required parks with its requests and state; an oversized result fails', () => {
    expect(outcomeOf({ isError: true, content: [{ type: 'text', text: 'no' }] })).toMatchObject({
      status: 'completed',
      result: { isError: true },
    });
    expect(
      outcomeOf({
        resultType: 'input_required',
        inputRequests: { q: {} },
        requestState: 's',
        content: [],
      } as never),
    ).toEqual({ status: 'input_required', inputRequests: { q: {} }, requestState: 's' });
    const big = 'x'.repeat(MAX_MCP_TASK_RESULT_BYTES);
    expect(outcomeOf({ content: [{ type: 'text', text: big }] }).status).toBe('failed');
  });

  it('task support from execution.taskSupport or the extension _meta; anything else is forbidden', () => {
    expect(taskSupportOf({ execution: { taskSupport: 'optional' } })).toBe('optional');
    expect(
      taskSupportOf({ _meta: { 'io.modelcontextprotocol/tasks': { taskSupport: 'required' } } }),
    ).toBe('required');
    expect(taskSupportOf({ execution: { taskSupport: 'always' } })).toBe('forbidden');
    expect(taskSupportOf({})).toBe('forbidden');
  });

  it('negotiation: the extension under capabilities.extensions, nothing else', () => {
    expect(declaresTasks({ extensions: { 'io.modelcontextprotocol/tasks': {} } })).toBe(true);
    expect(declaresTasks({ tasks: {} })).toBe(false);
    expect(declaresTasks(undefined)).toBe(false);
  });

  it('ids: 192 bits, base64url, distinct', () => {
    const ids = new Set(Array.from({ length: 1000 }, newMcpTaskId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });
});
