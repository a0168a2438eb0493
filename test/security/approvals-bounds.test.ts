/**
 * Human approval of tool calls (issue 15), its bounds: an ended task, a model flooding requests
 * (the table and the chat stay bounded), arguments too large to review, and where a request is
 * announced. The guard of two replicas on one database, as in approvals.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { decideApproval, requestApproval } from '../../gateway/src/approvals/requests.ts';
import { findApproval } from '../../gateway/src/approvals/store.ts';
import { OPERATOR, useApprovalReplicas } from '../helpers/approval-replicas.ts';

describe('approvals: bounds and announcements', () => {
  const { database, replicas: pair, newTask, call, pendingOf, events } = useApprovalReplicas();
  let replicas: ReturnType<typeof pair>;
  beforeAll(() => {
    replicas = pair();
  });

  // Regression: an approval made while nobody waited was used by a call of a task that had
  // ended since (a token still cached), and a new request could be made for an ended task.
  it('a task that has ended uses no approval and asks for none', async () => {
    const [a, b] = replicas;
    const taskId = await newTask();
    const gone = new AbortController();
    const first = a.guard.before!(
      call(taskId, 'sleep', { ms: 4242 }, { signal: gone.signal }).guarded,
    );
    const [id] = await pendingOf(taskId);
    gone.abort();
    await first;
    await decideApproval(b.deps, id!, { status: 'approved', reason: null }, OPERATOR);
    const { sql } = database();
    await sql`update tasks set status = 'complete', finished_at = now() where id = ${taskId}`;
    for (const args of [{ ms: 4242 }, { ms: 4343 }]) {
      expect(await a.guard.before!(call(taskId, 'sleep', args).guarded)).toEqual({
        code: 'approval_denied',
        message: `approvals: task ${taskId} has ended`,
      });
    }
    expect((await findApproval(sql, id!))?.usedAt).toBeNull();
    expect((await sql`select 1 from approvals where task_id = ${taskId}`).length).toBe(1);
  });

  it('a model flooding requests: 5 waiting at once and 100 per task, then approval_limit; the table stays bounded', async () => {
    const [a] = replicas;
    const taskId = await newTask();
    const controller = new AbortController();
    const held = [];
    for (let i = 0; i < 5; i++) {
      held.push(
        a.guard.before!(
          call(taskId, 'sleep', { ms: 1000 + i }, { signal: controller.signal }).guarded,
        ),
      );
    }
    await pendingOf(taskId, 5);
    expect(await a.guard.before!(call(taskId, 'sleep', { ms: 2000 }).guarded)).toEqual({
      code: 'approval_limit',
      message: 'approvals: this task has 5 approvals waiting already; wait for them first',
    });
    controller.abort();
    await Promise.all(held);
    // Deny the five, then fill the task up to 100 requests (denied ones count too).
    const { sql } = database();
    await sql`update approvals set status = 'denied' where task_id = ${taskId}`;
    for (let i = 5; i < 100; i++) {
      const outcome = await requestApproval(replicas[0].deps, {
        key: { taskId, integration: 'echo', tool: 'sleep', argumentsHash: `h${i}` },
        rule: { name: 'slow-sleeps', timeoutMs: 60_000 },
        arguments: { i },
        announceTypes: [],
      });
      expect(outcome.kind).toBe('waiting');
      // Decided at once, so the 5-waiting cap never applies: only the total does.
      await sql`update approvals set status = 'denied' where task_id = ${taskId}`;
    }
    expect(await a.guard.before!(call(taskId, 'sleep', { ms: 3000 }).guarded)).toEqual({
      code: 'approval_limit',
      message: 'approvals: this task asked for 100 approvals already; no more are taken',
    });
    expect((await sql`select 1 from approvals where task_id = ${taskId}`).length).toBe(100);
  });

  it('arguments too large to review are stored as a preview; the decision still binds the whole call', async () => {
    const [a, b] = replicas;
    const taskId = await newTask();
    const big = { ms: 500, body: 'x'.repeat(100_000) };
    const held = a.guard.before!(call(taskId, 'sleep', big).guarded);
    const [id] = await pendingOf(taskId);
    const row = await findApproval(database().sql, id!);
    expect(row?.arguments).toMatchObject({ truncated: true, bytes: expect.any(Number) });
    expect(JSON.stringify(row?.arguments).length).toBeLessThan(5_000);
    const [requested] = await events(taskId, 'task:approval_requested');
    expect(JSON.stringify(requested?.data).length).toBeLessThan(6_000);
    await decideApproval(b.deps, id!, { status: 'approved', reason: null }, OPERATOR);
    expect(await held).toBeUndefined();
    // One character more in the body: not the approved call.
    const controller = new AbortController();
    const other = a.guard.before!(
      call(taskId, 'sleep', { ...big, body: `${big.body}y` }, { signal: controller.signal })
        .guarded,
    );
    await pendingOf(taskId);
    controller.abort();
    expect(await other).toMatchObject({ code: 'approval_denied' });
  });

  it('announced to the session where it can be: a dispatcher with an approvals handler and a webhook; never internal, none or a dispatcher without one', async () => {
    const [a] = replicas;
    const { sql } = database();
    const cases = [
      { dispatch: { type: 'chat', config: { channel: 'C1' } }, announced: true },
      {
        dispatch: { type: 'webhook', config: { url: 'https://example.com/hook' } },
        announced: true,
      },
      { dispatch: { type: 'mail' }, announced: false },
      { dispatch: { type: 'internal', config: { session: 'other:x' } }, announced: false },
      { dispatch: { type: 'none' }, announced: false },
    ];
    for (const { dispatch, announced } of cases) {
      const taskId = await newTask(dispatch);
      const controller = new AbortController();
      const held = a.guard.before!(
        call(taskId, 'sleep', { ms: 700 }, { signal: controller.signal }).guarded,
      );
      const [id] = await pendingOf(taskId);
      controller.abort();
      await held;
      const rows = await sql<{ target: { type: string }; payload: { approval: { id: string } } }[]>`
        select target, payload from outbox where task_id = ${taskId} and kind = 'dispatch'`;
      expect(rows.length, dispatch.type).toBe(announced ? 1 : 0);
      if (announced) {
        expect(rows[0]?.target.type).toBe(dispatch.type);
        expect(rows[0]?.payload.approval).toMatchObject({ id, tool: 'sleep', rule: 'slow-sleeps' });
      }
    }
  });
});
