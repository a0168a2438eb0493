import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  claimOutboxRows,
  getOutboxRow,
  recoverOutboxLeases,
  redriveOutboxRow,
  settleAttempt,
} from '../../gateway/src/outbox/entries.ts';
import { claimTasks, completeTask, enqueueTask } from '../../gateway/src/tasks/queue.ts';
import { useMigratedDatabase } from '../helpers/database.ts';
import { startReceiver, startWorker } from '../helpers/outbox.ts';

// The outbox worker (issue 6) against a real database and a local HTTP receiver: retries with
// backoff, dead letters and redrive, final 4xx, Retry-After, and lease fencing.
let n = 0;
const poll = { timeout: 20_000, interval: 20 };

describe('outbox worker', () => {
  const db = useMigratedDatabase();
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(() => receiver.close());

  /** A completed task with a webhook dispatch to `path`; answers its outbox row id. */
  const completedTask = async (path: string, maxAttempts?: number, secret?: string) => {
    const { sql } = db();
    const profile = `p${++n}`;
    await enqueueTask(sql, {
      prompt: 'x',
      profile,
      dispatch: {
        type: 'webhook',
        config: { url: receiver.url(path), ...(secret !== undefined && { secret }) },
      },
    });
    const [task] = await claimTasks(sql, { profile, owner: 't', leaseMs: 60_000, concurrency: 1 });
    await completeTask(sql, { taskId: task!.id, token: task!.leaseToken }, { result: 'done' });
    const [row] = await sql<{ id: string }[]>`
      select id::text from outbox where task_id = ${task!.id} and kind = 'dispatch'`;
    if (maxAttempts)
      await sql`update outbox set max_attempts = ${maxAttempts} where id = ${row!.id}`;
    return { id: row!.id, taskId: task!.id };
  };
  const settled = async (id: string) => {
    await expect
      .poll(async () => (await getOutboxRow(db().sql, id)).status, poll)
      .toMatch(/^(delivered|dead)$/);
    return getOutboxRow(db().sql, id);
  };
  const eventTypes = async (taskId: string) =>
    (
      await db().sql<{ type: string }[]>`
        select type from task_events where task_id = ${taskId} and type like 'dispatch:%' order by seq`
    ).map((e) => e.type);

  it('retries: 500 three times, then 200 → delivered once, 4 attempts logged, 4 POSTs (req 2)', async () => {
    receiver.plan('/a', [{ status: 500 }, { status: 500 }, { status: 500 }, { status: 200 }]);
    const { id, taskId } = await completedTask('/a');
    const worker = await startWorker(db().sql);
    try {
      const row = await settled(id);
      expect(row).toMatchObject({ status: 'delivered', attempts: 4, lastError: null });
      expect(row.attemptLog.map((e) => [e.attempt, e.status])).toEqual([
        [1, 500],
        [2, 500],
        [3, 500],
        [4, 200],
      ]);
      expect(row.attemptLog[0]!.error).toBe('HTTP 500: answer 500');
      expect(receiver.requests('/a')).toHaveLength(4);
      const body = JSON.parse(receiver.requests('/a')[3]!.body);
      expect(body.task).toEqual({ id: taskId, status: 'complete', result: 'done' });
      expect(await eventTypes(taskId)).toEqual([
        'dispatch:retry',
        'dispatch:retry',
        'dispatch:retry',
        'dispatch:delivered',
      ]);
    } finally {
      await worker.close();
    }
  });

  it('dead letters after max_attempts, and redrive delivers it (req 2, 4)', async () => {
    receiver.plan('/b', [{ status: 503 }]);
    const { id, taskId } = await completedTask('/b', 3);
    const worker = await startWorker(db().sql);
    try {
      const dead = await settled(id);
      expect(dead).toMatchObject({
        status: 'dead',
        attempts: 3,
        lastError: 'HTTP 503: answer 503',
      });
      expect(dead.deadAt).toBeInstanceOf(Date);
      expect(receiver.requests('/b')).toHaveLength(3);
      expect((await eventTypes(taskId)).at(-1)).toBe('dispatch:dead');

      receiver.plan('/b', [{ status: 204 }]);
      const redriven = await redriveOutboxRow(db().sql, id, { actor: 'test' });
      expect(redriven).toMatchObject({ status: 'pending', attempts: 0 });
      worker.wake();
      expect(await settled(id)).toMatchObject({ status: 'delivered', attempts: 1 });
      expect(receiver.requests('/b')).toHaveLength(4);
      await expect(redriveOutboxRow(db().sql, id, { actor: 'test' })).rejects.toMatchObject({
        code: 'outbox_not_dead',
        status: 409,
      });
    } finally {
      await worker.close();
    }
  });

  it('a signing secret the signer cannot decode is dead at once, naming config.secret (not retried ~16 h)', async () => {
    // Regression: "plain-text-secret" failed every attempt with the base64 decoder's message.
    const bad = await completedTask('/badsecret', undefined, 'plain-text-secret');
    const worker = await startWorker(db().sql);
    try {
      const row = await settled(bad.id);
      expect(row).toMatchObject({ status: 'dead', attempts: 1 });
      expect(row.lastError).toMatch(
        /^webhook dispatch: config\.secret: expected a Standard Webhooks secret: whsec_/,
      );
      expect(receiver.requests('/badsecret')).toHaveLength(0);
    } finally {
      await worker.close();
    }
  });

  it('a 400 is final at once; a 429 waits at least its Retry-After (req 2)', async () => {
    receiver.plan('/c400', [{ status: 400 }]);
    receiver.plan('/c429', [{ status: 429, headers: { 'retry-after': '3600' } }]);
    const final = await completedTask('/c400');
    const throttled = await completedTask('/c429');
    const worker = await startWorker(db().sql);
    try {
      expect(await settled(final.id)).toMatchObject({ status: 'dead', attempts: 1 });
      await expect
        .poll(async () => (await getOutboxRow(db().sql, throttled.id)).attempts, poll)
        .toBe(1);
      await expect
        .poll(async () => (await getOutboxRow(db().sql, throttled.id)).status, poll)
        .toBe('pending');
      const [wait] = await db().sql<{ seconds: number }[]>`
        select extract(epoch from next_attempt_at - (attempt_log->0->>'at')::timestamptz)::float8
               as seconds
          from outbox where id = ${throttled.id}`;
      expect(wait!.seconds).toBeGreaterThanOrEqual(3600);
      expect(receiver.requests('/c429')).toHaveLength(1);
    } finally {
      await worker.close();
    }
  });

  it('a lost lease cannot settle: expired, recovered and re-claimed (req 2, ARCHITECTURE §6)', async () => {
    const { sql } = db();
    const { id } = await completedTask('/e');
    const [first] = await claimOutboxRows(sql, { leaseMs: 60_000, limit: 10 });
    expect(first).toMatchObject({ id, status: 'processing', attempts: 1 });
    // A second claimer finds nothing: the row is leased.
    expect(await claimOutboxRows(sql, { leaseMs: 60_000, limit: 10 })).toEqual([]);
    await sql`update outbox set lease_expires_at = now() - interval '1 second' where id = ${id}`;
    const recovered = await recoverOutboxLeases(sql);
    expect(recovered.map((r) => [r.id, r.status])).toEqual([[id, 'pending']]);
    const [second] = await claimOutboxRows(sql, { leaseMs: 60_000, limit: 10 });
    expect(second).toMatchObject({ id, attempts: 2 });
    const ok = { delivered: true, retryable: false, delayMs: 0, httpStatus: 200, error: null };
    const stale = await settleAttempt(sql, { id, token: first!.leaseToken }, ok);
    expect(stale).toEqual({ outcome: 'lease_lost' });
    expect((await getOutboxRow(sql, id)).status).toBe('processing');
    const current = await settleAttempt(sql, { id, token: second!.leaseToken }, ok);
    expect(current).toMatchObject({ outcome: 'ok', row: { status: 'delivered', attempts: 2 } });
    const log = (await getOutboxRow(sql, id)).attemptLog;
    expect(log.map((e) => [e.attempt, e.error ?? null, e.status ?? null])).toEqual([
      [1, 'the delivery lease expired', null],
      [2, null, 200],
    ]);
  });
});
