/**
 * The guardrail chain of tools/call (gateway/src/guards/, run by mcp/tools.ts): a guard sees
 * every call the scope allows with the token's claims, the tool's definition and the
 * arguments; its refusal is the agent's tool error and the upstream never sees the call; a
 * guard that throws refuses (fail closed); `after` hears how each passed call ended. Through
 * real HTTP on both eras (2026-07-28 and the 2025 fast path) to real stdio upstreams.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallOutcome, GuardedCall, ToolCallGuard } from '../../gateway/src/guards/guard.ts';
import { useMigratedDatabase } from '../helpers/database.ts';
import {
  clientTracker,
  connectV1,
  connectV2,
  grant,
  type Harness,
  startHarness,
} from '../helpers/mcp-harness.ts';

describe('tools/call guardrails (guards/chain.ts)', () => {
  const database = useMigratedDatabase();
  const clients = clientTracker();
  let h: Harness;
  const seen: GuardedCall[] = [];
  const ended: Array<{ tool: string; outcome: CallOutcome }> = [];
  const recording: ToolCallGuard = {
    name: 'recording',
    before: (call) => {
      seen.push(call);
      return undefined;
    },
    after: (call, outcome) => {
      ended.push({ tool: call.tool, outcome });
    },
  };
  const refusing: ToolCallGuard = {
    name: 'refusing',
    before: (call) =>
      call.arguments?.tag === 'refuse-me'
        ? { code: 'guard_failed', message: `refused by the test rule for ${call.tool}` }
        : undefined,
  };
  const holding: ToolCallGuard = {
    name: 'holding',
    async before(call) {
      if (call.arguments?.tag !== 'hold-me') return undefined;
      call.progress('waiting for the test');
      await new Promise((r) => setTimeout(r, 50));
      return undefined;
    },
  };
  const throwing: ToolCallGuard = {
    name: 'throwing',
    before: (call) => {
      if (call.arguments?.tag === 'throw') throw new Error('the rule broke');
      return undefined;
    },
  };

  beforeAll(async () => {
    h = await startHarness(database, {}, { guards: [recording, refusing, holding, throwing] });
    h.grants.set('all', grant('all', ['*:*'], 'session-1', 'triage'));
    h.grants.set('narrow', grant('narrow', ['fixture:test_simple_text']));
  });
  afterAll(async () => {
    await clients.closeAll();
    await h?.close();
  });

  it('a guard sees the claims (with the profile), the upstream tool name, the definition and the arguments', async () => {
    const client = clients.track(await connectV2(h.url(), 'all', 'modern'));
    const before = seen.length;
    const result = await client.callTool({
      name: 'probe__sleep',
      arguments: { ms: 1, tag: 'ok-1' },
    });
    expect(result.isError).toBeFalsy();
    const call = seen.at(before)!;
    expect(call).toMatchObject({
      integration: 'probe',
      tool: 'sleep',
      arguments: { ms: 1, tag: 'ok-1' },
      claims: { taskId: 'task-all', profile: 'triage', scope: ['*:*'] },
      definition: { name: 'sleep', inputSchema: { required: ['ms'] } },
    });
    expect(ended.find((e) => e.tool === 'sleep')?.outcome).toMatchObject({
      ok: true,
      result: { content: expect.any(Array) },
    });
  });

  it('a refusal is the agent’s tool error, recorded as such, and the upstream never sees the call', async () => {
    for (const era of ['modern', 'legacy'] as const) {
      const client = clients.track(await connectV2(h.url(), 'all', era));
      const endedBefore = ended.length;
      const eventsBefore = h.events.length;
      // Ten minutes of sleep if it were forwarded: the answer comes back at once instead.
      const result = await client.callTool({
        name: 'probe__sleep',
        arguments: { ms: 600_000, tag: 'refuse-me' },
      });
      expect(result).toMatchObject({
        isError: true,
        content: [{ type: 'text', text: 'refused by the test rule for sleep' }],
      });
      const sleeping = await client.callTool({ name: 'probe__sleeping', arguments: {} });
      expect(JSON.stringify(sleeping.content)).not.toContain('refuse-me');
      // `after` hears only of calls every guard let through (the sleeping call, not this one).
      expect(ended.slice(endedBefore).map((e) => e.tool)).toEqual(['sleeping']);
      await new Promise((r) => setTimeout(r, 20));
      expect(h.events.slice(eventsBefore)[0]).toMatchObject({
        integration: 'probe',
        tool: 'sleep',
        ok: false,
        error: 'guard_failed: refused by the test rule for sleep',
      });
    }
  });

  it('the 2025 fast path and the 1.x SDK client are refused alike', async () => {
    const client = clients.track(await connectV1(h.url('probe'), 'all'));
    const result = await client.callTool({ name: 'sleep', arguments: { ms: 1, tag: 'refuse-me' } });
    expect(result).toMatchObject({
      isError: true,
      content: [{ type: 'text', text: 'refused by the test rule for sleep' }],
    });
  });

  it('a guard that throws refuses the call (fail closed) and the next call is judged afresh', async () => {
    const client = clients.track(await connectV2(h.url(), 'all', 'modern'));
    const broken = await client.callTool({
      name: 'probe__sleep',
      arguments: { ms: 1, tag: 'throw' },
    });
    expect(broken).toMatchObject({
      isError: true,
      content: [{ type: 'text', text: 'the throwing check failed; the call was refused' }],
    });
    const fine = await client.callTool({ name: 'probe__sleep', arguments: { ms: 1, tag: 'ok-2' } });
    expect(fine.isError).toBeFalsy();
  });

  it('a holding guard keeps the agent informed by progress, when it asked for progress', async () => {
    const client = clients.track(await connectV2(h.url(), 'all', 'modern'));
    const messages: Array<string | undefined> = [];
    const result = await client.callTool(
      { name: 'probe__sleep', arguments: { ms: 1, tag: 'hold-me' } },
      { onprogress: (p) => messages.push(p.message) },
    );
    expect(result.isError).toBeFalsy();
    expect(messages[0]).toBe('waiting for the test');
  });

  it('an out-of-scope call is "not found" before any guard sees it', async () => {
    const client = clients.track(await connectV2(h.url(), 'narrow', 'modern'));
    const before = seen.length;
    await expect(
      client.callTool({ name: 'probe__sleep', arguments: { ms: 1, tag: 'refuse-me' } }),
    ).rejects.toThrow(/not found|Unknown tool/i);
    expect(seen.length).toBe(before);
  });
});
