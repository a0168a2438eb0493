import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cancelTask, enqueueTask, getQueueTask } from '../../gateway/src/tasks/queue.ts';
import { writeAgentPolicy } from '../fixtures/agents/policy.ts';
import { REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { alive, waitFor } from '../helpers/processes.ts';
import { taskEnded } from '../helpers/tasks.ts';

// The task worker in a real gateway (this process) on a real database: enqueue → claim → the
// scripted agent (test/fixtures/agents/scripted.mjs, process driver) → tools through /mcp and
// /mcp/switchboard → the task ends; timeout, cancel and a profile's concurrency.
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-worker-test-'));
const out = (name: string) => path.join(tmp, name);
const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;

describe('the task worker', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: writeAgentPolicy(),
  });

  const types = async (taskId: string) =>
    (
      await gw().sql<{ type: string; data: Record<string, unknown> }[]>`
        select type, data from task_events where task_id = ${taskId} order by seq`
    ).map((e) => e.type);

  const ended = (taskId: string) => taskEnded(gw().sql, taskId);

  it('runs the agent end to end: a tool through /mcp, progress, task_complete; the token dies with the task', async () => {
    const file = out('e2e.json');
    const { task } = await enqueueTask(gw().sql, {
      profile: 'agent',
      prompt: JSON.stringify({
        mode: 'complete',
        tool: 'echo__shout',
        arguments: { chars: 3 },
        out: file,
      }),
    });
    const done = await ended(task.id);
    expect(done).toMatchObject({ status: 'complete', result: 'tool said done', reason: null });
    const seen = await types(task.id);
    const milestones = [
      'task:created',
      'task:started',
      'task:tool_use',
      'task:progress',
      'task:done',
    ];
    expect(seen.filter((t) => milestones.includes(t))).toEqual(milestones);
    expect(seen).toContain('task:token'); // the agent's stdout line
    const [progress] = await gw().sql<{ data: Record<string, unknown> }[]>`
      select data from task_events where task_id = ${task.id} and type = 'task:progress'`;
    expect(progress!.data).toEqual({ message: 'halfway', progress: 1, total: 2 });

    const { token, mcpUrl } = readJson<{ token: string; mcpUrl: string }>(file);
    const after = await fetch(mcpUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(after.status).toBe(401);
    expect(await after.json()).toMatchObject({
      error: { code: 'invalid_token', message: 'the token has been revoked' },
    });
    const live = await gw()
      .sql`select 1 from tokens where task_id = ${task.id} and revoked_at is null`;
    expect(live).toHaveLength(0);
  });

  it('a timeout kills the agent and its child; the task fails with reason timeout', async () => {
    const file = out('hang.json');
    const { task } = await enqueueTask(gw().sql, {
      profile: 'slow',
      prompt: JSON.stringify({ mode: 'hang', out: file }),
    });
    await waitFor(() => fs.existsSync(file), 30_000);
    const { pid, childPid } = readJson<{ pid: number; childPid: number }>(file);
    const done = await ended(task.id);
    expect(done).toMatchObject({ status: 'failed', reason: 'timeout' });
    await waitFor(() => !alive(pid) && !alive(childPid), 10_000);
  });

  it('cancelling a running task stops its agent; the task stays cancelled', async () => {
    const file = out('sleep.json');
    const { task } = await enqueueTask(gw().sql, {
      profile: 'agent',
      prompt: JSON.stringify({ mode: 'sleep', out: file }),
    });
    await waitFor(() => fs.existsSync(file), 30_000);
    const { pid } = readJson<{ pid: number }>(file);
    const cancelled = await cancelTask(gw().sql, task.id, { by: 'test' }, gw().publishTaskEvents);
    expect(cancelled).toMatchObject({ outcome: 'cancelled', previousStatus: 'running' });
    await waitFor(() => !alive(pid), 15_000);
    expect(await getQueueTask(gw().sql, task.id)).toMatchObject({ status: 'cancelled' });
    // Ended means ended: the worker wrote no outcome over the cancel.
    const seen = await types(task.id);
    expect(seen.filter((t) => ['task:done', 'task:failed', 'task:cancelled'].includes(t))).toEqual([
      'task:cancelled',
    ]);
  });

  it('never runs more than a profile’s concurrency at once (8 tasks, concurrency 2)', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i += 1) {
      const { task } = await enqueueTask(gw().sql, {
        profile: 'pair',
        prompt: JSON.stringify({ mode: 'quick', ms: 150 }),
      });
      ids.push(task.id);
    }
    for (const id of ids)
      expect(await ended(id)).toMatchObject({ status: 'complete', result: 'quick' });
    const events = await gw().sql<{ type: string }[]>`
      select type from task_events
       where task_id = any(${ids}::uuid[]) and type in ('task:started', 'task:done', 'task:failed')
       order by seq`;
    let running = 0;
    let most = 0;
    for (const e of events) {
      running += e.type === 'task:started' ? 1 : -1;
      most = Math.max(most, running);
    }
    expect(events.filter((e) => e.type === 'task:started')).toHaveLength(8);
    expect(most).toBeLessThanOrEqual(2);
    expect(most).toBeGreaterThanOrEqual(1);
  });

  const endings = (taskId: string) =>
    gw().sql<{ type: string; data: Record<string, unknown> }[]>`
      select type, data from task_events
       where task_id = ${taskId}
         and type in ('task:started', 'task:requeued', 'task:done', 'task:failed')
       order by seq`;

  it('a profile with retry: runs a failed agent again after its backoff; the second run completes', async () => {
    const file = out('flaky-once.log');
    const { task } = await enqueueTask(gw().sql, {
      profile: 'retrying',
      prompt: JSON.stringify({ mode: 'flaky', fails: 1, out: file }),
    });
    const done = await ended(task.id);
    expect(done).toMatchObject({
      status: 'complete',
      result: 'ran 2 times',
      attempts: 2,
      reason: null,
      error: null,
    });
    expect(fs.readFileSync(file, 'utf8')).toBe('run\nrun\n');
    const events = await endings(task.id);
    expect(events.map((e) => e.type)).toEqual([
      'task:started',
      'task:requeued',
      'task:started',
      'task:done',
    ]);
    const requeued = events[1]!.data;
    expect(requeued).toMatchObject({
      reason: 'agent_exit',
      error: 'the agent exited with code 2',
      attempt: 1,
    });
    // backoff: [1s], ±20 % jitter.
    expect(requeued.retryInMs).toBeGreaterThanOrEqual(800);
    expect(requeued.retryInMs).toBeLessThanOrEqual(1_200);
    // The failed run's tokens died with it; the second run got its own.
    const tokens = await gw().sql<{ revoked: boolean }[]>`
      select revoked_at is not null as revoked from tokens where task_id = ${task.id}`;
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    expect(tokens.every((t) => t.revoked)).toBe(true);
  });

  it('a failed run is final without retry, and after the last of retry.attempts', async () => {
    const once = await enqueueTask(gw().sql, {
      profile: 'agent',
      prompt: JSON.stringify({ mode: 'flaky', fails: 1, out: out('flaky-final.log') }),
    });
    expect(await ended(once.task.id)).toMatchObject({
      status: 'failed',
      reason: 'agent_exit',
      attempts: 1,
    });
    expect((await endings(once.task.id)).map((e) => e.type)).toEqual([
      'task:started',
      'task:failed',
    ]);

    const always = await enqueueTask(gw().sql, {
      profile: 'retrying',
      prompt: JSON.stringify({ mode: 'flaky', fails: 10, out: out('flaky-always.log') }),
    });
    expect(await ended(always.task.id)).toMatchObject({
      status: 'failed',
      reason: 'agent_exit',
      error: 'the agent exited with code 2',
      attempts: 3,
    });
    expect((await endings(always.task.id)).map((e) => e.type)).toEqual([
      'task:started',
      'task:requeued',
      'task:started',
      'task:requeued',
      'task:started',
      'task:failed',
    ]);
  });
});
