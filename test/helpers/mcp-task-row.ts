import type { McpTaskRow } from '../../gateway/src/mcp-tasks/store.ts';

/** An mcp_tasks row as the store returns it, for the wire's unit tests; `over` replaces fields. */
export function mcpTaskRow(over: Partial<McpTaskRow> = {}): McpTaskRow {
  const at = new Date('2026-07-28T10:00:00.000Z');
  return {
    id: 'id-1',
    agentTaskId: 'agent',
    tokenId: 'jti',
    claims: {} as never,
    integration: 'fixture',
    tool: 'slow_compute',
    viewIntegration: null,
    requestedName: 'fixture__slow_compute',
    arguments: null,
    inputCapabilities: {},
    idempotent: true,
    status: 'working',
    inputRequests: null,
    inputResponses: {},
    requestState: 'secret-state',
    result: null,
    error: null,
    ttlMs: 3_600_000,
    pollIntervalMs: 500,
    attempts: 1,
    upstreamTaskId: null,
    upstreamWire: null,
    createdAt: at,
    updatedAt: at,
    ...over,
  };
}
