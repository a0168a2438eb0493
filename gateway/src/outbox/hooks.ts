import { taskEventHookInputSchema } from '@switchboard/sdk';
import * as z from 'zod';
import { callHandler } from '../integrations/handler-call.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import { type Attempt, HANDLER_TIMEOUT_MS, permanent } from './dispatchers.ts';

/**
 * A lifecycle hook's outbox row (kind `event`, target type `hook`, written by events/store.ts
 * fanOut with the event) handed to the integration's hidden hook tool, with the outbox's
 * retries, backoff, dead letters and leases (worker.ts). The row was written while the hook
 * was declared and granted; each attempt checks again, so a hook that is no longer declared,
 * or a hook of another integration's session that lost `sessions: all`, dead-letters instead
 * of reaching the tool. An integration that is refused or not running is retried (a reload may
 * bring it back), like a dispatcher.
 */

export const HookTarget = z.object({
  type: z.literal('hook'),
  integration: z.string(),
  tool: z.string(),
});

export async function deliverToHook(
  registry: IntegrationRegistry,
  target: Record<string, unknown>,
  payload: Record<string, unknown>,
): Promise<Attempt> {
  const { integration, tool } = HookTarget.parse(target);
  const input = taskEventHookInputSchema.safeParse(payload);
  if (!input.success) {
    throw permanent(
      'dispatch_input_invalid',
      `hook ${integration}:${tool}: ${input.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const item = registry.get(integration);
  const hook = item?.manifest?.events.find((h) => h.tool === tool);
  if (item?.manifest && !hook) {
    throw permanent(
      'subscription_deleted',
      `hook ${integration}:${tool} is no longer declared in the integration's events`,
    );
  }
  const own = input.data.session.key.startsWith(`${integration}:`);
  if (hook && !own && hook.sessions !== 'all') {
    throw permanent(
      'subscription_deleted',
      `hook ${integration}:${tool} no longer takes the events of sessions it does not own (sessions: own)`,
    );
  }
  // Refused, starting, stopped or unknown: handler_unavailable / integration_unknown.
  await callHandler(registry, integration, tool, input.data, { timeoutMs: HANDLER_TIMEOUT_MS });
  return { ok: true };
}
