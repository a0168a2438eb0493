import { parsePolicy } from '@switchboard/policy';
import { describe, expect, it } from 'vitest';
import { getOutboxRow } from '../../gateway/src/outbox/entries.ts';
import { deliverInternal, MAX_INTERNAL_DEPTH } from '../../gateway/src/outbox/internal.ts';
import { createOrGetSession, findSessionByKey } from '../../gateway/src/sessions/store.ts';
import { insertExternalTask } from '../../gateway/src/tasks/create.ts';
import { finishTask } from '../../gateway/src/tasks/external.ts';
import {
  cancelTask,
  claimTasks,
  completeTask,
  enqueueTask,
  failTask,
  recoverExpiredLeases,
} from '../../gateway/src/tasks/queue.ts';
import type { TokenService } from '../../gateway/src/tokens/service.ts';
import { useMigratedDatabase } from '../helpers/database.ts';
import { startWorker } from '../helpers/outbox.ts';

// Which task ends write a dispatch row, in the ending transaction (issue 6 req 1), and the
// built-in internal dispatcher (req 2): a message and at most one task in the other session.
let n = 0;
const hook = { type: 'webhook', config: { url: 'http://127.0.0.1:9/unused' } };

describe('dispatch rows and the internal dispatcher', () => {
  const db = useMigratedDatabase();
  const rowsOf = (taskId: string) =>
    db().sql<{ id: string; target: Record<string, unknown>; payload: Record<string, unknown> }[]>`
      select id::text, target, payload from outbox where task_id = ${taskId} and kind = 'dispatch'`;
  const running = async (dispatch: Record<string, unknown> | undefined, session?: string) => {
    const profile = `p${++n}`;
    const { sql } = db();
    const sessionId = session
      ? (await createOrGetSession(sql, { key: session, profile })).session.id
      : undefined;
    await enqueueTask(sql, {
      prompt: 'x',
      profile,
      maxAttempts: 1,
      ...(sessionId ? { sessionId } : {}),
      ...(dispatch ? { dispatch: dispatch as never } : {}),
    });
    const [t] = await claimTasks(sql, { profile, owner: 't', leaseMs: 60_000, concurrency: 1 });
    return { id: t!.id, lease: { taskId: t!.id, token: t!.leaseToken } };
  };

  it('a failed task is dispatched with its error text; session and target recorded (req 1)', async () => {
    const t = await running(hook, 'd:failed');
    await failTask(db().sql, t.lease, { reason: 'agent_error', error: 'the agent crashed' });
    const [row] = await rowsOf(t.id);
    expect(row!.payload).toEqual({
      task: { id: t.id, status: 'failed', error: 'the agent crashed' },
    });
    expect(row!.target).toMatchObject({ type: 'webhook', sessionKey: 'd:failed' });
  });

  it('a lease that expires for the last time dispatches the failure (req 1)', async () => {
    const t = await running(hook);
    await db()
      .sql`update tasks set lease_expires_at = now() - interval '1 second' where id = ${t.id}`;
    await recoverExpiredLeases(db().sql);
    const [row] = await rowsOf(t.id);
    expect((row!.payload.task as { error: string }).error).toMatch(/lease expired 1 times/);
  });

  it('a cancelled task, a task without dispatch and dispatch "none" write no row (req 1)', async () => {
    const cancelled = await running(hook);
    await cancelTask(db().sql, cancelled.id, { by: 'test' });
    const bare = await running(undefined);
    await completeTask(db().sql, bare.lease, { result: 'r' });
    const none = await running({ type: 'none', config: {} });
    await completeTask(db().sql, none.lease, { result: 'r' });
    for (const t of [cancelled, bare, none]) expect(await rowsOf(t.id)).toEqual([]);
  });

  it('an external task completed by the operator is dispatched, a cancelled one not (req 1)', async () => {
    const { sql } = db();
    const tokens = { revoked: async () => {} } as unknown as TokenService;
    const ids: string[] = [];
    // The ending event is published after the commit: it is what wakes the outbox worker.
    const published: string[] = [];
    const publish = async (events: readonly { taskId: string; type: string }[]) => {
      for (const e of events) published.push(`${e.taskId} ${e.type}`);
    };
    for (const status of ['complete', 'cancelled'] as const) {
      const task = await insertExternalTask(sql, { scope: ['x:*'], prompt: '', sessionId: null });
      await sql`update tasks set dispatch = ${sql.json(hook)} where id = ${task.id}`;
      await finishTask(
        { sql, tokens, publish },
        task.id,
        { status, result: 'ok' },
        { actor: 'test' },
      );
      ids.push(task.id);
    }
    expect(published).toEqual([`${ids[0]} task:complete`, `${ids[1]} task:cancelled`]);
    expect((await rowsOf(ids[0]!))[0]!.payload).toEqual({
      task: { id: ids[0], status: 'complete', result: 'ok' },
    });
    expect(await rowsOf(ids[1]!)).toEqual([]);
  });

  it('internal: posts the result into the other session and runs it once, even delivered twice (req 2)', async () => {
    const { sql } = db();
    const profile = `p${++n}`;
    const internal = { type: 'internal', config: { session: 'ops:inbox', run: true, profile } };
    const t = await running(internal, 'd:source');
    await completeTask(sql, t.lease, { result: 'summary of the PR' });
    const [row] = await rowsOf(t.id);
    const worker = await startWorker(sql);
    try {
      await expect
        .poll(async () => (await getOutboxRow(sql, row!.id)).status, { timeout: 20_000 })
        .toBe('delivered');
    } finally {
      await worker.close();
    }
    // The delivery is replayed (as after a lost lease): same message, same task.
    const task = (row!.payload as { task: { id: string; status: 'complete' } }).task;
    const again = await deliverInternal(
      { sql },
      { id: row!.id, taskId: t.id },
      { config: internal.config, sessionKey: 'd:source' },
      task,
    );
    const target = await findSessionByKey(sql, 'ops:inbox');
    const messages = await sql<{ id: string; role: string; content: string }[]>`
      select id::text, role, content from messages where session_id = ${target!.id}`;
    expect(messages).toEqual([
      { id: again.messageId, role: 'system', content: 'summary of the PR' },
    ]);
    const tasks = await sql<{ id: string; idempotency_key: string; profile: string }[]>`
      select id::text, idempotency_key, profile from tasks where session_id = ${target!.id}`;
    expect(tasks).toEqual([{ id: again.taskId, idempotency_key: `outbox:${row!.id}`, profile }]);
  });

  it('internal: a chain of internal dispatches that start tasks stops at MAX_INTERNAL_DEPTH (a loop between sessions)', async () => {
    const { sql } = db();
    const profile = `p${++n}`;
    // Two sessions whose results go to each other, each starting a task there.
    const config = (to: string) => ({ session: to, run: true, profile });
    let from = { key: 'loop:a', to: 'loop:b' };
    const first = await running(undefined, from.key);
    let taskId = first.id;
    let outboxId = 1_000_000;
    for (let hop = 1; hop <= MAX_INTERNAL_DEPTH; hop++) {
      const result = await deliverInternal(
        { sql },
        { id: String(outboxId++), taskId },
        { config: config(from.to), sessionKey: from.key },
        { id: taskId, status: 'complete', result: `hop ${hop}` },
      );
      taskId = result.taskId!;
      from = { key: from.to, to: from.key };
    }
    await expect(
      deliverInternal(
        { sql },
        { id: String(outboxId), taskId },
        { config: config(from.to), sessionKey: from.key },
        { id: taskId, status: 'complete', result: 'one hop too many' },
      ),
    ).rejects.toMatchObject({ code: 'dispatch_loop' });
  });
  it('internal: a task it would start must name a profile of the policy, else dead-lettered, no task made (issue 14)', async () => {
    const { sql } = db();
    const parsed = parsePolicy(
      'apiVersion: switchboard/policy/v1\nprofiles:\n  known: { runner: { driver: process, command: node }, tools: [] }\n',
      'policy.yaml',
    );
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const policy = parsed.policy;
    const source = await running(undefined, 'd:profile-source');
    // Named in the config, or the target session's own: neither exists in the policy.
    await createOrGetSession(sql, { key: 'ops:stale-profile', profile: 'gone' });
    const cases = [
      { session: `ops:unknown-${++n}`, run: true, profile: 'admin' },
      { session: 'ops:stale-profile', run: true },
    ];
    for (const [i, config] of cases.entries()) {
      await expect(
        deliverInternal(
          { sql, policy },
          { id: String(2_000_000 + i), taskId: source.id },
          { config, sessionKey: 'd:profile-source' },
          { id: source.id, status: 'complete', result: 'x' },
        ),
      ).rejects.toMatchObject({ code: 'dispatch_config_invalid', retryable: false });
    }
    const [made] = await sql<{ n: number }[]>`
      select count(*)::int as n from tasks where idempotency_key in ('outbox:2000000', 'outbox:2000001')`;
    expect(made!.n).toBe(0);
    // A profile the policy has still starts its task.
    const ok = await deliverInternal(
      { sql, policy },
      { id: '2000002', taskId: source.id },
      { config: { session: `ops:known-${++n}`, run: true, profile: 'known' }, sessionKey: null },
      { id: source.id, status: 'complete', result: 'x' },
    );
    expect(ok.taskId).not.toBeNull();
  });
});
