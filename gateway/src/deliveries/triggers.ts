import { type Policy, profileRefusal } from '@switchboard/policy';
import type { HandlerResult, Trigger } from '@switchboard/sdk';
import { handlerResultSchema } from '@switchboard/sdk';
import type { Sql } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import type { TaskEvent } from '../events/store.ts';
import { createSessionTasks, type SessionTaskInput } from '../tasks/create.ts';
import { setTaskScope } from '../tasks/store.ts';
import { narrowScope } from '../tasks/task-scope.ts';

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
  new SwitchboardError('handler_result_invalid', `${integration}: ${message}`);

/** Validates a handler's structured answer; the error names the field and what was expected. */
export function parseHandlerResult(integration: string, value: unknown): HandlerResult {
  const parsed = handlerResultSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const at = issue.path.length > 0 ? issue.path.join('.') : '(result)';
  throw invalid(integration, `invalid handler result at ${at}: ${issue.message}`);
}

/** The policy must define the profile a trigger's task runs with; the error names the choices. */
function requireProfile(integration: string, name: string | null, key: string, policy: Policy) {
  if (name === null) {
    throw invalid(
      integration,
      `a trigger for session ${key} starts a task but names no profile, the policy sets none for the integration (integrations.${integration}.profile) and the session has none`,
    );
  }
  if (!policy.profiles[name]) {
    const known = Object.keys(policy.profiles).join(', ') || 'none';
    throw invalid(
      integration,
      `no profile ${JSON.stringify(name)} in the policy (known: ${known})`,
    );
  }
}

/**
 * Where an integration may send a task's result: its own dispatchers, `none`, the SSRF-guarded
 * `webhook`, or `internal` into one of its own sessions. Anything else would let one
 * integration act in another's name (github starting tasks in chat's channel). An `internal`
 * target that runs a task there with a `profile` names a profile as `execution.profile` does,
 * so only one the policy gives the integration (profileRefusal): otherwise a handler could not
 * pick the operator's widest profile for its trigger's task, but could for the task its result
 * starts. The one rule for its triggers (below) and its process key (api/sessions.ts); the
 * reason names the field `at`.
 */
export function dispatchRefusal(
  integration: string,
  dispatch: { type: string; config?: Record<string, unknown> | undefined } | null | undefined,
  own: readonly string[],
  at: string,
  policy: Policy | undefined,
): string | undefined {
  if (!dispatch || dispatch.type === 'none' || dispatch.type === 'webhook') return undefined;
  if (own.includes(dispatch.type)) return undefined;
  if (dispatch.type === 'internal') {
    const target = dispatch.config?.session;
    if (typeof target !== 'string' || !target.startsWith(`${integration}:`)) {
      return `${at}.config.session must be a session key starting with "${integration}:"`;
    }
    const profile = dispatch.config?.profile;
    if (profile === undefined) return undefined;
    if (typeof profile !== 'string') return `${at}.config.profile must be a profile name`;
    if (!policy) return `${at}.config.profile: the policy is not loaded`;
    return profileRefusal(policy, integration, profile, `${at}.config.profile`);
  }
  return `${at}.type ${JSON.stringify(dispatch.type)} is neither a dispatcher of ${integration} (${own.join(', ') || 'it declares none'}) nor none, webhook or internal`;
}

function checkDispatch(
  integration: string,
  index: number,
  dispatch: Trigger['session']['dispatch'],
  own: readonly string[],
  policy: Policy,
): void {
  const refusal = dispatchRefusal(
    integration,
    dispatch,
    own,
    `triggers[${index}].session.dispatch`,
    policy,
  );
  if (refusal) throw invalid(integration, refusal);
}

export interface TriggerInput {
  integration: string;
  /** The `type`s of the integration's manifest dispatchers. */
  dispatchers: readonly string[];
  /** webhook_deliveries.id */
  deliveryRowId: string;
  triggers: Trigger[];
  policy: Policy;
  /** The delivery's processing span (telemetry/spans.ts): its tasks continue that trace. */
  traceParent?: string | null;
}

/** A delivery's triggers, checked and turned into createSessionTasks' input. */
export interface PlannedTriggers {
  input: TriggerInput;
  tasks: SessionTaskInput[];
}

/** A string PostgreSQL cannot store (text and jsonb refuse NUL), anywhere in a trigger. */
function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(hasNul);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([k, v]) => k.includes('\u0000') || hasNul(v));
  }
  return false;
}

/**
 * A delivery's triggers checked (everything knowable before the statement) and turned into
 * createSessionTasks' input; throws handler_result_invalid. The worker calls it before a row
 * joins a batch, so an invalid row fails alone at once and its batch stays a batch.
 */
export function planTriggers(input: TriggerInput): PlannedTriggers {
  const { integration, deliveryRowId, policy } = input;
  const tasks = input.triggers.map((trigger, index) => {
    // A NUL would fail the whole batch's statement, on every retry: refused here, for good.
    if (hasNul(trigger)) {
      throw invalid(integration, `triggers[${index}] holds a NUL character (\\u0000)`);
    }
    // An integration writes only into its own sessions: github cannot post into chat's.
    if (!trigger.session.key.startsWith(`${integration}:`)) {
      throw invalid(
        integration,
        `triggers[${index}].session.key ${JSON.stringify(trigger.session.key)} must start with "${integration}:"`,
      );
    }
    checkDispatch(integration, index, trigger.session.dispatch, input.dispatchers, policy);
    const dispatch = trigger.session.dispatch
      ? { type: trigger.session.dispatch.type, config: trigger.session.dispatch.config ?? {} }
      : null;
    const execution = trigger.execution ?? {};
    // Unset here: the session's own profile, read by the same statement.
    const profile = execution.profile ?? policy.integrations[integration]?.profile ?? null;
    if (trigger.run && profile !== null)
      requireProfile(integration, profile, trigger.session.key, policy);
    if (trigger.run && execution.profile !== undefined) {
      // The handler's own choice: only a profile the policy gives this integration. The
      // integration's default and a session's profile are the operator's choices.
      const at = `triggers[${index}].execution.profile`;
      const refusal = profileRefusal(policy, integration, execution.profile, at);
      if (refusal) throw invalid(integration, refusal);
    }
    return {
      session: { key: trigger.session.key, profile: null, dispatch },
      message: {
        role: 'integration',
        content: trigger.message,
        source: { integration, delivery: deliveryRowId, trigger: index },
      },
      task: trigger.run
        ? {
            external: false,
            profile,
            prompt: trigger.message,
            scope: execution.tools ?? [],
            execution: {
              ...(execution.preamble !== undefined && { preamble: execution.preamble }),
              ...(execution.skills !== undefined && { skills: execution.skills }),
              ...(execution.model !== undefined && { model: execution.model }),
            },
            // The trigger's own target wins over the session's (a chat thread in a channel).
            dispatch,
            timeoutMs: null,
            maxAttempts: 3,
            idempotencyKey: `delivery:${deliveryRowId}:${index}`,
            deliveryId: deliveryRowId,
            event: { type: 'task:created', data: { delivery: deliveryRowId, integration } },
            ...(input.traceParent !== undefined && { traceParent: input.traceParent }),
          }
        : null,
    } satisfies SessionTaskInput;
  });
  return { input, tasks };
}

/**
 * Several deliveries' planned triggers (a drained batch) in the caller's transaction, with ONE
 * createSessionTasks statement for all of them: a statement per trigger cost each drained
 * delivery a round trip and a plan. Answered per delivery, in order. Throws (the caller's
 * transaction then stores nothing) when a check that needs the statement's answer fails (a
 * profile taken from the session, a scope narrowed to nothing).
 */
export async function applyTriggerBatch(
  tx: Sql,
  plans: readonly PlannedTriggers[],
): Promise<{ outcome: TriggerOutcome; events: TaskEvent[] }[]> {
  const created = await createSessionTasks(
    tx,
    plans.flatMap((p) => p.tasks),
  );
  let next = 0;
  const answers: { outcome: TriggerOutcome; events: TaskEvent[] }[] = [];
  for (const { input } of plans) {
    const { integration, policy } = input;
    const outcome: TriggerOutcome = {
      triggers: input.triggers.length,
      sessions: [],
      messages: [],
      tasks: [],
    };
    const events: TaskEvent[] = [];
    for (const [index, trigger] of input.triggers.entries()) {
      const stored = created[next++]!;
      outcome.sessions.push(stored.sessionId!);
      outcome.messages.push(stored.messageId!);
      // run: false, or the task exists already (a delivery processed twice)
      if (!stored.created || !stored.task || !stored.event) continue;
      const task = stored.task;
      // A profile taken from the session is checked now; throwing rolls the statement back.
      requireProfile(integration, task.profile, trigger.session.key, policy);
      const tools = trigger.execution?.tools;
      if (tools !== undefined) {
        // The one scope rule (tasks/task-scope.ts): cut to the profile's tools, known only now
        // when the profile is the session's. Nothing in common is refused, never widened.
        const allowed = policy.profiles[task.profile!]!.tools;
        const narrowed = narrowScope(tools, allowed);
        if (narrowed.empty) {
          throw invalid(
            integration,
            `triggers[${index}].execution.tools ${JSON.stringify(tools)} has nothing in common with the tools of profile ${task.profile} (${allowed.join(', ') || 'none'})`,
          );
        }
        await setTaskScope(tx, task.id, narrowed.scope);
      }
      outcome.tasks.push(task.id);
      events.push(stored.event);
    }
    answers.push({ outcome, events });
  }
  return answers;
}
