import { SpanKind, type SpanOptions } from '../telemetry/spans.ts';
import type { LeasedTaskRow } from './store.ts';

/**
 * A task run's span (the worker's `task run`): a CONSUMER continuing the trace of whatever
 * created the task (a delivery's processing, an API request: the row's trace_parent), on
 * whichever replica claimed it.
 */
export function taskRunSpan(task: LeasedTaskRow, profile: string): SpanOptions {
  return {
    kind: SpanKind.CONSUMER,
    parent: task.traceParent,
    attributes: {
      'switchboard.task.id': task.id,
      'switchboard.profile': profile,
      'switchboard.attempt': task.attempts,
      // How long it waited in the queue once due (run_at → claimed).
      ...(task.startedAt !== null && {
        'switchboard.queue.wait_ms': Math.max(0, task.startedAt.getTime() - task.runAt.getTime()),
      }),
      ...(task.sessionId !== null && { 'switchboard.session.id': task.sessionId }),
    },
  };
}
