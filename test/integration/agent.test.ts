import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { buildBundle } from '../../gateway/src/runners/bundle.ts';
import { writeBundle } from '../../gateway/src/runners/files.ts';
import {
  type StubCall,
  type SwitchboardStub,
  startSwitchboardStub,
} from '../fixtures/agents/switchboard-stub.ts';
import { ADMIN_KEY, REPO_ROOT, runSwitchboard, useTestGateway } from '../helpers/gateway.ts';

// The reference agent (`switchboard agent`, issue 5) as the process runner starts it: a bundle
// folder written by the runner's own code, the bundle's environment and nothing else, real
// tokens of an external task, the example `fixture` integration through /mcp, and a stub of
// the built-in switchboard server (test/fixtures/agents/switchboard-stub.ts) that records calls.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-agent-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Granted {
  task: { id: string };
  mcp: { url: string; token: string };
  integrations: Array<{ name: string; url: string; token: string }>;
}

describe('switchboard agent', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: path.join(REPO_ROOT, 'servers'),
    SWITCHBOARD_POLICY: path.join(REPO_ROOT, 'test/fixtures/agents/policy.yaml'),
  });
  let stub: SwitchboardStub | undefined;
  afterEach(async () => {
    await stub?.close();
    stub = undefined;
  });

  /** Grants a task, starts the stub with `prompt`, writes the bundle and runs the agent. */
  async function runAgent(prompt: string, extraArgs: string[] = [], dropEnv?: string) {
    const response = await fetch(`${gw().url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external: true, scope: ['fixture:*'], prompt }),
    });
    expect(response.status).toBe(201);
    const granted = (await response.json()) as Granted;
    stub = await startSwitchboardStub(prompt);
    const bundle = buildBundle({
      publicUrl: gw().url,
      taskId: granted.task.id,
      // External tasks have no session; the agent does not read this one.
      sessionId: 'session-agent-test',
      token: granted.mcp.token,
      integrations: granted.integrations.map(({ name, url, token }) => ({ name, url, token })),
      switchboardServer: { url: stub.url, token: stub.token },
    });
    const dir = await writeBundle(bundle, tmp);
    const env: Record<string, string | undefined> = { ...bundle.env };
    if (dropEnv) delete env[dropEnv];
    const run = await runSwitchboard(['agent', '--bundle', dir, ...extraArgs], env);
    return { run, taskId: granted.task.id, calls: stub.calls };
  }

  /** The tools the gateway saw this task call, in order (task:tool_use events). */
  const toolCalls = (taskId: string) =>
    gw().sql<{ tool: string; ok: boolean }[]>`
      select data->>'tool' as tool, (data->>'ok')::boolean as ok from task_events
       where task_id = ${taskId} and type = 'task:tool_use' order by seq`;

  const progress = (message: string, done: number, total: number): StubCall => ({
    tool: 'task_progress',
    arguments: { message, progress: done, total },
  });

  it('performs a JSON plan in order, reports progress before each call, completes with the last text', async () => {
    const plan = {
      calls: [
        { tool: 'fixture__test_simple_text', arguments: {} },
        { tool: 'fixture__test_tool_with_progress' },
      ],
    };
    const { run, taskId, calls } = await runAgent(JSON.stringify(plan));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('');
    expect(calls).toEqual([
      { tool: 'task_context', arguments: {} },
      progress('calling fixture__test_simple_text (1/2)', 0, 2),
      progress('calling fixture__test_tool_with_progress (2/2)', 1, 2),
      { tool: 'task_complete', arguments: { result: 'Completed 5 steps' } },
    ]);
    await expect
      .poll(() => toolCalls(taskId))
      .toEqual([
        { tool: 'test_simple_text', ok: true },
        { tool: 'test_tool_with_progress', ok: true },
      ]);
    // One line per step on stderr, and no token in them.
    const lines = run.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^agent: task ${taskId}: connected to `)),
      'agent: plan: 2 calls',
      'agent: calling fixture__test_simple_text (1/2)',
      'agent: fixture__test_simple_text (1/2) ok',
      'agent: calling fixture__test_tool_with_progress (2/2)',
      'agent: fixture__test_tool_with_progress (2/2) ok',
      'agent: completed (17 characters of result)',
    ]);
  });

  it('--prompt replaces task_context; the plan’s result is what task_complete gets', async () => {
    const plan = { calls: [{ tool: 'fixture__test_simple_text' }], result: 'all good' };
    const { run, calls } = await runAgent('not used', ['--prompt', JSON.stringify(plan)]);
    expect(run.code, run.stderr).toBe(0);
    expect(calls).toEqual([
      progress('calling fixture__test_simple_text (1/1)', 0, 1),
      { tool: 'task_complete', arguments: { result: 'all good' } },
    ]);
  });

  it('a prompt that is not a plan lists the tools and completes with their count and names', async () => {
    const { run, taskId, calls } = await runAgent('Have a look around.');
    expect(run.code, run.stderr).toBe(0);
    expect(calls.map((c) => c.tool)).toEqual(['task_context', 'task_complete']);
    const result = String(calls[1]?.arguments.result);
    const match = /^(\d+) tools available: (.+)$/.exec(result);
    expect(match, result).not.toBeNull();
    const names = match![2]!.split(', ');
    expect(names).toHaveLength(Number(match![1]));
    expect(names).toContain('fixture__test_simple_text');
    expect(names.every((n) => n.startsWith('fixture__'))).toBe(true);
    expect(await toolCalls(taskId)).toEqual([]);
  });

  it('a bad plan is refused naming the field, exit 2, before any call', async () => {
    const bad = { calls: [{ tool: 'fixture__test_simple_text', argument: {} }, { tool: 3 }] };
    const { run, taskId, calls } = await runAgent(JSON.stringify(bad));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'agent: failed: invalid plan: calls.0: Unrecognized key: "argument"',
    );
    expect(run.stderr).toContain('calls.1.tool: ');
    expect(calls.map((c) => c.tool)).toEqual(['task_context']);
    expect(await toolCalls(taskId)).toEqual([]);
  });

  it('stops at the first failing call (an isError result): exit 1, the error on stderr, no task_complete', async () => {
    const plan = {
      calls: [
        { tool: 'fixture__test_simple_text' },
        { tool: 'fixture__test_error_handling' },
        { tool: 'fixture__test_simple_text' },
      ],
    };
    const { run, taskId, calls } = await runAgent(JSON.stringify(plan));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'agent: failed: fixture__test_error_handling (2/3) returned an error: This tool intentionally returns an error for testing',
    );
    expect(calls.map((c) => c.tool)).toEqual(['task_context', 'task_progress', 'task_progress']);
    await expect
      .poll(() => toolCalls(taskId))
      .toEqual([
        { tool: 'test_simple_text', ok: true },
        { tool: 'test_error_handling', ok: false },
      ]);
  });

  it('a call the gateway refuses (a JSON-RPC error) is a failure too', async () => {
    const plan = { calls: [{ tool: 'fixture__no_such_tool' }] };
    const { run, calls } = await runAgent(JSON.stringify(plan));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /agent: failed: fixture__no_such_tool \(1\/1\) (failed|returned an error): /,
    );
    expect(calls.map((c) => c.tool)).toEqual(['task_context', 'task_progress']);
  });

  it('a bundle without the switchboard token is refused with the variable’s name, exit 2', async () => {
    const { run, calls } = await runAgent('hello', [], 'SWITCHBOARD_TOKEN_SWITCHBOARD');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'agent: failed: SWITCHBOARD_TOKEN_SWITCHBOARD (the token for servers.switchboard) is not set',
    );
    expect(calls).toEqual([]);
  });
});
