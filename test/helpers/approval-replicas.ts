/**
 * Two replicas' approval guards on one migrated database (test/security/approvals*.test.ts):
 * each with its own task-event waker on the bus (LISTEN/NOTIFY on PostgreSQL, one in-process
 * bus on PGlite), real task rows, and the calls a guard judges. Call inside a describe.
 */
import { policySchema } from '@switchboard/policy';
import { afterAll, beforeAll } from 'vitest';
import { type EventBus, InProcessBus, PostgresBus } from '../../gateway/src/db/bus.ts';
import { listTaskEvents } from '../../gateway/src/events/store.ts';
import { TaskEventWaker, taskEventPublisher } from '../../gateway/src/events/task-events.ts';
import { createApprovalGuard } from '../../gateway/src/guards/approvals.ts';
import type { GuardedCall } from '../../gateway/src/guards/guard.ts';
import { createLogger } from '../../gateway/src/log.ts';
import { createOrGetSession } from '../../gateway/src/sessions/store.ts';
import { createExternalTask } from '../../gateway/src/tasks/create.ts';
import { useMigratedDatabase, usingPostgres } from './database.ts';

const log = createLogger('silent');
export const OPERATOR = { actor: 'key:sb_operator', requestId: 'req-1' };

export const APPROVAL_POLICY = policySchema.parse({
  apiVersion: 'switchboard/policy/v1',
  profiles: { reviewer: { runner: { driver: 'process', command: 'true' } } },
  approvals: [
    { name: 'slow-sleeps', tools: ['echo:sleep'], when: 'args.ms > 100', timeout: '1h' },
    { name: 'deletes', tools: ['*:delete_*'], message: 'a person reviews every delete' },
    { name: 'shouts', tools: ['echo:shout'], timeout: '1s' },
    { name: 'reviewers-only', tools: ['echo:report_env'], profiles: ['reviewer'] },
  ],
});

export function useApprovalReplicas() {
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
        currentPolicy: () => APPROVAL_POLICY,
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

  return {
    database,
    replicas: () => replicas as [(typeof replicas)[0], (typeof replicas)[0]],
    replica,
    newTask,
    call,
    pendingOf,
    events,
  };
}
