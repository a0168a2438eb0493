import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertTaskEvent, insertToolUseEvents } from '../../gateway/src/events/store.ts';
import { getOutboxRow } from '../../gateway/src/outbox/entries.ts';
import { createSubscription, deleteSubscription } from '../../gateway/src/outbox/subscriptions.ts';
import { enqueueTask } from '../../gateway/src/tasks/queue.ts';
import { useMigratedDatabase } from '../helpers/database.ts';
import { MASTER_KEY, startReceiver, startWorker } from '../helpers/outbox.ts';

// Event subscriptions (issue 6 req 3): the task-event insert fans out one 'event' outbox row per
// matching active subscription, and the worker POSTs it signed with Standard Webhooks.
describe('event subscriptions', () => {
  const db = useMigratedDatabase();
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(() => receiver.close());
  const eventRows = (taskId: string) =>
    db().sql<{ id: string; target: Record<string, unknown>; payload: Record<string, unknown> }[]>`
      select id::text, target, payload from outbox where task_id = ${taskId} and kind = 'event'
       order by id`;

  it('a task:* subscription gets one signed delivery per task event, verifiable (req 3)', async () => {
    const { sql } = db();
    const actor = { actor: 'test' };
    const { subscription, secret } = await createSubscription(
      sql,
      MASTER_KEY,
      { url: receiver.url('/events'), types: ['task:*'] },
      actor,
    );
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    // Not matching: another prefix; deleted: never fans out.
    await createSubscription(
      sql,
      MASTER_KEY,
      { url: receiver.url('/x'), types: ['dispatch:*'] },
      actor,
    );
    const gone = await createSubscription(
      sql,
      MASTER_KEY,
      { url: receiver.url('/y'), types: ['*'] },
      actor,
    );
    await deleteSubscription(sql, gone.subscription.id, actor);

    const { task, events } = await enqueueTask(sql, { prompt: 'x', profile: 'nobody-runs-it' });
    const rows = await eventRows(task.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.target).toEqual({
      type: 'subscription',
      subscriptionId: subscription.id,
      url: receiver.url('/events'),
    });
    expect(rows[0]!.payload).toMatchObject({
      type: 'task:created',
      seq: events[0]!.seq,
      taskId: task.id,
      data: { profile: 'nobody-runs-it' },
    });

    const worker = await startWorker(sql);
    try {
      await expect
        .poll(async () => (await getOutboxRow(sql, rows[0]!.id)).status, { timeout: 20_000 })
        .toBe('delivered');
    } finally {
      await worker.close();
    }
    const [request] = receiver.requests('/events');
    expect(request!.headers['webhook-id']).toBe(`outbox_${rows[0]!.id}`);
    const verified = new Webhook(secret).verify(request!.body, request!.headers) as {
      type: string;
      taskId: string;
    };
    expect(verified).toMatchObject({ type: 'task:created', taskId: task.id });
    expect(() =>
      new Webhook(`whsec_${Buffer.alloc(24).toString('base64')}`).verify(
        request!.body,
        request!.headers,
      ),
    ).toThrow('No matching signature found');
    expect(receiver.requests('/x')).toEqual([]);
    expect(receiver.requests('/y')).toEqual([]);
  });

  it('fan-out also works for the multi-row insert, with exact and * types (req 3)', async () => {
    const { sql } = db();
    const { task } = await enqueueTask(sql, { prompt: 'y', profile: 'nobody-runs-it' });
    await createSubscription(
      sql,
      MASTER_KEY,
      { url: receiver.url('/done'), types: ['task:done'] },
      { actor: 't' },
    );
    await createSubscription(
      sql,
      MASTER_KEY,
      { url: receiver.url('/all'), types: ['*'] },
      { actor: 't' },
    );
    await insertTaskEvent(sql, { taskId: task.id, type: 'task:done', data: {} });
    await insertTaskEvent(sql, { taskId: task.id, type: 'dispatch:delivered', data: {} });
    const byType = (await eventRows(task.id)).map(
      (r) => `${r.payload.type} → ${new URL(String(r.target.url)).pathname}`,
    );
    // task:created predates the two new subscriptions; the first test's task:* and dispatch:*
    // subscriptions match task:done and dispatch:delivered.
    expect(byType.sort()).toEqual(
      [
        'task:created → /events',
        'task:done → /events',
        'task:done → /done',
        'task:done → /all',
        'dispatch:delivered → /all',
        'dispatch:delivered → /x',
      ].sort(),
    );
  });
  it('a batch of task:tool_use events fans out to the subscriptions that name it (its statement has no hook part)', async () => {
    const { sql } = db();
    const { task } = await enqueueTask(sql, { prompt: 'z', profile: 'nobody-runs-it' });
    await createSubscription(
      sql,
      MASTER_KEY,
      { url: receiver.url('/tools'), types: ['task:tool_use'] },
      { actor: 't' },
    );
    const data = JSON.stringify({ integration: 'fixture', tool: 'echo', ok: true });
    await insertToolUseEvents(sql, [task.id, task.id], [data, data]);
    const byType = (await eventRows(task.id))
      .filter((r) => r.payload.type === 'task:tool_use')
      .map((r) => `${r.payload.type} → ${new URL(String(r.target.url)).pathname}`);
    // The first test's task:*, the previous test's *, and this one's exact type; twice each.
    expect(byType.sort()).toEqual(
      ['/events', '/all', '/tools', '/events', '/all', '/tools']
        .map((path) => `task:tool_use → ${path}`)
        .sort(),
    );
  });
});
