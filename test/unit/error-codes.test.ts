import fs from 'node:fs';
import path from 'node:path';
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  ERRORS,
  type ErrorCode,
  EXIT,
  isErrorCode,
  JSON_RPC,
  jsonRpcErrorOf,
  SwitchboardError,
  UsageError,
} from '../../gateway/src/errors.ts';
import { callHandler } from '../../gateway/src/integrations/handler-call.ts';
import type { IntegrationRegistry } from '../../gateway/src/integrations/registry.ts';
import { protocolError, upstreamFailure } from '../../gateway/src/mcp/errors.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';

// Issue 14 point 4: one ErrorCode union, one table of its facts, and the API reference's list
// of codes kept equal to both, so a code cannot be added, renamed or re-statused in one place only.

const GUIDE = path.join(REPO_ROOT, 'docs/operator-guide.md');

interface DocRow {
  code: string;
  status: number;
  jsonRpc: number;
  retried: boolean;
  when: string;
}

/** The rows of the table under "## Error codes" in the operator guide. */
function documentedCodes(): DocRow[] {
  const text = fs.readFileSync(GUIDE, 'utf8');
  const start = text.indexOf('\n## Error codes\n');
  expect(start, 'docs/operator-guide.md has a "## Error codes" section').toBeGreaterThan(0);
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end === -1 ? undefined : end);
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const [code, status, jsonRpc, retried, when] = line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim());
      return {
        code: code!.replace(/^`|`$/g, ''),
        status: Number(status),
        jsonRpc: Number(jsonRpc),
        retried: retried === 'yes',
        when: when ?? '',
      };
    });
}

describe('error codes', () => {
  it('every code of the union has one row of facts, with a real status and JSON-RPC code', () => {
    expect(ERROR_CODES.length).toBeGreaterThan(60);
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(JSON_RPC.InvalidParams).toBe(ProtocolErrorCode.InvalidParams);
    expect(JSON_RPC.InternalError).toBe(ProtocolErrorCode.InternalError);
    const jsonRpcCodes = new Set<number>(Object.values(JSON_RPC));
    for (const code of ERROR_CODES) {
      const facts = ERRORS[code];
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(Number.isInteger(facts.status) && facts.status >= 400 && facts.status < 600).toBe(
        true,
      );
      expect(jsonRpcCodes.has(facts.jsonRpc), `${code}: ${facts.jsonRpc}`).toBe(true);
      // A refusal (4xx) never gets better by waiting: no 4xx code is retried.
      if (facts.status < 500) expect(facts.retryable, code).toBe(false);
    }
  });

  it('the operator guide lists exactly the codes of the union, with their facts', () => {
    const rows = documentedCodes();
    expect(rows.map((r) => r.code)).toEqual(ERROR_CODES);
    for (const row of rows) {
      const facts = ERRORS[row.code as ErrorCode];
      expect(
        { code: row.code, status: row.status, jsonRpc: row.jsonRpc, retried: row.retried },
        'docs/operator-guide.md "Error codes" row',
      ).toEqual({
        code: row.code,
        status: facts.status,
        jsonRpc: facts.jsonRpc,
        retried: facts.retryable,
      });
      expect(row.when.length, `${row.code} says when it happens`).toBeGreaterThan(10);
    }
    // The exit codes are prose, not a column: the sentence names every code that exits 2.
    const exitsTwo = ERROR_CODES.filter((code) => ERRORS[code].exit === EXIT.usage);
    expect(exitsTwo.sort()).toEqual(
      ['agent_bundle_invalid', 'agent_plan_invalid', 'config_invalid', 'usage'].sort(),
    );
    const sentence = fs.readFileSync(GUIDE, 'utf8').match(/The CLI exits 2 on ([^(]*)\(/)?.[1];
    expect(
      sentence
        ?.match(/`[a-z_]+`/g)
        ?.map((c) => c.slice(1, -1))
        .sort(),
    ).toEqual(exitsTwo);
  });

  it('an error takes its status, JSON-RPC code and retryability from its code', () => {
    const conflict = new SwitchboardError('task_ended', 'task t has already ended (completed)');
    expect([conflict.status, conflict.jsonRpc, conflict.retryable]).toEqual([409, -32603, false]);
    const handler = new SwitchboardError('handler_failed', 'x:on_webhook: exited');
    expect([handler.status, handler.retryable]).toEqual([502, true]);
    const usage = new UsageError('missing --name', 'usage: …');
    expect([usage.code, usage.status, usage.name]).toEqual(['usage', 400, 'UsageError']);
    expect(isErrorCode('not_found')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
  });

  it('JSON-RPC errors carry the number from the table and the code first in data', () => {
    const deep = protocolError('arguments_too_deep', 'too deep');
    expect(deep).toBeInstanceOf(ProtocolError);
    expect([deep.code, deep.data]).toEqual([-32602, { code: 'arguments_too_deep' }]);
    const failed = upstreamFailure(
      'fixture',
      new SwitchboardError('upstream_busy', 'integration fixture: all 2 instances are busy'),
    );
    expect(failed.code).toBe(-32603);
    expect(JSON.stringify(failed.data)).toBe('{"code":"upstream_busy","integration":"fixture"}');
    expect(JSON.stringify(jsonRpcErrorOf('too_many_in_flight', 'm', { limit: 4 }))).toBe(
      '{"code":-32000,"message":"m","data":{"code":"too_many_in_flight","limit":4}}',
    );
  });

  it('a handler of no integration is final, of one not ready is retried (two codes, one rule each)', async () => {
    const registry = (item: unknown) => ({ get: () => item }) as unknown as IntegrationRegistry;
    const outcome = (item: unknown) =>
      callHandler(registry(item), 'ghost', 'on_webhook', {}).then(
        () => undefined,
        (e: SwitchboardError) => ({
          code: e.code,
          status: e.status,
          retryable: e.retryable,
          message: e.message,
        }),
      );
    expect(await outcome(undefined)).toEqual({
      code: 'integration_unknown',
      status: 502,
      retryable: false,
      message: 'ghost:on_webhook: no such integration',
    });
    expect(await outcome({ state: 'refused' })).toEqual({
      code: 'handler_unavailable',
      status: 502,
      retryable: true,
      message: 'ghost:on_webhook: it is refused',
    });
  });
});
