/**
 * Human approval of tool calls (issue 15; gateway/src/guards/approvals.ts, approvals/): the
 * guard of two replicas on one database (two wakers on one bus: LISTEN/NOTIFY on PostgreSQL),
 * real task rows, real decisions. What a hostile model or a lost gateway could try: a decision
 * stretched to other arguments, one approval used by two calls, a late approval, a restart
 * taken for an approval, requests flooding the table and the chat, arguments too large to review.
 */
import { policySchema } from '@switchboard/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideApproval, requestApproval } from '../../gateway/src/approvals/requests.ts';
import { findApproval } from '../../gateway/src/approvals/store.ts';
import { type EventBus, InProcessBus, PostgresBus } from '../../gateway/src/db/bus.ts';
import { listTaskEvents } from '../../gateway/src/events/store.ts';
import { TaskEventWaker, taskEventPublisher } from '../../gateway/src/events/task-events.ts';
import { createApprovalGuard } from '../../gateway/src/guards/approvals.ts';
import type { GuardedCall, Refusal } from '../../gateway/src/guards/guard.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { createOrGetSession } from '../../gateway/src/sessions/store.ts';
import { createExternalTask } from '../../gateway/src/tasks/create.ts';
import { useMigratedDatabase, usingPostgres } from '../helpers/database.ts';

const log = createLogger('silent');
const OPERATOR = { actor: 'key:sb_operator', requestId: 'req-1' };

const policy = policySchema.parse({
  apiVersion: 'switchboard/policy/v1',
  profiles: { reviewer: { runner: { driver: 'process', command: 'true' } } },
  approvals: [
    { name: 'slow-sleeps', tools: ['echo:sleep'], when: 'args.ms > 100', timeout: '1h' },
    { name: 'deletes', tools: ['*:delete_*'], message: 'a person reviews every delete' },
    { name: 'shouts', tools: ['echo:shout'], timeout: '1s' },
    { name: 'reviewers-only', tools: ['echo:report_env'], profiles: ['reviewer'] },
  ],
});

describe('approvals: the guard on two replicas', () => {
  const database = useMigratedDatabase();
  const buses: EventBus[] = [];
  const wakers: TaskEventWaker[] = [];
  /** Replica a's and b's guard and deps; b decides, a holds (or the other way round). */
  let replicas: Array<{
    guard: ReturnType<typeof createApprovalGuard>;
    deps: {
      sql: ReturnType<typeof database>['sql'];
      publish: ReturnType<typeof taskEventPublisher>;
    };
  }>;
  const dispatchers: Array<{ type: string; approvals?: string }> = [
    { type: 'chat', approvals: 'ask_approval' } as { type: string; approvals?: string },
    { type: 'mail' },
  ];

  const replica = async (pollMs: number) => {
    const { sql } = database();
    const bus = usingPostgres ? new PostgresBus(sql, log) : (buses[0] ?? new InProcessBus());
    buses.push(bus);
    const waker = await TaskEventWaker.start(bus, log);
    wakers.push(waker);
    const publish = taskEventPublisher(bus, log);
    const guard = createApprovalGuard({
      sql,
      log,
      publish,
      waker,
      registry: {
        currentPolicy: () => policy,
        list: () => [{ manifest: { dispatchers } }],
      },
      pollMs,
      progressMs: 20,
    });
    return { guard, deps: { sql, publish } };
  };

  beforeAll(async () => {
    // A poll of a minute: within a test, only the bus can wake a held call.
    replicas = [await replica(60_000), await replica(60_000)];
  });
  afterAll(async () => {
    for (const waker of wakers) await waker.close();
  });

  const newTask = async (dispatch?: { type: string; config?: Record<string, unknown> }) => {
    const { sql } = database();
    let sessionId: string | null = null;
    if (dispatch) {
      const key = `test:${Math.random().toString(36).slice(2)}`;
      sessionId = (await createOrGetSession(sql, { key, dispatch })).session.id;
    }
    const { task } = await createExternalTask(sql, { scope: ['*:*'], prompt: '', sessionId });
    return task.id;
  };

  const call = (
    taskId: string,
    tool: string,
    args: Record<string, unknown>,
    options: { profile?: string | null; signal?: AbortSignal; integration?: string } = {},
  ) => {
    const progress: string[] = [];
    const guarded: GuardedCall = {
      claims: {
        tokenId: `t-${taskId}`,
        taskId,
        sessionId: null,
        profile: options.profile ?? null,
        scope: ['*:*'],
        audience: 'http://gateway/mcp',
        expiresAt: Math.floor(Date.now() / 1000) + 900,
      },
      integration: options.integration ?? 'echo',
      tool,
      definition: { name: tool, inputSchema: { type: 'object' } },
      arguments: args,
      signal: options.signal ?? new AbortController().signal,
      progress: (m) => progress.push(m),
    };
    return { guarded, progress };
  };

  /** The pending request of a task, once the held call has made it. */
  const pendingOf = async (taskId: string, count = 1) => {
    const { sql } = database();
    for (let i = 0; i < 200; i++) {
      const rows = await sql<{ id: string }[]>`
        select id::text from approvals where task_id = ${taskId} and status = 'pending'
         order by seq`;
      if (rows.length >= count) return rows.map((r) => r.id);
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no pending approval for task ${taskId}`);
  };

  const events = async (taskId: string, type: string) =>
    (await listTaskEvents(database().sql, taskId, { afterSeq: '0', limit: 500 })).filter(
      (e) => e.type === type,
    );

  it('a held call waits, tells the agent it is alive, and proceeds when the other replica approves', async () => {
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
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
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
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
    const [a] = replicas as [(typeof replicas)[0]];
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
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
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
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
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
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
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
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
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
    const [, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
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

  // Regression: an approval made while nobody waited was used by a call of a task that had
  // ended since (a token still cached), and a new request could be made for an ended task.
  it('a task that has ended uses no approval and asks for none', async () => {
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
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
    const [a] = replicas as [(typeof replicas)[0]];
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
      const outcome = await requestApproval(replicas[0]!.deps, {
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
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
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
    const [a] = replicas as [(typeof replicas)[0]];
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
