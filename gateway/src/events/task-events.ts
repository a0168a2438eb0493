import { type EventBus, MAX_NOTIFY_BYTES } from '../db/bus.ts';
import type { Sql } from '../db/connect.ts';
import type { Logger } from '../log.ts';
import { listTaskEvents, type TaskEvent } from './store.ts';

/**
 * Live task events across gateway processes. The rows are the truth; the bus only says "task X
 * has events up to seq N", one line `<task id> <seq>` per task, so a NOTIFY stays far below the
 * 8000-byte cap (a line is ≤ 57 bytes: a 36-char uuid, a space, ≤ 20 digits) and a listener
 * re-reads from the database after the last seq it has. A lost notice therefore delays an event
 * until the next one (or the next poll of a follower), it never loses it.
 */
export const TASK_EVENTS_CHANNEL = 'switchboard_task_events';

export interface TaskEventNotice {
  taskId: string;
  seq: string;
}

/** Called with the events of a transaction once it has committed (never before). */
export type PublishTaskEvents = (events: readonly TaskEvent[]) => Promise<void>;

/** Newest seq per task, packed into as few payloads as fit in a NOTIFY. */
export function encodeNotices(events: readonly TaskEventNotice[]): string[] {
  const newest = new Map<string, bigint>();
  for (const e of events) {
    const seq = BigInt(e.seq);
    const seen = newest.get(e.taskId);
    if (seen === undefined || seq > seen) newest.set(e.taskId, seq);
  }
  const payloads: string[] = [];
  let current = '';
  for (const [taskId, seq] of newest) {
    const line = `${taskId} ${seq}`;
    if (current !== '' && current.length + 1 + line.length > MAX_NOTIFY_BYTES) {
      payloads.push(current);
      current = '';
    }
    current = current === '' ? line : `${current}\n${line}`;
  }
  if (current !== '') payloads.push(current);
  return payloads;
}

const LINE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}) ([0-9]{1,20})$/;

/** Lines that do not parse are dropped (another build on the same channel, say). */
export function decodeNotices(payload: string): TaskEventNotice[] {
  const notices: TaskEventNotice[] = [];
  for (const line of payload.split('\n')) {
    const match = LINE.exec(line);
    if (match) notices.push({ taskId: match[1]!, seq: match[2]! });
  }
  return notices;
}

/** A PublishTaskEvents over the bus that never throws: the change is committed already. */
export function taskEventPublisher(bus: EventBus, log: Logger): PublishTaskEvents {
  return async (events) => {
    for (const payload of encodeNotices(events)) {
      try {
        await bus.publish(TASK_EVENTS_CHANNEL, payload);
      } catch (error) {
        log.warn({ err: error }, 'could not publish task events (followers catch up on the next)');
      }
    }
  };
}

/**
 * One subscription to the channel per process, fanned out to the listeners of each task: an SSE
 * stream per task would otherwise cost a LISTEN each.
 */
export class TaskEventWaker {
  private readonly listeners = new Map<string, Set<(seq: string) => void>>();
  private unsubscribe: (() => Promise<void>) | undefined;

  private constructor(private readonly log: Logger) {}

  static async start(bus: EventBus, log: Logger): Promise<TaskEventWaker> {
    const waker = new TaskEventWaker(log);
    waker.unsubscribe = await bus.subscribe(TASK_EVENTS_CHANNEL, (p) => waker.deliver(p));
    return waker;
  }

  /** Calls `listener` with the newest seq whenever events of the task commit; returns unwatch. */
  watch(taskId: string, listener: (seq: string) => void): () => void {
    const set = this.listeners.get(taskId) ?? new Set();
    this.listeners.set(taskId, set);
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(taskId) === set) this.listeners.delete(taskId);
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.unsubscribe?.();
  }

  private deliver(payload: string): void {
    for (const notice of decodeNotices(payload)) {
      for (const listener of this.listeners.get(notice.taskId) ?? []) {
        try {
          listener(notice.seq);
        } catch (error) {
          this.log.error({ err: error, taskId: notice.taskId }, 'task event listener failed');
        }
      }
    }
  }
}

export interface FollowOptions {
  afterSeq?: string | undefined;
  signal: AbortSignal;
  /** Re-read this often even without a notice (a notice lost with a dropped connection). */
  pollMs?: number;
  /** Rows per read. */
  batch?: number;
}

/**
 * The events of a task from `afterSeq` on, then live, until `signal` aborts: what an SSE stream
 * with Last-Event-ID resume needs. It watches before its first read, so an event committed
 * between the read and the watch is not missed; wakes while a read runs are coalesced.
 */
export async function* followTaskEvents(
  sql: Sql,
  waker: TaskEventWaker,
  taskId: string,
  options: FollowOptions,
): AsyncGenerator<TaskEvent> {
  let afterSeq = options.afterSeq;
  let wake: (() => void) | undefined;
  let woken = true;
  const signalled = () => {
    woken = true;
    wake?.();
  };
  const unwatch = waker.watch(taskId, signalled);
  options.signal.addEventListener('abort', signalled, { once: true });
  try {
    while (!options.signal.aborted) {
      if (!woken) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, options.pollMs ?? 5_000);
          timer.unref();
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        if (options.signal.aborted) return;
      }
      woken = false;
      for (;;) {
        const events = await listTaskEvents(sql, taskId, { afterSeq, limit: options.batch ?? 500 });
        for (const event of events) {
          afterSeq = event.seq;
          yield event;
        }
        if (events.length < (options.batch ?? 500)) break;
      }
    }
  } finally {
    unwatch();
    options.signal.removeEventListener('abort', signalled);
  }
}
