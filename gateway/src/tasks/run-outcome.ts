import type { RunResult } from '../runners/runner.ts';

/** How a task ends when its agent did not report a result (task_complete). */
export type RunOutcome =
  | { kind: 'complete'; result: string }
  | { kind: 'fail'; reason: string; error: string };

/**
 * A clean exit completes with the agent's final answer (read from its structured output by an
 * agent preset's parser) or else stdout (its tail) as the result; anything else fails with a
 * stable reason code: agent_exit (with the code or signal), agent_failed (a clean exit whose
 * output said the run failed: goose's "Network error" notice), timeout, spawn_failed, and
 * worker_error for a run stopped with no reason recorded (a bug, never an agent's doing).
 */
export function runOutcome(run: RunResult, timeoutMs: number): RunOutcome {
  const fail = (reason: string, error: string): RunOutcome => ({ kind: 'fail', reason, error });
  switch (run.reason) {
    case 'exited':
      if (run.exitCode === 0 && run.failure !== undefined) return fail('agent_failed', run.failure);
      if (run.exitCode === 0) return { kind: 'complete', result: run.answer ?? run.stdoutTail };
      return fail(
        'agent_exit',
        run.exitCode === null
          ? `the agent was killed by ${run.signal}`
          : `the agent exited with code ${run.exitCode}`,
      );
    case 'timeout':
      return fail('timeout', `the agent did not finish within ${timeoutMs} ms`);
    case 'spawn_failed':
      return fail('spawn_failed', run.error ?? 'the agent could not be started');
    case 'cancelled':
      return fail('worker_error', 'the agent was stopped for no recorded reason');
  }
}
