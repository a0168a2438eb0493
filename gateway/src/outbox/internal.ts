import type { Policy } from '@switchboard/policy';
import * as z from 'zod';
import type { Pool } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import {
  createOrGetSession,
  findSessionByKey,
  insertMessage,
  SessionKey,
} from '../sessions/store.ts';
import { enqueueTask } from '../tasks/queue.ts';
import { findMessageOfOutboxRow, internalDepthOf } from './store.ts';

/**
 * Two sessions whose results go `internal` to each other with `run: true` would start tasks
 * forever; a chain this long is refused (dead-lettered) instead.
 */
export const MAX_INTERNAL_DEPTH = 8;

/**
 * The built-in `internal` dispatcher: a task's result becomes a message in another session
 * (created by key if it does not exist), and with `run: true` a task there answers it. Delivery
 * is at least once, so a redelivery of the same outbox row finds its message (source.outboxId)
 * and its task (idempotency key `outbox:<id>`) instead of making new ones: it runs once.
 */
export const InternalConfig = z.strictObject({
  session: SessionKey,
  run: z.boolean({ error: 'expected true or false' }).default(false),
  profile: z.string().min(1).max(100).optional(),
});

export interface DispatchedTask {
  id: string;
  status: 'complete' | 'failed';
  result?: unknown;
  error?: string;
}

export async function deliverInternal(
  deps: {
    sql: Pool;
    publish?: PublishTaskEvents | undefined;
    /**
     * The current policy: a task started here must name one of its profiles, as POST /tasks,
     * triggers and schedules must (otherwise no worker ever claims it and it waits for ever).
     */
    policy?: Policy | undefined;
  },
  row: { id: string; taskId: string | null },
  target: { config: unknown; sessionKey: string | null },
  task: DispatchedTask,
): Promise<{ sessionId: string; messageId: string; taskId: string | null }> {
  const parsed = InternalConfig.safeParse(target.config ?? {});
  if (!parsed.success) {
    throw new SwitchboardError(
      'dispatch_config_invalid',
      `internal dispatch: config: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  const config = parsed.data;
  const depth = (await internalDepthOf(deps.sql, task.id)) + 1;
  if (config.run && depth > MAX_INTERNAL_DEPTH) {
    throw new SwitchboardError(
      'dispatch_loop',
      `internal dispatch: task ${task.id} is the end of ${depth - 1} internal dispatches in a row (at most ${MAX_INTERNAL_DEPTH} may start tasks): a loop between sessions?`,
    );
  }
  if (config.run && deps.policy) {
    const profile =
      config.profile ?? (await findSessionByKey(deps.sql, config.session))?.profile ?? null;
    if (profile !== null && !deps.policy.profiles[profile]) {
      const known = Object.keys(deps.policy.profiles);
      throw new SwitchboardError(
        'dispatch_config_invalid',
        `internal dispatch: config.profile: no profile ${JSON.stringify(profile)} in the policy (${known.length > 0 ? `known: ${known.join(', ')}` : 'it defines none'}): the task it would start could never run`,
      );
    }
  }
  const { session } = await createOrGetSession(deps.sql, {
    key: config.session,
    ...(config.profile ? { profile: config.profile } : {}),
  });
  // Posted as 'system': the gateway relays it; neither this session's user nor its agent said it.
  const content =
    task.status === 'complete'
      ? typeof task.result === 'string'
        ? task.result
        : JSON.stringify(task.result ?? '')
      : `Task ${task.id} failed: ${task.error ?? 'no error text'}`;
  let messageId = await findMessageOfOutboxRow(deps.sql, session.id, row.id);
  if (messageId === undefined) {
    const message = await insertMessage(deps.sql, session.id, {
      role: 'system',
      content,
      source: {
        dispatch: 'internal',
        outboxId: row.id,
        taskId: task.id,
        fromSession: target.sessionKey,
        depth,
      },
    });
    if (!message) throw new Error(`session ${session.id} vanished while dispatching`);
    messageId = message.id;
  }
  if (!config.run) return { sessionId: session.id, messageId, taskId: null };
  const { task: queued } = await enqueueTask(
    deps.sql,
    {
      prompt: content,
      sessionId: session.id,
      messageId,
      ...(config.profile ? { profile: config.profile } : {}),
      idempotencyKey: `outbox:${row.id}`,
    },
    deps.publish,
  );
  return { sessionId: session.id, messageId, taskId: queued.id };
}
