import { approvalRequestInputSchema, dispatcherInputSchema } from '@switchboard/sdk';
import * as z from 'zod';
import { SwitchboardError } from '../errors.ts';
import { callHandler } from '../integrations/handler-call.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { DispatchedTask } from './internal.ts';

/**
 * A row's target handed to the integration that declares its dispatcher type (the outbox
 * worker's manifest leg, worker.ts): its `deliver` handler for a task's result, its `approvals`
 * handler for an approval request. An attempt's outcome in the worker's terms.
 */

/** Dispatchers are the integration's own code on its own budget: 30 s a call. */
export const HANDLER_TIMEOUT_MS = 30_000;

export type Attempt =
  | { ok: true; httpStatus?: number }
  | { ok: false; retryable: boolean; error: string; httpStatus?: number; retryAfterMs?: number };

export const DispatchTarget = z.object({
  type: z.string(),
  config: z.record(z.string(), z.unknown()).default({}),
  sessionId: z.string().nullable().default(null),
  sessionKey: z.string().nullable().default(null),
});
export type DispatchTarget = z.output<typeof DispatchTarget>;

/** A failure that retrying cannot fix: these codes are 400s, not retryable (error-codes.ts). */
export const permanent = (
  code: 'subscription_deleted' | 'dispatch_config_invalid' | 'dispatch_input_invalid',
  message: string,
) => new SwitchboardError(code, message);

/** An approval request to a manifest dispatcher's `approvals` handler. */
export async function announceToIntegration(
  registry: IntegrationRegistry,
  target: DispatchTarget,
  approval: Record<string, unknown>,
): Promise<Attempt> {
  const owner = registry
    .list()
    .find((i) => i.manifest?.dispatchers.some((d) => d.type === target.type));
  const handler = owner?.manifest?.dispatchers.find((d) => d.type === target.type)?.approvals;
  if (!owner || handler === undefined) {
    // Retried: a reload may bring it back (the row was written while one declared it).
    return {
      ok: false,
      retryable: true,
      error: `no integration declares an approvals handler for dispatcher type ${target.type}`,
    };
  }
  const input = approvalRequestInputSchema.safeParse({
    approval,
    ...sessionOf(target),
    dispatch: { type: target.type, config: target.config },
  });
  if (!input.success) {
    throw permanent(
      'dispatch_input_invalid',
      `approvals of ${target.type}: ${input.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  await callHandler(registry, owner.name, handler, input.data, {
    timeoutMs: HANDLER_TIMEOUT_MS,
  });
  return { ok: true };
}

/** A manifest dispatcher: the integration that declares the type, its handler tool. */
export async function deliverToIntegration(
  registry: IntegrationRegistry,
  target: DispatchTarget,
  task: DispatchedTask,
): Promise<Attempt> {
  const owner = registry
    .list()
    .find((i) => i.manifest?.dispatchers.some((d) => d.type === target.type));
  const dispatcher = owner?.manifest?.dispatchers.find((d) => d.type === target.type);
  if (!owner || !dispatcher) {
    // Retried: a reload may bring the integration that declares it.
    return {
      ok: false,
      retryable: true,
      error: `no integration declares dispatcher type ${target.type}`,
    };
  }
  const input = dispatcherInputSchema.safeParse({
    task,
    ...sessionOf(target),
    dispatch: { type: target.type, config: target.config },
  });
  if (!input.success) {
    throw permanent(
      'dispatch_input_invalid',
      `dispatcher ${target.type}: ${input.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  await callHandler(registry, owner.name, dispatcher.handler, input.data, {
    timeoutMs: HANDLER_TIMEOUT_MS,
  });
  return { ok: true };
}

/**
 * A dispatcher's `session` argument: left out for a task without a session (its own `dispatch`
 * named the target). Sent as nulls, it failed the input schema and dead-lettered the result.
 */
function sessionOf(target: { sessionId: string | null; sessionKey: string | null }) {
  return target.sessionId === null || target.sessionKey === null
    ? {}
    : { session: { id: target.sessionId, key: target.sessionKey } };
}
