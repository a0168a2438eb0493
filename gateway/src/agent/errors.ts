import { EXIT } from '../errors.ts';

/**
 * Why the reference agent stopped, with the exit code it ends with: 2 when its input is wrong
 * (the bundle, the plan: running it again will not help), 1 when a step failed (a tool call, a
 * connection), so a runner or a person can tell the two apart from the code alone.
 */
export class AgentError extends Error {
  readonly exitCode: number;
  constructor(kind: 'bundle' | 'plan' | 'step', message: string) {
    super(message);
    this.name = 'AgentError';
    this.exitCode = kind === 'step' ? EXIT.failure : EXIT.usage;
  }
}
