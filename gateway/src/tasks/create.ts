import type { Sql } from '../db/connect.ts';
import type { TaskEvent } from '../events/store.ts';
import { currentTraceparent, tracingEnabled } from '../telemetry/spans.ts';
import { type InsertedTask, insertSessionTask, insertTask, type NewTask } from './sql/create.ts';
import { insertSessionTasks, type SessionTaskInput } from './sql/create-batch.ts';
import { findTask, findTaskByIdempotencyKey, type TaskRow } from './store.ts';

/**
 * Where a task is born, whoever asks: a webhook delivery's triggers (deliveries/triggers.ts), a
 * policy schedule (schedules/fire.ts), the API's POST /tasks and a session message with `run`
 * (api/tasks.ts, api/sessions.ts → api/task-create.ts → queue.ts:enqueueTask), an `internal`
 * dispatch (outbox/internal.ts → enqueueTask) and an external task's grant (external.ts). Each path
 * decides its own rules first (which profile, which scope, which idempotency key: see the
 * callers) and then calls createTask in its transaction, which writes the session, the message,
 * the task and its first event (fanned out to event subscriptions) in one statement
 * (sql/create.ts). A webhook delivery's triggers come in batches (the drain stores many rows'
 * results in one transaction) and call createSessionTasks, the same for many triggers in one
 * statement.
 */

export type { NewTask, NewTaskRow, TaskFields, TaskMessage, TaskSession } from './sql/create.ts';
export type { SessionTaskInput } from './sql/create-batch.ts';

export interface CreatedTask extends InsertedTask {
  /**
   * false: the idempotency key was taken and `task` is the task that holds it (the new one's
   * fields ignored, no event), or no task was asked for (`task` undefined).
   */
  created: boolean;
}

export async function createTask(tx: Sql, input: NewTask): Promise<CreatedTask> {
  const { session, message } = input;
  const task = withTrace(input.task);
  // A trigger's shape (session by key, a new message, a queued task) has its own leaner plan.
  const inserted =
    session !== null && 'key' in session && message !== null && 'role' in message && !task?.external
      ? await insertSessionTask(tx, session, message, task)
      : await insertTask(tx, { session, message, task });
  return settle(tx, input.task, inserted);
}

/**
 * Many triggers' sessions, messages and tasks (a drained batch of deliveries, in its
 * transaction) in one statement, answered in order; each as createTask would answer it.
 */
export async function createSessionTasks(
  tx: Sql,
  inputs: readonly SessionTaskInput[],
): Promise<CreatedTask[]> {
  const inserted = await insertSessionTasks(
    tx,
    inputs.map((input) => ({ ...input, task: withTrace(input.task) })),
  );
  const created: CreatedTask[] = [];
  // In order: a taken key is rare (a delivery processed a second time) and looked up alone.
  for (const [i, one] of inserted.entries()) created.push(await settle(tx, inputs[i]!.task, one));
  return created;
}

/** The task continues the trace of whoever asked for it (a delivery's span, an API request's). */
function withTrace<T extends NewTask['task']>(task: T): T {
  return task && task.traceParent === undefined && tracingEnabled()
    ? { ...task, traceParent: currentTraceparent() }
    : task;
}

async function settle(
  tx: Sql,
  task: NewTask['task'],
  inserted: InsertedTask,
): Promise<CreatedTask> {
  const key = task?.idempotencyKey ?? null;
  if (inserted.task !== undefined || key === null) {
    return { ...inserted, created: inserted.task !== undefined };
  }
  // The key was taken (maybe by a transaction that committed a moment ago): this new statement
  // sees its row.
  const existing = await findTaskByIdempotencyKey(tx, key);
  if (!existing) throw new Error(`idempotency key ${key} conflicted but is gone`);
  return { ...inserted, task: existing, event: undefined, created: false };
}

/**
 * An external task (an agent the operator runs themselves), running from the start, with its
 * first event unless `event` is null: tokens expire on their own schedule meanwhile,
 * `timeoutMs` (the TTL it was granted) after its start.
 */
export async function createExternalTask(
  tx: Sql,
  task: {
    scope: string[];
    prompt: string;
    sessionId: string | null;
    timeoutMs?: number | null;
    event?: { type: string; data: Record<string, unknown> } | null;
  },
): Promise<{ task: TaskRow; event: TaskEvent | undefined }> {
  const created = await createTask(tx, {
    session: task.sessionId === null ? null : { id: task.sessionId },
    message: null,
    task: {
      external: true,
      profile: null,
      prompt: task.prompt,
      scope: task.scope,
      execution: {},
      dispatch: null,
      timeoutMs: task.timeoutMs ?? null,
      // 0001's column default; an external task is never claimed, so never retried.
      maxAttempts: 3,
      idempotencyKey: null,
      deliveryId: null,
      event: task.event ?? null,
    },
  });
  const row = await findTask(tx, created.task!.id);
  return { task: row!, event: created.event };
}

/** An external task without an event (the tests' and the token bench's fixture). */
export async function insertExternalTask(
  tx: Sql,
  task: { scope: string[]; prompt: string; sessionId: string | null; timeoutMs?: number | null },
): Promise<TaskRow> {
  return (await createExternalTask(tx, { ...task, event: null })).task;
}
