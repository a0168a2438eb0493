import type { Logger } from '../log.ts';
import type { CallOutcome, GuardedCall, Refusal, ToolCallGuard } from './guard.ts';

/**
 * Runs the guards of one call in order; the first refusal wins. A guard that throws refuses
 * the call (fail closed: a broken rule must not let calls through) and is logged.
 */
export async function checkGuards(
  guards: readonly ToolCallGuard[],
  call: GuardedCall,
  log: Logger,
): Promise<Refusal | undefined> {
  for (const guard of guards) {
    if (!guard.before) continue;
    try {
      const refusal = await guard.before(call);
      if (refusal) return refusal;
    } catch (error) {
      log.error(
        {
          err: error,
          guard: guard.name,
          taskId: call.claims.taskId,
          integration: call.integration,
        },
        'tool call guard failed; the call is refused',
      );
      return {
        code: 'guard_failed',
        message: `the ${guard.name} check failed; the call was refused`,
      };
    }
  }
  return undefined;
}

/** Tells every guard how a call ended; a throw is logged, never the agent's problem. */
export async function reportToGuards(
  guards: readonly ToolCallGuard[],
  call: GuardedCall,
  outcome: CallOutcome,
  log: Logger,
): Promise<void> {
  for (const guard of guards) {
    if (!guard.after) continue;
    try {
      await guard.after(call, outcome);
    } catch (error) {
      log.error(
        {
          err: error,
          guard: guard.name,
          taskId: call.claims.taskId,
          integration: call.integration,
        },
        'tool call guard failed after the call',
      );
    }
  }
}
