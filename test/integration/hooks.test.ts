/**
 * Lifecycle hooks (issue 18, manifest `events:`): a webhook → a task in the integration's own
 * session → its hidden hook tool receives task:started and the task's end through the outbox
 * (at least once, ordered by seq), with the documented payload; a hook that fails is retried
 * by the outbox and then delivered; 30 tasks across 5 sessions are all delivered.
 */
import { describe, expect, it } from 'vitest';
import { callsOfTask, useHooksGateway } from '../helpers/hooks.ts';

const ENDS = ['task:done', 'task:failed'];

describe('lifecycle hooks', () => {
  const { gw, calls, post } = useHooksGateway();

  const tasksOf = (deliveryId: string) =>
    gw().sql<{ id: string; status: string; key: string; sessionId: string }[]>`
      select t.id::text, t.status, s.key, s.id::text as "sessionId"
        from tasks t join sessions s on s.id = t.session_id
       where t.delivery_id = ${deliveryId} order by t.seq`;

  const ended = async (deliveryId: string, count: number) => {
    await expect
      .poll(
        async () =>
          (await tasksOf(deliveryId)).filter((t) => ['complete', 'failed'].includes(t.status))
            .length,
        { timeout: 30_000 },
      )
      .toBe(count);
    return tasksOf(deliveryId);
  };

  it('the registry writes the hooks of ready integrations only (gamma is refused)', async () => {
    await expect
      .poll(
        async () =>
          gw()
            .sql`select integration, tool, types, all_sessions from event_hooks order by integration`,
      )
      .toEqual([
        {
          integration: 'alpha',
          tool: 'on_task_event',
          types: ['task:started', 'task:done', 'task:failed', 'task:cancelled'],
          all_sessions: false,
        },
        {
          integration: 'beta',
          tool: 'on_task_event',
          types: [
            'task:started',
            'task:running',
            'task:requeued',
            'task:done',
            'task:failed',
            'task:cancelled',
            'task:complete',
          ],
          all_sessions: false,
        },
        {
          integration: 'delta',
          tool: 'on_task_event',
          types: ['task:started'],
          all_sessions: true,
        },
      ]);
    expect(gw().registry.get('gamma')?.state).toBe('refused');
  });

  it('webhook → task in its own session → the hook gets task:started then the end, by seq', async () => {
    const id = await post('alpha', [{ session: { key: 'alpha:thread-1' }, message: 'hello' }]);
    const [task] = await ended(id, 1);
    await expect
      .poll(() => callsOfTask(calls('alpha'), task!.id).map((c) => c.event.type), {
        timeout: 20_000,
      })
      .toHaveLength(2);
    const got = callsOfTask(calls('alpha'), task!.id);
    expect(got[0]!.event.type).toBe('task:started');
    expect(ENDS).toContain(got[1]!.event.type);
    expect(got[1]!.event.type).toBe(task!.status === 'complete' ? 'task:done' : 'task:failed');
    // The payload (sdk taskEventHookInputSchema): event, session, integration; data as written.
    const [stored] = await gw().sql<{ seq: string; data: unknown; createdAt: Date }[]>`
      select seq::text, data, created_at as "createdAt" from task_events
       where task_id = ${task!.id} and type = 'task:started'`;
    expect(got[0]).toEqual({
      event: {
        type: 'task:started',
        seq: stored!.seq,
        taskId: task!.id,
        createdAt: expect.any(String),
        data: stored!.data,
      },
      session: { id: task!.sessionId, key: 'alpha:thread-1' },
      integration: 'alpha',
    });
    expect(new Date(got[0]!.event.createdAt).getTime()).toBe(stored!.createdAt.getTime());
    // One outbox row per event, kind event, target the hook, delivered on the first attempt.
    // Polled: the tool records the call before the outbox commits the row as delivered.
    const rows = () => gw().sql<{ target: unknown; status: string; attempts: number }[]>`
      select target, status, attempts from outbox
       where task_id = ${task!.id} and kind = 'event' and target->>'integration' = 'alpha'
       order by id`;
    await expect.poll(rows, { timeout: 20_000 }).toEqual([
      {
        target: { type: 'hook', integration: 'alpha', tool: 'on_task_event', sessions: 'own' },
        status: 'delivered',
        attempts: 1,
      },
      {
        target: { type: 'hook', integration: 'alpha', tool: 'on_task_event', sessions: 'own' },
        status: 'delivered',
        attempts: 1,
      },
    ]);
  }, 60_000);

  it('a hook that fails is retried with the outbox backoff, then delivered', async () => {
    const id = await post('alpha', [{ session: { key: 'alpha:flaky' }, message: 'hello' }]);
    const [task] = await ended(id, 1);
    // The fixture fails each event of a "flaky" session once; the first retry is ~5 s later.
    await expect
      .poll(() => callsOfTask(calls('alpha'), task!.id).length, { timeout: 30_000 })
      .toBe(2);
    const hookRows = () => gw().sql<
      { status: string; attempts: number; log: { error?: string }[] }[]
    >`
      select status, attempts, attempt_log as log from outbox
       where task_id = ${task!.id} and target->>'type' = 'hook' and target->>'integration' = 'alpha'
       order by id`;
    // The tool records the call before it answers; the outbox marks the row delivered after the
    // answer, in its own transaction: poll (it failed once in CI reading between the two).
    await expect
      .poll(async () => (await hookRows()).map((r) => [r.status, r.attempts]), {
        timeout: 20_000,
      })
      .toEqual([
        ['delivered', 2],
        ['delivered', 2],
      ]);
    const rows = await hookRows();
    expect(rows[0]!.log[0]!.error).toMatch(
      /alpha:on_task_event answered an error: failing on purpose once/,
    );
  }, 60_000);

  it('30 tasks across 5 sessions: every start and end is delivered', async () => {
    const triggers = Array.from({ length: 30 }, (_, n) => ({
      session: { key: `alpha:busy-${n % 5}` },
      message: `message ${n + 1}`,
    }));
    const id = await post('alpha', triggers);
    const tasks = await ended(id, 30);
    expect(new Set(tasks.map((t) => t.key)).size).toBe(5);
    await expect
      .poll(
        () => {
          const all = calls('alpha');
          return tasks.filter((t) => callsOfTask(all, t.id).length === 2).length;
        },
        { timeout: 30_000 },
      )
      .toBe(30);
    const all = calls('alpha');
    for (const t of tasks) {
      const got = callsOfTask(all, t.id);
      expect(got.map((c) => c.event.type)).toEqual([
        'task:started',
        t.status === 'complete' ? 'task:done' : 'task:failed',
      ]);
      expect(got[0]!.session.key).toBe(t.key);
    }
  }, 90_000);
});
