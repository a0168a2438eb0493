/**
 * Human approval of tool calls (issue 15; gateway/src/guards/approvals.ts, approvals/): the
 * guard of two replicas on one database (two wakers on one bus: LISTEN/NOTIFY on PostgreSQL),
 * real task rows, real decisions. What a hostile model or a lost gateway could try: a decision
 * stretched to other arguments, one approval used by two calls, a late approval, a restart
 * taken for an approval. Bounds and announcements: approvals-bounds.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { decideApproval } from '../../gateway/src/approvals/requests.ts';
import { findApproval } from '../../gateway/src/approvals/store.ts';
import type { Refusal } from '../../gateway/src/guards/guard.ts';
import { OPERATOR, useApprovalReplicas } from '../helpers/approval-replicas.ts';

describe('approvals: the guard on two replicas', () => {
  const {
    database,
    replicas: pair,
    replica,
    newTask,
    call,
    pendingOf,
    events,
  } = useApprovalReplicas();
  let replicas: ReturnType<typeof pair>;
  beforeAll(() => {
    replicas = pair();
  });

  it('a held call waits, tells the agent it is alive, and proceeds when the other replica approves', async () => {
    const [a, b] = replicas;
    const taskId = await newTask();
    const { guarded, progress } = call(taskId, 'sleep', { ms: 500 });
    let settled: Refusal | undefined | 'waiting' = 'waiting';
    const held = a.guard.before!(guarded) as Promise<Refusal | undefined>;
    void held.then((v) => {
      settled = v;
    });
    const [id] = await pendingOf(taskId);
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe('waiting');
    expect(progress[0]).toBe(
      `waiting for approval ${id} (rule slow-sleeps): switchboard approvals approve ${id}`,
    );
    await decideApproval(b.deps, id!, { status: 'approved', reason: 'looks fine' }, OPERATOR);
    expect(await held).toBeUndefined();
    const row = await findApproval(database().sql, id!);
    expect(row).toMatchObject({ status: 'approved', decidedBy: 'key:sb_operator' });
    expect(row?.usedAt).toBeInstanceOf(Date);
    expect(await events(taskId, 'task:approval_requested')).toHaveLength(1);
    expect((await events(taskId, 'task:approval_decided'))[0]?.data).toMatchObject({
      approvalId: id,
      status: 'approved',
      by: 'key:sb_operator',
      reason: 'looks fine',
    });
  });

  it('a denial comes back to the agent naming who denied it and why', async () => {
    const [a, b] = replicas;
    const taskId = await newTask();
    const held = a.guard.before!(
      call(taskId, 'delete_repo', { repo: 'acme/api' }, { integration: 'github' }).guarded,
    );
    const [id] = await pendingOf(taskId);
    await decideApproval(b.deps, id!, { status: 'denied', reason: 'not this repo' }, OPERATOR);
    expect(await held).toEqual({
      code: 'approval_denied',
      message: `approval ${id} (rule deletes): denied by key:sb_operator: not this repo`,
    });
    const [requested] = await events(taskId, 'task:approval_requested');
    expect(requested?.data).toMatchObject({
      approval: {
        id,
        rule: 'deletes',
        message: 'a person reviews every delete',
        arguments: { repo: 'acme/api' },
      },
    });
  });

  it('calls no rule holds pass at once: other tools, a `when` that is false, a profile not listed', async () => {
    const [a] = replicas;
    const taskId = await newTask();
    expect(await a.guard.before!(call(taskId, 'sleep', { ms: 50 }).guarded)).toBeUndefined();
    expect(await a.guard.before!(call(taskId, 'echo', { text: 'x' }).guarded)).toBeUndefined();
    expect(await a.guard.before!(call(taskId, 'report_env', {}).guarded)).toBeUndefined();
    expect(
      await a.guard.before!(call(taskId, 'report_env', {}, { profile: 'other' }).guarded),
    ).toBeUndefined();
    const { sql } = database();
    expect((await sql`select 1 from approvals where task_id = ${taskId}`).length).toBe(0);
  });

  it('nobody decides: the request expires at its timeout, the call is refused, and a late approval is refused too', async () => {
    const [a, b] = replicas;
    const taskId = await newTask();
    const verdict = await a.guard.before!(call(taskId, 'shout', { chars: 3 }).guarded);
    const { sql } = database();
    const [row] = await sql<{ id: string; status: string }[]>`
      select id::text, status from approvals where task_id = ${taskId}`;
    expect(row?.status).toBe('expired');
    expect(verdict).toMatchObject({ code: 'approval_expired' });
    expect((verdict as Refusal).message).toMatch(
      new RegExp(
        `^approval ${row!.id} \\(rule shouts\\): nobody approved it by .+; the call was not made$`,
      ),
    );
    await expect(
      decideApproval(b.deps, row!.id, { status: 'approved', reason: null }, OPERATOR),
    ).rejects.toMatchObject({ code: 'approval_not_pending' });
    expect((await events(taskId, 'task:approval_decided')).map((e) => e.data.status)).toEqual([
      'expired',
    ]);
  });

  it('an approval covers only the call it was asked for: other arguments ask again', async () => {
    const [a, b] = replicas;
    const taskId = await newTask();
    const first = a.guard.before!(call(taskId, 'sleep', { ms: 200, note: 'one' }).guarded);
    const [id] = await pendingOf(taskId);
    await decideApproval(b.deps, id!, { status: 'approved', reason: null }, OPERATOR);
    expect(await first).toBeUndefined();
    // Same tool, other arguments (key order does not matter, values do).
    const controller = new AbortController();
    const second = a.guard.before!(
      call(taskId, 'sleep', { note: 'one', ms: 201 }, { signal: controller.signal }).guarded,
    );
    const ids = await pendingOf(taskId, 1);
    expect(ids).not.toContain(id);
    controller.abort();
    expect(await second).toMatchObject({ code: 'approval_denied' });
  });

  it('two identical calls share one request; its approval lets one through, the other asks again', async () => {
    const [a, b] = replicas;
    const taskId = await newTask();
    const args = { ms: 300 };
    const controller = new AbortController();
    const calls = [
      a.guard.before!(call(taskId, 'sleep', args, { signal: controller.signal }).guarded),
      b.guard.before!(call(taskId, 'sleep', args, { signal: controller.signal }).guarded),
    ];
    const [id] = await pendingOf(taskId);
    await new Promise((r) => setTimeout(r, 100));
    const { sql } = database();
    expect((await sql`select 1 from approvals where task_id = ${taskId}`).length).toBe(1);
    await decideApproval(b.deps, id!, { status: 'approved', reason: null }, OPERATOR);
    // One passes; the other made a second request and waits on it.
    const second = await pendingOf(taskId, 1);
    expect(second[0]).not.toBe(id);
    controller.abort();
    const verdicts = await Promise.all(calls);
    expect(verdicts.filter((v) => v === undefined)).toHaveLength(1);
    expect(verdicts.filter((v) => v?.code === 'approval_denied')).toHaveLength(1);
  });

  it('a restart is never an approval: the held call ends, the retry waits on the same request, an approval made meanwhile is used once', async () => {
    const [a, b] = replicas;
    const taskId = await newTask();
    const args = { repo: 'acme/api' };
    // The gateway holding the call goes away: its request aborts (the agent's connection drops).
    const gone = new AbortController();
    const first = a.guard.before!(
      call(taskId, 'delete_branch', args, { signal: gone.signal, integration: 'github' }).guarded,
    );
    const [id] = await pendingOf(taskId);
    gone.abort();
    expect(await first).toMatchObject({
      code: 'approval_denied',
      message: expect.stringContaining('the request stays pending'),
    });
    expect((await findApproval(database().sql, id!))?.status).toBe('pending');
    // A fresh guard (the restarted gateway): the agent's retry joins the same request.
    const restarted = await replica(60_000);
    const retry = restarted.guard.before!(
      call(taskId, 'delete_branch', args, { integration: 'github' }).guarded,
    );
    await new Promise((r) => setTimeout(r, 100));
    await decideApproval(b.deps, id!, { status: 'approved', reason: null }, OPERATOR);
    expect(await retry).toBeUndefined();
    const { sql } = database();
    expect((await sql`select 1 from approvals where task_id = ${taskId}`).length).toBe(1);
    // Approved while nobody waited: the next identical call uses it at once, the one after asks.
    const later = new AbortController();
    const third = restarted.guard.before!(
      call(taskId, 'delete_branch', args, { integration: 'github', signal: later.signal }).guarded,
    );
    const [again] = await pendingOf(taskId);
    expect(again).not.toBe(id);
    await decideApproval(b.deps, again!, { status: 'approved', reason: null }, OPERATOR);
    expect(await third).toBeUndefined();
    const fourth = new AbortController();
    const afterUse = restarted.guard.before!(
      call(taskId, 'delete_branch', args, { integration: 'github', signal: fourth.signal }).guarded,
    );
    await pendingOf(taskId);
    fourth.abort();
    expect(await afterUse).toMatchObject({ code: 'approval_denied' });
  });

  it('a request whose task ended is cancelled: the held call is refused and cannot be approved', async () => {
    const [, b] = replicas;
    const fast = await replica(50);
    const taskId = await newTask();
    const held = fast.guard.before!(call(taskId, 'sleep', { ms: 999 }).guarded);
    const [id] = await pendingOf(taskId);
    await database()
      .sql`update tasks set status = 'cancelled', finished_at = now() where id = ${taskId}`;
    expect(await held).toEqual({
      code: 'approval_denied',
      message: `approval ${id} (rule slow-sleeps): the task has ended`,
    });
    await expect(
      decideApproval(b.deps, id!, { status: 'approved', reason: null }, OPERATOR),
    ).rejects.toMatchObject({
      code: 'approval_not_pending',
      message: expect.stringContaining('is cancelled'),
    });
  });
});
