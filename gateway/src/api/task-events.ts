import type { Request, Response } from 'express';
import type { Pool } from '../db/connect.ts';
import type { TaskEvent } from '../events/store.ts';
import { listTaskEvents } from '../events/store.ts';
import { followTaskEvents, type TaskEventWaker } from '../events/task-events.ts';
import { getQueueTask } from '../tasks/queue.ts';
import { parseInput } from '../validate.ts';
import { EventsQuery } from './schemas.ts';
import type { OpenStreams } from './streams.ts';

/**
 * GET /api/v1/tasks/:id/events: the task's events as Server-Sent Events. Each is `id: <seq>`,
 * `event: <type>`, `data: <json>`; a client that reconnects with Last-Event-ID (or ?after=)
 * gets exactly the events after that seq. The stream ends once a terminal event has been sent.
 */

/** The events after which nothing more happens to a task. `task:complete` is what an external
 * task's `POST …/complete` writes (issue 4); the queue writes `task:done`. */
export const TERMINAL_EVENTS = new Set([
  'task:done',
  'task:failed',
  'task:cancelled',
  'task:complete',
]);

/** A comment line every 15 s keeps proxies (nginx drops idle upstreams after 60 s) from closing. */
export const HEARTBEAT_MS = 15_000;

export interface EventStreamDeps {
  sql: Pool;
  waker: () => Promise<TaskEventWaker>;
  streams: OpenStreams;
  /** How often a follower re-reads without a notice (events written by another process's bus). */
  pollMs: number;
}

const format = (e: TaskEvent): string =>
  `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({
    seq: e.seq,
    taskId: e.taskId,
    type: e.type,
    data: e.data,
    createdAt: e.createdAt.toISOString(),
  })}\n\n`;

async function write(res: Response, text: string): Promise<void> {
  if (res.write(text)) return;
  // A slow reader: wait for the socket to drain (or close) instead of buffering without bound.
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export function taskEventsHandler(deps: EventStreamDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const query = parseInput(EventsQuery, req.query, 'query');
    const header = req.get('last-event-id');
    const resume =
      header === undefined
        ? query.after
        : parseInput(EventsQuery, { after: header }, 'Last-Event-ID').after;
    const task = await getQueueTask(deps.sql, req.params.id as string);
    const waker = await deps.waker();

    res.status(200);
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-cache, no-transform');
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();

    const abort = new AbortController();
    const stop = () => abort.abort();
    req.on('close', stop);
    res.on('close', stop);
    const unregister = deps.streams.add(stop);
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    try {
      // Said once so that EventSource clients reconnect after 2 s rather than their default 3 s.
      await write(res, 'retry: 2000\n\n');
      const ended = task.status !== 'pending' && task.status !== 'running';
      if (ended) {
        // Nothing new will come: send what is after the resume point and end, whether or not
        // the terminal event is among it (a client that already has it gets an empty stream).
        let after = resume;
        for (;;) {
          const batch = await listTaskEvents(deps.sql, task.id, { afterSeq: after, limit: 500 });
          for (const e of batch) await write(res, format(e));
          if (batch.length < 500) break;
          after = batch.at(-1)!.seq;
        }
        return;
      }
      for await (const e of followTaskEvents(deps.sql, waker, task.id, {
        afterSeq: resume,
        signal: abort.signal,
        pollMs: deps.pollMs,
      })) {
        await write(res, format(e));
        if (TERMINAL_EVENTS.has(e.type)) break;
      }
    } finally {
      clearInterval(heartbeat);
      unregister();
      req.off('close', stop);
      res.end();
    }
  };
}
