import * as z from 'zod';
import type { Pool, Sql } from '../db/connect.ts';
import { badRequest, notFound } from '../errors.ts';
import { insertTaskEvent, insertTaskEvents, type TaskEvent } from '../events/store.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import { Dispatch } from '../sessions/store.ts';
import { SCOPE_EXPECTED, SCOPE_PATTERN } from '../tokens/scope.ts';
import { revokeTaskTokens } from '../tokens/store.ts';
import { type CreatedTask, createTask } from './create.ts';
import { insertDispatchRow, insertDispatchRows } from './sql/outbox-row.ts';
import {
  cancelUnfinishedTask,
  claimPendingTasks,
  countRunningTasks,
  endLeasedTask,
  extendTaskLease,
  findQueueTask,
  type LeasedTaskRow,
  lockProfileClaims,
  type QueueTaskRow,
  recoverExpiredTasks,
} from './store.ts';

/**
 * The task queue (ARCHITECTURE §1, §6; issue 5): pending → running → complete | failed |
 * cancelled, with a lease while running. Delivery is at least once: a runner that dies is
 * recovered when its lease expires, so a task may start twice, never complete twice. Each
 * function is one transaction; every transition appends its task_events row in it, and the
 * events are handed to `publish` only after the commit.
 */

const uuid = z.uuid({ error: 'expected a uuid' });

export const Execution = z.strictObject({
  preamble: z.string().max(100_000).optional(),
  skills: z.array(z.string().min(1).max(200)).max(100).optional(),
  model: z.string().min(1).max(200).optional(),
});

export const EnqueueInput = z.strictObject({
  prompt: z.string().max(100_000, 'expected at most 100000 characters'),
  sessionId: uuid.optional(),
  messageId: z
    .string()
    .regex(/^[1-9][0-9]{0,18}$/, 'expected a message id')
    .optional(),
  /** Defaults to the session's profile; one of the two is required. */
  profile: z.string().min(1).max(100).optional(),
  scope: z.array(z.string().regex(SCOPE_PATTERN, `expected ${SCOPE_EXPECTED}`)).default([]),
  execution: Execution.default({}),
  /** Defaults to the session's dispatch target. */
  dispatch: Dispatch.optional(),
  timeoutMs: z.int().positive().max(2_147_483_647).optional(),
  // 3 as in 0001's column default: one crash and one retry of the retry.
  maxAttempts: z.int().min(1).max(100).default(3),
  idempotencyKey: z.string().min(1).max(200).optional(),
});
export type EnqueueInput = z.input<typeof EnqueueInput>;

export const ClaimInput = z.strictObject({
  profile: z.string().min(1).max(100),
  /** Who holds the lease (gateway instance id), for operators and recovery events. */
  owner: z.string().min(1).max(200),
  /** Lease length (at most a day); the runner extends it while its agent lives. */
  leaseMs: z.int().min(1).max(86_400_000),
  /** The profile's concurrency: never more than this many of its tasks running at once. */
  concurrency: z.int().min(1).max(10_000),
  /** At most this many tasks from this call. */
  limit: z.int().min(1).max(1_000).default(1),
});
export type ClaimInput = z.input<typeof ClaimInput>;

export type LeaseResult =
  | { outcome: 'ok'; task: QueueTaskRow; events: TaskEvent[]; revokedTokens: string[] }
  /** The token is not the task's current lease: recovered and re-claimed, cancelled, or ended. */
  | { outcome: 'lease_lost'; task: QueueTaskRow };

const publishing = async (publish: PublishTaskEvents | undefined, events: TaskEvent[]) => {
  if (publish && events.length > 0) await publish(events);
};

const orderBySeq = <T extends { seq: string }>(rows: T[]) =>
  rows.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));

/**
 * Creates a pending task, or returns the one that already has this idempotency key
 * (`created: false`, the input otherwise ignored). Concurrent calls with one key get one task.
 */
export async function enqueueTask(
  sql: Pool,
  input: EnqueueInput,
  publish?: PublishTaskEvents,
): Promise<{ task: QueueTaskRow; created: boolean; events: TaskEvent[] }> {
  const t = EnqueueInput.parse(input);
  const result = await sql.begin(async (tx) => {
    let created: CreatedTask;
    try {
      created = await createTask(tx, {
        session: t.sessionId === undefined ? null : { id: t.sessionId },
        message: t.messageId === undefined ? null : { id: t.messageId },
        task: {
          external: false,
          profile: t.profile ?? null,
          prompt: t.prompt,
          scope: t.scope,
          execution: t.execution,
          dispatch: t.dispatch ?? null,
          timeoutMs: t.timeoutMs ?? null,
          maxAttempts: t.maxAttempts,
          idempotencyKey: t.idempotencyKey ?? null,
          deliveryId: null,
          event: { type: 'task:created', data: {} },
        },
      });
    } catch (error) {
      // 23503 foreign_key_violation: the session (or message) does not exist.
      if ((error as { code?: string }).code === '23503') {
        throw notFound(`no session ${t.sessionId} (or message ${t.messageId ?? '-'})`);
      }
      throw error;
    }
    if (created.created && created.task!.profile === null) {
      throw badRequest('invalid task: profile: expected a profile (the session has no default)');
    }
    // The whole row, as the API shows it (the insert answers only what its callers need).
    const task = (await findQueueTask(tx, created.task!.id))!;
    return created.created
      ? { task, created: true, events: [created.event!] }
      : { task, created: false, events: [] };
  });
  await publishing(publish, result.events);
  return result;
}

/**
 * Leases up to `limit` runnable tasks of a profile (see claimPendingTasks for "runnable": one
 * running task per session, in creation order) without ever letting more than `concurrency` of
 * the profile's tasks run.
 *
 * FOR UPDATE SKIP LOCKED alone makes claims exclusive but not bounded: with 3 running and a
 * limit of 4, two claimers that both count 3 before either commits would each take one, and 5
 * run. So a claim takes a transaction-scoped advisory lock on the profile first, then counts,
 * then claims, and commits: the claims of one profile are serial. Under READ COMMITTED each
 * statement gets a fresh snapshot, and the count runs after the lock is granted, i.e. after the
 * previous holder committed, so it sees every earlier claim. Completions need no lock: they only
 * lower the count (a claim that misses one merely leaves a slot for the next claim). The cost is
 * that one profile's claims do not run in parallel; a claim is one short transaction of a few
 * statements, and `limit` batches them.
 */
export async function claimTasks(
  sql: Pool,
  input: ClaimInput,
  publish?: PublishTaskEvents,
): Promise<LeasedTaskRow[]> {
  const c = ClaimInput.parse(input);
  const result = await sql.begin(async (tx) => {
    await lockProfileClaims(tx, c.profile);
    const room = Math.min(c.limit, c.concurrency - (await countRunningTasks(tx, c.profile)));
    if (room <= 0) return { tasks: [], events: [] };
    const tasks = orderBySeq(
      await claimPendingTasks(tx, {
        profile: c.profile,
        owner: c.owner,
        leaseMs: c.leaseMs,
        limit: room,
      }),
    );
    const events = await insertTaskEvents(
      tx,
      tasks.map((task) => ({
        taskId: task.id,
        type: 'task:started',
        data: {
          attempt: task.attempts,
          owner: c.owner,
          leaseExpiresAt: task.leaseExpiresAt?.toISOString() ?? null,
        },
      })),
    );
    return { tasks, events };
  });
  await publishing(publish, result.events);
  return result.tasks;
}

const Lease = z.strictObject({ taskId: uuid, token: uuid });
type Lease = z.input<typeof Lease>;

async function lost(
  tx: Sql,
  taskId: string,
): Promise<{ outcome: 'lease_lost'; task: QueueTaskRow }> {
  const task = await findQueueTask(tx, taskId);
  if (!task) throw notFound(`no task ${JSON.stringify(taskId)}`);
  return { outcome: 'lease_lost', task };
}

/** Extends the lease to now + leaseMs; no event (a heartbeat is not a transition). */
export async function extendLease(
  sql: Pool,
  lease: Lease,
  leaseMs: number,
): Promise<{ outcome: 'ok'; task: QueueTaskRow } | { outcome: 'lease_lost'; task: QueueTaskRow }> {
  const l = Lease.parse(lease);
  const ms = ClaimInput.shape.leaseMs.parse(leaseMs);
  const task = await extendTaskLease(sql, l.taskId, l.token, ms);
  return task ? { outcome: 'ok', task } : lost(sql, l.taskId);
}

const Completion = z.strictObject({ result: z.string().max(1_000_000).default('') });
const Failure = z.strictObject({
  /** A stable code: timeout, agent_error, agent_exited, … */
  reason: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'expected a reason code such as "timeout"'),
  error: z.string().max(10_000).optional(),
});

/** complete or fail, in one shape: only the holder of the current lease gets `ok`. */
async function endWithLease(
  sql: Pool,
  lease: Lease,
  outcome:
    | { status: 'complete'; result: string }
    | { status: 'failed'; reason: string; error: string | null },
  publish: PublishTaskEvents | undefined,
): Promise<LeaseResult> {
  const l = Lease.parse(lease);
  const result = await sql.begin(async (tx): Promise<LeaseResult> => {
    const task = await endLeasedTask(tx, l.taskId, l.token, outcome);
    if (!task) return lost(tx, l.taskId);
    const revokedTokens = await revokeTaskTokens(tx, task.id);
    // Its result goes out through the outbox, committed with the end (ARCHITECTURE §1).
    await insertDispatchRow(tx, task.id);
    const data =
      outcome.status === 'complete'
        ? { attempt: task.attempts, resultBytes: Buffer.byteLength(outcome.result) }
        : { attempt: task.attempts, reason: outcome.reason, error: outcome.error };
    const event = await insertTaskEvent(tx, {
      taskId: task.id,
      type: outcome.status === 'complete' ? 'task:done' : 'task:failed',
      data,
    });
    return { outcome: 'ok', task, events: [event], revokedTokens };
  });
  if (result.outcome === 'ok') await publishing(publish, result.events);
  return result;
}

/** `revokedTokens`: jtis revoked in the same transaction, for TokenService.revoked(). */
export async function completeTask(
  sql: Pool,
  lease: Lease,
  completion: z.input<typeof Completion>,
  publish?: PublishTaskEvents,
): Promise<LeaseResult> {
  const { result } = Completion.parse(completion);
  return endWithLease(sql, lease, { status: 'complete', result }, publish);
}

/** Final: the task is failed with `reason`; no retry (retries happen only on lease expiry). */
export async function failTask(
  sql: Pool,
  lease: Lease,
  failure: z.input<typeof Failure>,
  publish?: PublishTaskEvents,
): Promise<LeaseResult> {
  const f = Failure.parse(failure);
  return endWithLease(
    sql,
    lease,
    { status: 'failed', reason: f.reason, error: f.error ?? null },
    publish,
  );
}

export type CancelResult =
  | {
      outcome: 'cancelled';
      task: QueueTaskRow;
      /** running: its runner must stop the agent (it learns by the event or a lost lease). */
      previousStatus: 'pending' | 'running';
      events: TaskEvent[];
      revokedTokens: string[];
    }
  | { outcome: 'already_ended'; task: QueueTaskRow };

/** Cancels a pending or running task, whoever holds it; not_found for an unknown id. */
export async function cancelTask(
  sql: Pool,
  taskId: string,
  options: { by: string; reason?: string },
  publish?: PublishTaskEvents,
): Promise<CancelResult> {
  if (!uuid.safeParse(taskId).success) throw notFound(`no task ${JSON.stringify(taskId)}`);
  const reason = Failure.shape.reason.parse(options.reason ?? 'cancelled');
  const result = await sql.begin(async (tx): Promise<CancelResult> => {
    const before = await findQueueTask(tx, taskId, { lock: true });
    if (!before) throw notFound(`no task ${JSON.stringify(taskId)}`);
    if (before.status !== 'pending' && before.status !== 'running') {
      return { outcome: 'already_ended', task: before };
    }
    const task = (await cancelUnfinishedTask(tx, taskId, { reason, error: null }))!;
    const revokedTokens = await revokeTaskTokens(tx, taskId);
    const event = await insertTaskEvent(tx, {
      taskId,
      type: 'task:cancelled',
      data: { by: options.by, reason, previousStatus: before.status, owner: before.leaseOwner },
    });
    return {
      outcome: 'cancelled',
      task,
      previousStatus: before.status,
      events: [event],
      revokedTokens,
    };
  });
  if (result.outcome === 'cancelled') await publishing(publish, result.events);
  return result;
}

/**
 * Takes back running tasks whose lease expired: `task:requeued` (pending again) or
 * `task:failed` with reason lease_expired once attempts reach max_attempts. Safe to run from
 * every replica at once (SKIP LOCKED); call it every few seconds, and once at start.
 */
export async function recoverExpiredLeases(
  sql: Pool,
  options: { limit?: number } = {},
  publish?: PublishTaskEvents,
): Promise<{ requeued: QueueTaskRow[]; failed: QueueTaskRow[]; revokedTokens: string[] }> {
  const limit = z
    .int()
    .min(1)
    .max(10_000)
    .parse(options.limit ?? 500);
  const result = await sql.begin(async (tx) => {
    const rows = orderBySeq(await recoverExpiredTasks(tx, limit));
    const revokedTokens: string[] = [];
    for (const row of rows) revokedTokens.push(...(await revokeTaskTokens(tx, row.id)));
    await insertDispatchRows(
      tx,
      rows.filter((r) => r.status === 'failed').map((r) => r.id),
    );
    const events = await insertTaskEvents(
      tx,
      rows.map(({ expiredOwner, ...task }) => ({
        taskId: task.id,
        type: task.status === 'pending' ? 'task:requeued' : 'task:failed',
        data: {
          reason: 'lease_expired',
          attempt: task.attempts,
          maxAttempts: task.maxAttempts,
          owner: expiredOwner,
        },
      })),
    );
    const tasks = rows.map(({ expiredOwner: _, ...task }) => task);
    return {
      requeued: tasks.filter((t) => t.status === 'pending'),
      failed: tasks.filter((t) => t.status === 'failed'),
      revokedTokens,
      events,
    };
  });
  await publishing(publish, result.events);
  return { requeued: result.requeued, failed: result.failed, revokedTokens: result.revokedTokens };
}

/** A task with its queue fields; not_found for an unknown or malformed id. */
export async function getQueueTask(sql: Sql, taskId: string): Promise<QueueTaskRow> {
  const task = uuid.safeParse(taskId).success ? await findQueueTask(sql, taskId) : undefined;
  if (!task) throw notFound(`no task ${JSON.stringify(taskId)}`);
  return task;
}
