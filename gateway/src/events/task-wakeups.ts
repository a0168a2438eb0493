import type { TaskEventWaker } from './task-events.ts';

/**
 * Waiting on a task until one of its events commits (on any replica: the waker hears the bus)
 * or a poll interval passes: ask_user waiting for a reply, a held call waiting for its approval.
 * A wake that arrives while the waiter is not waiting (reading the database) is remembered, so
 * a change committed between a read and the next wait is never missed.
 */
export interface TaskWakeups {
  /**
   * Resolves after `ms`, on the task's next event (or at once if one came since the last
   * wait), or when `signal` aborts; true when an event woke it.
   */
  wait(ms: number, signal?: AbortSignal): Promise<boolean>;
  /** Stops watching (call in a finally). */
  close(): void;
}

export function watchTask(waker: Pick<TaskEventWaker, 'watch'>, taskId: string): TaskWakeups {
  let woken = false;
  let wake: (() => void) | undefined;
  const unwatch = waker.watch(taskId, () => {
    woken = true;
    wake?.();
  });
  return {
    async wait(ms, signal) {
      if (!woken && !signal?.aborted) {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            wake = undefined;
            resolve();
          };
          const timer = setTimeout(done, Math.max(0, ms));
          signal?.addEventListener('abort', done, { once: true });
          wake = done;
        });
      }
      const byEvent = woken;
      woken = false;
      return byEvent;
    },
    close: unwatch,
  };
}
