/**
 * MCP task passthrough (gateway/src/mcp/mcp-task-upstream.ts) against hostile parties: an agent
 * trying the upstream's own task id (it is never the agent's handle), and a hostile upstream
 * (test/fixtures/task-upstreams/upstream-2026.ts) answering a huge or malformed CreateTaskResult,
 * an unknown status, pollIntervalMs 0 and 1e9, or a task that never ends. Real gateway process,
 * real HTTP upstream process. The bound of a never-ending task is shortened to 6 s here
 * (SWITCHBOARD_MCP_TASK_UPSTREAM_MAX_MS; 55 min by default, under the row's 1 h ttl).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayProcess, startGatewayProcess } from '../helpers/gateway-process.ts';
import { getTask, grantTask, MASTER_KEY, rpc, settle } from '../helpers/mcp-tasks.ts';
import {
  createTaskOf,
  integrationsReady,
  passthroughRoot,
  startUpstream2026,
  textOf,
  type Upstream2026,
} from '../helpers/task-upstreams.ts';

const BOUND_MS = 6_000;

describe('MCP task passthrough: hostile agents and upstreams', () => {
  let upstream: Upstream2026;
  let setup: ReturnType<typeof passthroughRoot>;
  let gw: GatewayProcess;
  let token: string;

  beforeAll(async () => {
    upstream = await startUpstream2026();
    setup = passthroughRoot('security', upstream.port);
    gw = await startGatewayProcess({
      INTEGRATION_DIRS: setup.root,
      SWITCHBOARD_POLICY: setup.policy,
      SWITCHBOARD_MASTER_KEY: MASTER_KEY,
      SWITCHBOARD_MCP_TASK_UPSTREAM_MAX_MS: String(BOUND_MS),
    });
    await integrationsReady(gw.url, ['tasks26']);
    token = (await grantTask(gw.url, ['tasks26:*'])).token;
  }, 120_000);
  afterAll(async () => {
    await gw?.cleanup();
    await upstream?.stop();
    setup?.remove();
  });

  /** The upstream ids of the tasks created since `before` (the fixture's own UUIDs). */
  async function newUpstreamIds(before: string[]): Promise<string[]> {
    return Object.keys((await upstream.stats()).pollTimes).filter((id) => !before.includes(id));
  }

  it("the upstream's task id is no handle of the agent's: tasks/get, /update, /cancel with it are unknown, and the upstream task is untouched", async () => {
    const before = Object.keys((await upstream.stats()).pollTimes);
    const id = await createTaskOf(gw.url, token, 'tasks26__never_ends');
    await expect.poll(async () => (await newUpstreamIds(before)).length).toBe(1);
    const [upstreamId] = (await newUpstreamIds(before)) as [string];
    for (const method of ['tasks/get', 'tasks/update', 'tasks/cancel']) {
      const answer = await rpc(gw.url, token, method, { taskId: upstreamId });
      expect([method, answer.error?.code, answer.error?.message]).toEqual([
        method,
        -32602,
        'unknown task',
      ]);
    }
    expect((await upstream.stats()).cancels).not.toContain(upstreamId);
    // Another agent task's token cannot reach the gateway's id either.
    const other = (await grantTask(gw.url, ['tasks26:*'])).token;
    expect((await getTask(gw.url, other, id)).error?.message).toBe('unknown task');
    expect((await rpc(gw.url, other, 'tasks/cancel', { taskId: id })).error?.code).toBe(-32602);
    expect((await getTask(gw.url, token, id)).result?.status).toBe('working');
    await rpc(gw.url, token, 'tasks/cancel', { taskId: id });
    await expect.poll(async () => (await upstream.stats()).cancels).toContain(upstreamId);
  });

  it('a huge CreateTaskResult (200 KB taskId) and a malformed one (no taskId) end the task failed with a clear message', async () => {
    const huge = await settle(
      gw.url,
      token,
      await createTaskOf(gw.url, token, 'tasks26__huge_create'),
    );
    expect(huge.status).toBe('failed');
    expect((huge.error as { message: string }).message).toMatch(
      /CreateTaskResult is over 65536 bytes/,
    );
    expect(JSON.stringify(huge).length).toBeLessThan(4_000);
    const bad = await settle(
      gw.url,
      token,
      await createTaskOf(gw.url, token, 'tasks26__malformed_create'),
    );
    expect(bad.status).toBe('failed');
    expect((bad.error as { message: string }).message).toMatch(
      /CreateTaskResult is malformed: taskId/,
    );
  });

  it('an unknown task status from the upstream fails the task (no crash, no endless poll)', async () => {
    const done = await settle(
      gw.url,
      token,
      await createTaskOf(gw.url, token, 'tasks26__bad_status'),
    );
    expect(done.status).toBe('failed');
    expect((done.error as { message: string }).message).toMatch(/task status is malformed/);
    // The gateway still works.
    const ok = await settle(
      gw.url,
      token,
      await createTaskOf(gw.url, token, 'tasks26__required_job', { label: 'after' }),
    );
    expect(textOf(ok)).toBe('done after');
  });

  it('pollIntervalMs 0 is clamped up to 500 ms: ~5 polls in 2.5 s, not thousands', async () => {
    const before = Object.keys((await upstream.stats()).pollTimes);
    const id = await createTaskOf(gw.url, token, 'tasks26__poll_zero', { ms: 2_500 });
    const done = await settle(gw.url, token, id);
    expect(done.status).toBe('completed');
    const [upstreamId] = (await newUpstreamIds(before)) as [string];
    const times = (await upstream.stats()).pollTimes[upstreamId] as number[];
    expect(times.length).toBeGreaterThanOrEqual(3);
    expect(times.length).toBeLessThanOrEqual(8);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(450);
  });

  it('pollIntervalMs 1e9 is clamped down to 5 s: a task done after 1 s completes within ~6 s', async () => {
    const started = Date.now();
    const id = await createTaskOf(gw.url, token, 'tasks26__poll_huge', { ms: 1_000 });
    const done = await settle(gw.url, token, id, undefined, 15_000);
    expect(done.status).toBe('completed');
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('a task that never ends ends failed at the bound, and is cancelled upstream', async () => {
    const before = Object.keys((await upstream.stats()).pollTimes);
    const started = Date.now();
    const id = await createTaskOf(gw.url, token, 'tasks26__never_ends');
    const done = await settle(gw.url, token, id, undefined, 30_000);
    expect(done.status).toBe('failed');
    expect((done.error as { message: string }).message).toMatch(
      new RegExp(`did not end within ${BOUND_MS} ms`),
    );
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(BOUND_MS - 500);
    expect(took).toBeLessThan(BOUND_MS + 8_000);
    const [upstreamId] = (await newUpstreamIds(before)) as [string];
    await expect.poll(async () => (await upstream.stats()).cancels).toContain(upstreamId);
  });
});
