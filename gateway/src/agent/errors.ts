import { type ErrorCode, SwitchboardError } from '../errors.ts';

/**
 * Why the reference agent stopped: a SwitchboardError with one of these codes. Its exitCode
 * (error-codes.ts) is 2 when the input is wrong (the bundle, the plan: running it again will not
 * help) and 1 when a step failed (a tool call, a connection), so a runner or a person can tell
 * the two apart from the exit code alone.
 */
export const AGENT_ERROR_CODES = [
  'agent_bundle_invalid',
  'agent_plan_invalid',
  'agent_step_failed',
] as const satisfies readonly ErrorCode[];

export function isAgentError(error: unknown): error is SwitchboardError {
  return (
    error instanceof SwitchboardError &&
    (AGENT_ERROR_CODES as readonly string[]).includes(error.code)
  );
}
