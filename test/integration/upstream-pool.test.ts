import path from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';
import { type InstanceMode, UpstreamPool } from '../../gateway/src/integrations/upstream/pool.ts';
import { StdioUpstream } from '../../gateway/src/integrations/upstream/stdio.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';
import { alive, waitFor } from '../helpers/processes.ts';

// Manifest `instances: shared | session | task` (issue 3): one upstream for everyone, one per
// session, or one per task — each a real stdio server process here.
const SERVER = path.join(REPO_ROOT, 'test/fixtures/upstreams/stdio-server.ts');
const log = createLogger('silent');

function pool(mode: InstanceMode, options: { idleMs?: number; maxInstances?: number } = {}) {
  return new UpstreamPool(
    {
      integration: 'echo',
      mode,
      ...options,
      create: () =>
        new StdioUpstream(
          {
            integration: 'echo',
            command: process.execPath,
            args: ['--import', 'tsx', SERVER],
            cwd: REPO_ROOT,
            env: { PATH: process.env.PATH ?? '' },
            requestTimeoutMs: 10_000,
          },
          log,
        ),
    },
    log,
  );
}

const pidOf = async (c: Client) => {
  const result = await c.callTool({ name: 'report_env', arguments: {} });
  const text = (result.content as Array<{ text: string }>)[0]!.text;
  return (JSON.parse(text) as { pid: number }).pid;
};

describe('upstream instances', () => {
  let current: UpstreamPool | undefined;
  afterEach(async () => {
    await current?.stop();
    current = undefined;
  });

  it('shared: every session and task reaches the same server', async () => {
    current = pool('shared');
    const a = await current.request(pidOf, { sessionId: 's1', taskId: 't1' });
    const b = await current.request(pidOf, { sessionId: 's2', taskId: 't2' });
    const gateway = await current.request(pidOf);
    expect(new Set([a, b, gateway]).size).toBe(1);
    expect(current.status().instances.map((i) => i.key)).toEqual(['gateway']);
  });

  it('session: one server per session, reused within it; the gateway has its own', async () => {
    current = pool('session');
    const [a1, b1, gw] = await Promise.all([
      current.request(pidOf, { sessionId: 'a', taskId: 't1' }),
      current.request(pidOf, { sessionId: 'b', taskId: 't2' }),
      current.request(pidOf),
    ]);
    const a2 = await current.request(pidOf, { sessionId: 'a', taskId: 't3' });
    expect(a2).toBe(a1);
    expect(new Set([a1, b1, gw]).size).toBe(3);
    expect(
      current
        .status()
        .instances.map((i) => i.key)
        .sort(),
    ).toEqual(['gateway', 'session:a', 'session:b']);
  });

  it('task: one server per task; releasing the task stops its server', async () => {
    current = pool('task');
    const t1 = await current.request(pidOf, { sessionId: 's', taskId: 't1' });
    const t2 = await current.request(pidOf, { sessionId: 's', taskId: 't2' });
    expect(t1).not.toBe(t2);
    await current.release({ sessionId: 's', taskId: 't1' });
    await waitFor(() => !alive(t1));
    expect(alive(t2)).toBe(true);
    // A later call for the released task starts a fresh server.
    const again = await current.request(pidOf, { sessionId: 's', taskId: 't1' });
    expect(again).not.toBe(t1);
  });

  it('closes an instance left idle, and not one with a call in flight', async () => {
    current = pool('session', { idleMs: 300 });
    const idle = await current.request(pidOf, { sessionId: 'idle' });
    const busyPid = current.request(
      async (c) => {
        const pid = await pidOf(c);
        await c.callTool({ name: 'sleep', arguments: { ms: 1_500 } });
        return pid;
      },
      { sessionId: 'busy' },
    );
    await waitFor(() => !alive(idle));
    const keys = current.status().instances.map((i) => i.key);
    expect(keys).toContain('session:busy');
    expect(keys).not.toContain('session:idle');
    expect(alive(await busyPid)).toBe(true);
  });

  it('at the instance limit, evicts the least recently used idle one; all busy → upstream_busy', async () => {
    current = pool('session', { maxInstances: 2 });
    const first = await current.request(pidOf, { sessionId: 'one' });
    await current.request(pidOf, { sessionId: 'two' });
    await current.request(pidOf, { sessionId: 'three' });
    await waitFor(() => !alive(first));
    expect(
      current
        .status()
        .instances.map((i) => i.key)
        .sort(),
    ).toEqual(['session:three', 'session:two']);

    const sleeping = ['two', 'three'].map((sessionId) =>
      current!.request((c) => c.callTool({ name: 'sleep', arguments: { ms: 1_000 } }), {
        sessionId,
      }),
    );
    await expect(current.request(pidOf, { sessionId: 'four' })).rejects.toMatchObject({
      code: 'upstream_busy',
      status: 503,
      message: 'integration echo: all 2 session instances are busy; try again later',
    });
    await Promise.all(sleeping);
  });

  it('session: a task without a session gets its own server, released when the task ends', async () => {
    current = pool('session');
    const [t1, t2, gw] = await Promise.all([
      current.request(pidOf, { taskId: 't1' }),
      current.request(pidOf, { taskId: 't2' }),
      current.request(pidOf),
    ]);
    expect(new Set([t1, t2, gw]).size).toBe(3);
    await current.release({ taskId: 't1' });
    await waitFor(() => !alive(t1));
    expect(
      current
        .status()
        .instances.map((i) => i.key)
        .sort(),
    ).toEqual(['gateway', 'task:t2']);
  });

  it('keeps the instance limit when new instances are asked for while one is being evicted', async () => {
    current = pool('session', { maxInstances: 1 });
    await current.request(pidOf, { sessionId: 'old' });
    // Both find the pool full; the eviction of `old` is awaited (a process stop) meanwhile.
    const asked = await Promise.allSettled(
      ['b', 'c'].map((sessionId) =>
        current!.request(
          async (c) => {
            await c.callTool({ name: 'sleep', arguments: { ms: 500 } });
            return current!.status().instances.filter((i) => i.key !== 'gateway').length;
          },
          { sessionId },
        ),
      ),
    );
    for (const outcome of asked) {
      if (outcome.status === 'fulfilled') expect(outcome.value).toBe(1);
      else expect(outcome.reason).toMatchObject({ code: 'upstream_busy' });
    }
    expect(asked.filter((o) => o.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
  });

  it('refuses requests once stopped, naming the integration', async () => {
    const stopped = pool('session');
    await stopped.stop();
    await expect(stopped.request(pidOf, { sessionId: 'a' })).rejects.toMatchObject({
      code: 'upstream_unavailable',
      message: 'integration echo: the integration is stopped',
    });
  });
});
