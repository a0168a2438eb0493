import { describe, expect, it } from 'vitest';
import type { Sql } from '../../gateway/src/db/connect.ts';
import { listTaskEvents, type TaskEvent } from '../../gateway/src/events/store.ts';
import { createOrGetSession } from '../../gateway/src/sessions/store.ts';
import {
  cancelTask,
  claimTasks,
  completeTask,
  enqueueTask,
  extendLease,
  failTask,
  getQueueTask,
  recoverExpiredLeases,
} from '../../gateway/src/tasks/queue.ts';
import { useMigratedDatabase } from '../helpers/database.ts';

// Leases, fencing, cancel, idempotency and events of the task queue (issue 5). Expiry is
// simulated as graphile-worker and pg-boss test it: by backdating the lease, then recovering.
let profiles = 0;
const freshProfile = () => `p${++profiles}`;
const claim = (sql: Parameters<typeof claimTasks>[0], profile: string, extra = {}) =>
  claimTasks(sql, { profile, owner: 'test', leaseMs: 60_000, concurrency: 10, ...extra });
const expire = (sql: Sql, id: string) =>
  sql`update tasks set lease_expires_at = now() - interval '1 second' where id = ${id}`;
const types = async (sql: Sql, id: string) =>
  (await listTaskEvents(sql, id, { limit: 100 })).map((e) => e.type);

describe('task queue leases', () => {
  const db = useMigratedDatabase();

  it('recovers an expired lease to pending, then fails it with lease_expired', async () => {
    const { sql } = db();
    const profile = freshProfile();
    const { task } = await enqueueTask(sql, { prompt: 'x', profile, maxAttempts: 2 });
    const [first] = await claim(sql, profile);
    expect(first).toMatchObject({
      id: task.id,
      status: 'running',
      attempts: 1,
      leaseOwner: 'test',
    });

    expect(await recoverExpiredLeases(sql)).toMatchObject({ requeued: [], failed: [] });
    await expire(sql, task.id);
    const once = await recoverExpiredLeases(sql);
    expect(once.requeued.map((t) => [t.id, t.status, t.attempts])).toEqual([
      [task.id, 'pending', 1],
    ]);

    const [second] = await claim(sql, profile);
    expect(second).toMatchObject({ id: task.id, attempts: 2 });
    expect(second!.leaseToken).not.toBe(first!.leaseToken);
    await expire(sql, task.id);
    const twice = await recoverExpiredLeases(sql);
    expect(twice.failed.map((t) => [t.id, t.status, t.reason])).toEqual([
      [task.id, 'failed', 'lease_expired'],
    ]);
    expect(await claim(sql, profile)).toEqual([]);

    const [left] = await sql<{ n: number }[]>`
      select count(*)::int as n from tasks where status = 'running' and lease_expires_at < now()`;
    expect(left!.n).toBe(0);
    expect(await types(sql, task.id)).toEqual([
      'task:created',
      'task:started',
      'task:requeued',
      'task:started',
      'task:failed',
    ]);
    const events = await listTaskEvents(sql, task.id, { limit: 100 });
    expect(events[4]!.data).toMatchObject({ reason: 'lease_expired', attempt: 2, maxAttempts: 2 });
  });

  it('refuses a stale lease token after a re-claim, and accepts the current one', async () => {
    const { sql } = db();
    const profile = freshProfile();
    const { task } = await enqueueTask(sql, { prompt: 'x', profile });
    const [stale] = await claim(sql, profile);
    await expire(sql, task.id);
    await recoverExpiredLeases(sql);
    const [current] = await claim(sql, profile);
    const old = { taskId: task.id, token: stale!.leaseToken };
    const now = { taskId: task.id, token: current!.leaseToken };

    expect(await completeTask(sql, old, { result: 'stale' })).toMatchObject({
      outcome: 'lease_lost',
      task: { status: 'running', attempts: 2 },
    });
    expect(await failTask(sql, old, { reason: 'agent_error' })).toMatchObject({
      outcome: 'lease_lost',
    });
    expect(await extendLease(sql, old, 60_000)).toMatchObject({ outcome: 'lease_lost' });

    const extended = await extendLease(sql, now, 600_000);
    expect(extended.outcome).toBe('ok');
    expect(extended.task.leaseExpiresAt!.getTime()).toBeGreaterThan(
      current!.leaseExpiresAt!.getTime(),
    );
    expect(await completeTask(sql, now, { result: 'fresh' })).toMatchObject({
      outcome: 'ok',
      task: { status: 'complete', result: 'fresh' },
    });
    // Ended: the token that completed it cannot end it again, nor the stale one fail it.
    expect(await failTask(sql, now, { reason: 'timeout' })).toMatchObject({
      outcome: 'lease_lost',
      task: { status: 'complete', result: 'fresh' },
    });
    expect((await getQueueTask(sql, task.id)).result).toBe('fresh');
  });

  it('fails with a reason, and cancels pending and running tasks', async () => {
    const { sql } = db();
    const profile = freshProfile();
    const a = (await enqueueTask(sql, { prompt: 'a', profile })).task;
    const [claimed] = await claim(sql, profile, { limit: 1 });
    const failed = await failTask(
      sql,
      { taskId: a.id, token: claimed!.leaseToken },
      { reason: 'timeout', error: 'no answer in 20m' },
    );
    expect(failed).toMatchObject({ outcome: 'ok', task: { status: 'failed', reason: 'timeout' } });
    await expect(
      failTask(sql, { taskId: a.id, token: 'x' }, { reason: 'timeout' }),
    ).rejects.toMatchObject({
      name: 'ZodError',
      issues: [expect.objectContaining({ path: ['token'], message: 'expected a uuid' })],
    });
    // A well-formed token that is not the lease's: refused without touching the ended task.
    expect(
      await failTask(
        sql,
        { taskId: a.id, token: '00000000-0000-4000-8000-000000000000' },
        { reason: 'agent_error' },
      ),
    ).toMatchObject({ outcome: 'lease_lost', task: { status: 'failed', reason: 'timeout' } });

    const pending = (await enqueueTask(sql, { prompt: 'b', profile })).task;
    expect(await cancelTask(sql, pending.id, { by: 'test' })).toMatchObject({
      outcome: 'cancelled',
      previousStatus: 'pending',
      task: { status: 'cancelled', reason: 'cancelled' },
    });
    const running = (await enqueueTask(sql, { prompt: 'c', profile })).task;
    const [lease] = await claim(sql, profile);
    expect(lease!.id).toBe(running.id);
    expect(await cancelTask(sql, running.id, { by: 'test' })).toMatchObject({
      outcome: 'cancelled',
      previousStatus: 'running',
    });
    expect(
      await completeTask(sql, { taskId: running.id, token: lease!.leaseToken }, { result: 'late' }),
    ).toMatchObject({ outcome: 'lease_lost', task: { status: 'cancelled' } });
    expect(await cancelTask(sql, running.id, { by: 'test' })).toMatchObject({
      outcome: 'already_ended',
    });
    await expect(
      cancelTask(sql, '00000000-0000-4000-8000-000000000000', { by: 't' }),
    ).rejects.toMatchObject({ code: 'not_found' });
    expect(await types(sql, running.id)).toEqual([
      'task:created',
      'task:started',
      'task:cancelled',
    ]);
  });

  it('keeps a profile under its concurrency and a session to one task, in order', async () => {
    const { sql } = db();
    const profile = freshProfile();
    for (let i = 0; i < 5; i++) await enqueueTask(sql, { prompt: `${i}`, profile });
    const two = await claim(sql, profile, { concurrency: 2, limit: 10 });
    expect(two.map((t) => t.prompt)).toEqual(['0', '1']);
    expect(await claim(sql, profile, { concurrency: 2, limit: 10 })).toEqual([]);
    await completeTask(sql, { taskId: two[0]!.id, token: two[0]!.leaseToken }, {});
    expect((await claim(sql, profile, { concurrency: 2, limit: 10 })).map((t) => t.prompt)).toEqual(
      ['2'],
    );

    // One session, two profiles: the later task waits for the earlier whatever its profile.
    const [p, q] = [freshProfile(), freshProfile()];
    const { session } = await createOrGetSession(sql, { key: `order:${p}`, profile: p });
    const first = (await enqueueTask(sql, { prompt: 'first', sessionId: session.id })).task;
    const second = (await enqueueTask(sql, { prompt: 'second', sessionId: session.id, profile: q }))
      .task;
    expect(first.profile).toBe(p);
    expect(await claim(sql, q)).toEqual([]);
    const [head] = await claim(sql, p);
    expect(head!.id).toBe(first.id);
    expect(await claim(sql, q)).toEqual([]);
    await completeTask(sql, { taskId: first.id, token: head!.leaseToken }, {});
    expect((await claim(sql, q)).map((t) => t.id)).toEqual([second.id]);

    // An earlier pending task that is not due yet (a retry later) holds back the later ones.
    const { session: s2 } = await createOrGetSession(sql, { key: `later:${p}`, profile: p });
    const early = (await enqueueTask(sql, { prompt: 'early', sessionId: s2.id })).task;
    await enqueueTask(sql, { prompt: 'late', sessionId: s2.id });
    await sql`update tasks set run_at = now() + interval '1 hour' where id = ${early.id}`;
    expect(await claim(sql, p)).toEqual([]);
  });

  it('takes profile and dispatch from the session, and refuses a task with no profile', async () => {
    const { sql } = db();
    const dispatch = { type: 'github', config: { repo: 'acme/api', pr: 42 } };
    const { session } = await createOrGetSession(sql, {
      key: 'defaults',
      profile: 'reviewer',
      dispatch,
    });
    const { task } = await enqueueTask(sql, { prompt: 'x', sessionId: session.id });
    expect(task).toMatchObject({ profile: 'reviewer', dispatch, sessionId: session.id });
    const bare = (await createOrGetSession(sql, { key: 'bare' })).session;
    await expect(enqueueTask(sql, { prompt: 'x', sessionId: bare.id })).rejects.toMatchObject({
      code: 'bad_request',
    });
    const [rows] = await sql<{ n: number }[]>`
      select count(*)::int as n from tasks where session_id = ${bare.id}`;
    expect(rows!.n).toBe(0);
    await expect(
      enqueueTask(sql, { prompt: 'x', sessionId: '00000000-0000-4000-8000-000000000000' }),
    ).rejects.toMatchObject({ code: 'not_found' });
    await expect(
      enqueueTask(sql, { prompt: 'x', profile: 'p', maxAttempts: 0 }),
    ).rejects.toMatchObject({
      name: 'ZodError',
      issues: [expect.objectContaining({ path: ['maxAttempts'], code: 'too_small' })],
    });
  });

  it('returns one task for one idempotency key, even when enqueued concurrently', async () => {
    const { sql } = db();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        enqueueTask(sql, { prompt: `try ${i}`, profile: 'p', idempotencyKey: 'delivery-42' }),
      ),
    );
    expect(new Set(results.map((r) => r.task.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const id = results[0]!.task.id;
    const [rows] = await sql<{ n: number }[]>`
      select count(*)::int as n from tasks where idempotency_key = 'delivery-42'`;
    expect(rows!.n).toBe(1);
    expect(await types(sql, id)).toEqual(['task:created']);
  });

  it('appends events in order, lists them after a seq, publishes only after commit', async () => {
    const { sql } = db();
    const profile = freshProfile();
    const published: TaskEvent[] = [];
    const visibleAtPublish: boolean[] = [];
    const publish = async (events: readonly TaskEvent[]) => {
      // Another statement on the pool: it sees the rows only if their transaction committed.
      const rows = await listTaskEvents(sql, events[0]!.taskId, { limit: 100 });
      visibleAtPublish.push(events.every((e) => rows.some((r) => r.seq === e.seq)));
      published.push(...events);
    };
    const { task } = await enqueueTask(sql, { prompt: 'x', profile }, publish);
    const [lease] = await claimTasks(
      sql,
      { profile, owner: 'o', leaseMs: 60_000, concurrency: 1 },
      publish,
    );
    await completeTask(
      sql,
      { taskId: task.id, token: lease!.leaseToken },
      { result: 'r' },
      publish,
    );
    expect(published.map((e) => e.type)).toEqual(['task:created', 'task:started', 'task:done']);
    expect(visibleAtPublish).toEqual([true, true, true]);

    const all = await listTaskEvents(sql, task.id, { limit: 100 });
    expect(all.map((e) => e.seq)).toEqual(published.map((e) => e.seq));
    const seqs = all.map((e) => BigInt(e.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => (a < b ? -1 : 1)));
    const after = await listTaskEvents(sql, task.id, { afterSeq: all[0]!.seq, limit: 100 });
    expect(after.map((e) => e.type)).toEqual(['task:started', 'task:done']);
    expect(await listTaskEvents(sql, task.id, { afterSeq: all[2]!.seq, limit: 100 })).toEqual([]);
  });
});
