import type { Logger } from '../log.ts';
import type { IntegrationRegistry } from './registry.ts';

/**
 * Closes the upstream instances of tasks that ended. Every way a task ends (completed, failed,
 * cancelled, its lease expired, given back at shutdown, an external task completed or cancelled)
 * revokes its tokens and announces the revocation to every gateway process
 * (TokenService.revoked → onRevoked), so that announcement is the one place to follow: whichever
 * process holds the task's instance closes it. A task that runs again (a requeued lease) gets a
 * fresh instance on its next call. A signing-key retirement announces no task ids and closes
 * nothing. Closing is in the background; a failure is logged, never thrown into the announcer.
 */
export function releaseTaskInstances(
  registry: IntegrationRegistry,
  taskIds: readonly string[],
  log: Logger,
): void {
  if (taskIds.length === 0) return;
  for (const item of registry.list()) {
    const pool = item.upstream;
    if (!pool || pool.mode === 'shared') continue;
    for (const taskId of taskIds) {
      pool
        .release({ taskId })
        .catch((error: unknown) =>
          log.warn(
            { integration: item.name, taskId, err: error },
            'closing the instance of an ended task failed',
          ),
        );
    }
  }
}
