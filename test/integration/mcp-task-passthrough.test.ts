/**
 * MCP task passthrough (issue 19 item 2; gateway/src/mcp/mcp-task-upstream.ts): upstreams that
 * run tasks themselves get the call as an upstream task, and the gateway follows it. Real
 * `switchboard start` processes, a real 2026-07-28 HTTP upstream (its own process, so it outlives
 * a killed gateway) and a real 2025-11-25 stdio upstream (SDK 1.x tasks), real HTTP agents.
 */
import { CallToolResultSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usingPostgres } from '../helpers/database.ts';
import {
  type GatewayProcess,
  gatewayDatabase,
  startGatewayProcess,
} from '../helpers/gateway-process.ts';
import {
  frontedGateways,
  getTask,
  grantTask,
  MASTER_KEY,
  rpc,
  settle,
} from '../helpers/mcp-tasks.ts';
import { connect2025, createTask2025 } from '../helpers/mcp-tasks-2025.ts';
import {
  createTaskOf,
  integrationsReady,
  passthroughRoot,
  startUpstream2026,
  textOf,
  type Upstream2026,
} from '../helpers/task-upstreams.ts';

let upstream: Upstream2026;
let setup: ReturnType<typeof passthroughRoot>;

beforeAll(async () => {
  upstream = await startUpstream2026();
  setup = passthroughRoot('integration', upstream.port);
}, 60_000);
afterAll(async () => {
  await upstream?.stop();
  setup?.remove();
});

const envOf = () => ({
  INTEGRATION_DIRS: setup.root,
  SWITCHBOARD_POLICY: setup.policy,
  SWITCHBOARD_MASTER_KEY: MASTER_KEY,
});

/** Every string the agent was answered, joined: to prove an upstream id is never in it. */
function seen(answers: unknown[]): string {
  return JSON.stringify(answers);
}

describe('MCP task passthrough on one gateway', () => {
  let gw: GatewayProcess;
  let token: string;

  beforeAll(async () => {
    gw = await startGatewayProcess(envOf());
    await integrationsReady(gw.url, ['tasks26', 'tasks25']);
    token = (await grantTask(gw.url, ['tasks26:*', 'tasks25:*'])).token;
  }, 120_000);
  afterAll(async () => gw?.cleanup());

  it('2026-07-28: a tool `required` upstream completes through the agent task; the upstream id never reaches the agent', async () => {
    const before = await upstream.stats();
    const answers: unknown[] = [];
    const created = await rpc(gw.url, token, 'tools/call', {
      name: 'tasks26__required_job',
      arguments: { ms: 300, label: 'one' },
    });
    answers.push(created);
    expect(created.result?.resultType, JSON.stringify(created)).toBe('task');
    const id = created.result?.taskId as string;
    // The gateway's own 192-bit id, not the upstream's UUID.
    expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const done = await settle(gw.url, token, id);
    answers.push(done, await getTask(gw.url, token, id));
    expect(done.status).toBe('completed');
    expect(textOf(done)).toBe('done one');
    const after = await upstream.stats();
    expect((after.toolCalls.required_job ?? 0) - (before.toolCalls.required_job ?? 0)).toBe(1);
    // The upstream was polled (its own tasks/get), and none of its ids was shown to the agent.
    const upstreamIds = Object.keys(after.pollTimes);
    expect(upstreamIds.length).toBeGreaterThan(0);
    for (const upstreamId of upstreamIds) expect(seen(answers)).not.toContain(upstreamId);
  });

  it('2025-11-25: a `required` task tool of an SDK 1.x upstream completes via tasks/get + tasks/result', async () => {
    const id = await createTaskOf(gw.url, token, 'tasks25__required_job', {
      ms: 200,
      label: 'old',
    });
    const done = await settle(gw.url, token, id);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(textOf(done)).toBe('done old');
    const count = await rpc(gw.url, token, 'tools/call', { name: 'tasks25__count_calls' });
    expect(textOf({ result: count.result })).toBe('1');
  });

  it('tasks/cancel by the agent reaches the upstream task (tasks/cancel upstream)', async () => {
    // Read before the call: the run may create and poll the upstream task at once.
    const upstreamBefore = Object.keys((await upstream.stats()).pollTimes);
    const id = await createTaskOf(gw.url, token, 'tasks26__never_ends');
    await settle(gw.url, token, id, ['working']);
    // Wait until the upstream task exists (the row has its id): the upstream has been polled.
    await expect
      .poll(async () => Object.keys((await upstream.stats()).pollTimes).length, { timeout: 10_000 })
      .toBeGreaterThan(upstreamBefore.length);
    const cancelled = await rpc(gw.url, token, 'tasks/cancel', { taskId: id });
    expect(cancelled.error).toBeUndefined();
    expect((await getTask(gw.url, token, id)).result?.status).toBe('cancelled');
    await expect
      .poll(async () => (await upstream.stats()).cancels.length, { timeout: 10_000 })
      .toBeGreaterThan(0);
    const stats = await upstream.stats();
    const never = Object.keys(stats.pollTimes).filter((u) => !upstreamBefore.includes(u));
    expect(stats.cancels).toContain(never[0]);
  });

  it('input_required upstream: the row parks with its inputRequests; tasks/update answers go upstream and it completes', async () => {
    // Done 12 s after the answer: past one 10 s turn, so the row is parked and claimed again.
    const id = await createTaskOf(gw.url, token, 'tasks26__ask_name', { ms: 12_000 });
    const parked = await settle(gw.url, token, id, ['input_required']);
    const updatesBefore = (await upstream.stats()).updates.length;
    expect(Object.keys(parked.inputRequests as object)).toEqual(['user_name']);
    const updated = await rpc(gw.url, token, 'tasks/update', {
      taskId: id,
      inputResponses: { user_name: { action: 'accept', content: { name: 'Ada' } } },
    });
    expect(updated.error).toBeUndefined();
    const done = await settle(gw.url, token, id);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(textOf(done)).toBe('Hello, Ada!');
    const stats = await upstream.stats();
    // Sent upstream once: the next turn after the park does not send the answers again.
    expect(stats.updates.slice(updatesBefore)).toEqual([
      { user_name: { action: 'accept', content: { name: 'Ada' } } },
    ]);
  }, 60_000);

  it("a 2025-era agent (SDK 1.x client, params.task): passthrough on both upstream wires, and the 2026 upstream's question asked over tasks/result, answered, sent upstream", async () => {
    const asked: unknown[] = [];
    const client = await connect2025(`${gw.url}/mcp`, token, { elicitation: { form: {} } });
    client.setRequestHandler(ElicitRequestSchema, (request) => {
      asked.push(request.params);
      return { action: 'accept', content: { name: 'Grace' } };
    });
    try {
      const before = await upstream.stats();
      const modern = await createTask2025(client, 'tasks26__required_job', { ms: 200, label: 'a' });
      const legacy = await createTask2025(client, 'tasks25__required_job', { ms: 200, label: 'b' });
      const results = await Promise.all(
        [modern, legacy].map((t) =>
          client.experimental.tasks.getTaskResult(t.taskId as string, CallToolResultSchema),
        ),
      );
      expect(results.map((r) => textOf({ result: r }))).toEqual(['done a', 'done b']);
      expect(
        ((await upstream.stats()).toolCalls.required_job ?? 0) -
          (before.toolCalls.required_job ?? 0),
      ).toBe(1);

      const updatesBefore = (await upstream.stats()).updates.length;
      const ask = await createTask2025(client, 'tasks26__ask_name', { ms: 200 });
      const id = ask.taskId as string;
      const answered = await client.experimental.tasks.getTaskResult(id, CallToolResultSchema);
      expect(textOf({ result: answered })).toBe('Hello, Grace!');
      expect(asked).toEqual([
        expect.objectContaining({
          message: 'Your name?',
          _meta: { 'io.modelcontextprotocol/related-task': { taskId: id } },
        }),
      ]);
      expect((await upstream.stats()).updates.slice(updatesBefore)).toEqual([
        { user_name: { action: 'accept', content: { name: 'Grace' } } },
      ]);
      // The gateway's ids only: no upstream id in anything this client was answered.
      const listed = await client.experimental.tasks.listTasks();
      const shown = JSON.stringify([modern, legacy, ask, results, answered, listed]);
      for (const upstreamId of Object.keys((await upstream.stats()).pollTimes))
        expect(shown).not.toContain(upstreamId);
    } finally {
      await client.close();
    }
  }, 60_000);

  it('30 concurrent passthrough tasks of one agent task all complete, each with its own result', async () => {
    const before = (await upstream.stats()).toolCalls.required_job ?? 0;
    const ids = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        createTaskOf(gw.url, token, 'tasks26__required_job', { ms: 1_000, label: `c${i}` }),
      ),
    );
    expect(new Set(ids).size).toBe(30);
    const done = await Promise.all(ids.map((id) => settle(gw.url, token, id, undefined, 90_000)));
    expect(done.map((d) => d.status)).toEqual(ids.map(() => 'completed'));
    expect(done.map(textOf)).toEqual(ids.map((_, i) => `done c${i}`));
    expect((await upstream.stats()).toolCalls.required_job).toBe(before + 30);
  }, 120_000);

  it('30 long passthrough tasks of one agent task are all created upstream within 30 s, though 10 run at once: a followed row gives its slot back between polls', async () => {
    const before = (await upstream.stats()).toolCalls.never_ends ?? 0;
    const started = Date.now();
    // One at a time, so each is claimed alone and the per-agent-task cap (10 running) applies.
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      ids.push(await createTaskOf(gw.url, token, 'tasks26__never_ends'));
      await new Promise((r) => setTimeout(r, 100));
    }
    // Without parking, the 11th would wait for one of the first 10 to end: never.
    await expect
      .poll(async () => (await upstream.stats()).toolCalls.never_ends, {
        timeout: 30_000,
        interval: 500,
      })
      .toBe(before + 30);
    console.log(`30 upstream tasks created in ${Date.now() - started} ms`);
    const cancelsBefore = (await upstream.stats()).cancels.length;
    for (const id of ids) await rpc(gw.url, token, 'tasks/cancel', { taskId: id });
    for (const id of ids)
      expect((await getTask(gw.url, token, id)).result?.status).toBe('cancelled');
    await expect
      .poll(async () => (await upstream.stats()).cancels.length, { timeout: 10_000 })
      .toBe(cancelsBefore + 30);
  }, 90_000);
});

describe('MCP task passthrough across a restart', () => {
  const gateways = frontedGateways(envOf);
  /** A gateway process behind one public URL (its tokens name it), so B honours A's tokens. */
  const start = async (extra: Record<string, string> = {}) => {
    const gw = await gateways.start(extra);
    await integrationsReady(gateways.at(gw), ['tasks26']);
    return gw;
  };

  it('a SIGKILLed gateway: the next one on the same database resumes polling the upstream task; exactly one upstream tools/call, though the tool is not idempotent', async () => {
    const gwA = await start();
    const a = gateways.at(gwA);
    const { token } = await grantTask(a, ['tasks26:*']);
    const before = (await upstream.stats()).toolCalls.slow_write ?? 0;
    const id = await createTaskOf(a, token, 'tasks26__slow_write', { ms: 8_000, label: 'once' });
    // The upstream task exists and is being followed.
    await expect
      .poll(async () => (await upstream.stats()).polls.slow_write ?? 0, { timeout: 10_000 })
      .toBeGreaterThan(0);
    gwA.child.kill('SIGKILL');
    await gwA.exited;
    const same: Record<string, string> = usingPostgres
      ? { DATABASE_URL: gatewayDatabase(gwA) }
      : { SWITCHBOARD_DATA_DIR: gwA.env.SWITCHBOARD_DATA_DIR as string };
    const b = gateways.at(await start(same));
    // Recovery takes the row back after its 30 s lease (recover runs every 10 s).
    const done = await settle(b, token, id, undefined, 90_000);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(textOf(done)).toBe('done once');
    expect((await upstream.stats()).toolCalls.slow_write).toBe(before + 1);
  }, 180_000);
});
