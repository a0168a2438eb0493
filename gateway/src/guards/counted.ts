import type { Counter } from 'prom-client';
import { UNKNOWN_LABEL } from '../tasks/tool-events.ts';
import type { ToolCallGuard } from './guard.ts';

/**
 * The guard with its refusals counted in switchboard_guard_refusals_total{guard, integration,
 * code} (http/metrics.ts). The labels are bounded: the guard's own name, an integration the
 * registry holds (else `unknown`), the refusal's error code (error-codes.ts). A guard that
 * throws is counted by the chain's `guard_failed`, which this wrapper does not see.
 */
export function countedGuard(
  guard: ToolCallGuard,
  refusals: Pick<Counter<'guard' | 'integration' | 'code'>, 'inc'>,
  known: (integration: string) => boolean,
): ToolCallGuard {
  const before = guard.before?.bind(guard);
  if (!before) return guard;
  return {
    name: guard.name,
    ...(guard.after && { after: guard.after.bind(guard) }),
    async before(call) {
      const refusal = await before(call);
      if (refusal) {
        const integration = known(call.integration) ? call.integration : UNKNOWN_LABEL;
        refusals.inc({ guard: guard.name, integration, code: refusal.code });
      }
      return refusal;
    },
  };
}
