import type { Policy } from '@switchboard/policy';
import type { HandlerResult, Trigger } from '@switchboard/sdk';
import { handlerResultSchema } from '@switchboard/sdk';
import type { Sql } from '../db/connect.ts';
import { insertTaskEvent, type TaskEvent } from '../events/store.ts';
import { HandlerError } from '../integrations/handler-call.ts';
import { createOrGetSession, insertMessage } from '../sessions/store.ts';
import { insertQueuedTask } from '../tasks/store.ts';

/**
 * A handler's answer (ARCHITECTURE §4 "Handler results") → sessions, messages and tasks, in the
 * caller's transaction (the one that also marks the delivery done, under its lease). Each task's
 * idempotency key is `delivery:<row id>:<trigger index>`, so a delivery processed a second time
 * after a crash between the handler's answer and the commit can never start a task twice.
 */

/** What processing a delivery did, stored in webhook_deliveries.result. */
export interface TriggerOutcome {
  triggers: number;
  sessions: string[];
  messages: string[];
  tasks: string[];
}

/** A result that no retry can fix: the delivery fails at once with this message. */
const invalid = (integration: string, message: string) =>
  new HandlerError('handler_result_invalid', `${integration}: ${message}`, false);

/** Validates a handler's structured answer; the error names the field and what was expected. */
export function parseHandlerResult(integration: string, value: unknown): HandlerResult {
  const parsed = handlerResultSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const at = issue.path.length > 0 ? issue.path.join('.') : '(result)';
  throw invalid(integration, `invalid handler result at ${at}: ${issue.message}`);
}

function profileFor(
  integration: string,
  trigger: Trigger,
  policy: Policy,
  sessionProfile: string | null,
): string {
  const name =
    trigger.execution?.profile ?? policy.integrations[integration]?.profile ?? sessionProfile;
  if (name === null || name === undefined) {
    throw invalid(
      integration,
      `a trigger for session ${trigger.session.key} starts a task but names no profile, and the policy sets none for the integration (integrations.${integration}.profile)`,
    );
  }
  if (!policy.profiles[name]) {
    const known = Object.keys(policy.profiles).join(', ') || 'none';
    throw invalid(
      integration,
      `no profile ${JSON.stringify(name)} in the policy (known: ${known})`,
    );
  }
  return name;
}

/**
 * Where a trigger may send its task's result: the integration's own dispatchers, `none`, the
 * SSRF-guarded `webhook`, or `internal` into one of its own sessions. Anything else would let
 * one integration act in another's name (github starting tasks in chat's channel).
 */
function checkDispatch(
  integration: string,
  index: number,
  dispatch: Trigger['session']['dispatch'],
  own: readonly string[],
): void {
  if (!dispatch || dispatch.type === 'none' || dispatch.type === 'webhook') return;
  if (own.includes(dispatch.type)) return;
  const at = `triggers[${index}].session.dispatch`;
  if (dispatch.type === 'internal') {
    const target = dispatch.config?.session;
    if (typeof target === 'string' && target.startsWith(`${integration}:`)) return;
    throw invalid(
      integration,
      `${at}.config.session must be a session key starting with "${integration}:"`,
    );
  }
  throw invalid(
    integration,
    `${at}.type ${JSON.stringify(dispatch.type)} is neither a dispatcher of ${integration} (${own.join(', ') || 'it declares none'}) nor none, webhook or internal`,
  );
}

export async function applyTriggers(
  tx: Sql,
  input: {
    integration: string;
    /** The `type`s of the integration's manifest dispatchers. */
    dispatchers: readonly string[];
    /** webhook_deliveries.id */
    deliveryRowId: string;
    triggers: Trigger[];
    policy: Policy;
  },
): Promise<{ outcome: TriggerOutcome; events: TaskEvent[] }> {
  const { integration, deliveryRowId, policy } = input;
  const outcome: TriggerOutcome = {
    triggers: input.triggers.length,
    sessions: [],
    messages: [],
    tasks: [],
  };
  const events: TaskEvent[] = [];
  for (const [index, trigger] of input.triggers.entries()) {
    // An integration writes only into its own sessions: github cannot post into chat's.
    if (!trigger.session.key.startsWith(`${integration}:`)) {
      throw invalid(
        integration,
        `triggers[${index}].session.key ${JSON.stringify(trigger.session.key)} must start with "${integration}:"`,
      );
    }
    checkDispatch(integration, index, trigger.session.dispatch, input.dispatchers);
    const { session } = await createOrGetSession(tx, {
      key: trigger.session.key,
      ...(trigger.session.dispatch && {
        dispatch: {
          type: trigger.session.dispatch.type,
          config: trigger.session.dispatch.config ?? {},
        },
      }),
    });
    const message = await insertMessage(tx, session.id, {
      role: 'integration',
      content: trigger.message,
      source: { integration, delivery: deliveryRowId, trigger: index },
    });
    outcome.sessions.push(session.id);
    outcome.messages.push(message!.id);
    if (!trigger.run) continue;
    const profile = profileFor(integration, trigger, policy, session.profile);
    const execution = trigger.execution ?? {};
    const task = await insertQueuedTask(tx, {
      sessionId: session.id,
      messageId: message!.id,
      profile,
      prompt: trigger.message,
      scope: execution.tools ?? [],
      execution: {
        ...(execution.preamble !== undefined && { preamble: execution.preamble }),
        ...(execution.skills !== undefined && { skills: execution.skills }),
        ...(execution.model !== undefined && { model: execution.model }),
      },
      // The trigger's own target wins over the session's (a chat thread in a channel session).
      dispatch: trigger.session.dispatch
        ? { type: trigger.session.dispatch.type, config: trigger.session.dispatch.config ?? {} }
        : null,
      timeoutMs: policy.profiles[profile]?.timeoutMs ?? null,
      maxAttempts: 3,
      idempotencyKey: `delivery:${deliveryRowId}:${index}`,
      deliveryId: deliveryRowId,
    });
    if (!task) continue; // this trigger's task exists already (an earlier, rolled-back try cannot)
    outcome.tasks.push(task.id);
    events.push(
      await insertTaskEvent(tx, {
        taskId: task.id,
        type: 'task:created',
        data: {
          profile,
          sessionId: session.id,
          seq: task.seq,
          delivery: deliveryRowId,
          integration,
        },
      }),
    );
  }
  return { outcome, events };
}
