import { Router } from 'express';
import * as z from 'zod';
import { notFound } from '../errors.ts';
import { actorOf, requireScope } from '../http/auth.ts';
import {
  EndTaskInput,
  ExternalTaskInput,
  finishTask,
  grantExternalTask,
  type TaskDeps,
} from '../tasks/external.ts';
import { findTask } from '../tasks/store.ts';
import { parseInput } from '../validate.ts';

/**
 * /api/v1/tasks. For now: external tasks (the operator runs the agent) with their tokens, and
 * ending a task, which revokes its tokens. Queued tasks arrive with the task queue.
 */
export function tasksRoutes(deps: TaskDeps): Router {
  const router = Router();

  // The tokens are in this response and nowhere else (only their ids are stored).
  router.post('/tasks', requireScope('tasks:write'), async (req, res) => {
    const input = parseInput(ExternalTaskInput, req.body, 'task');
    res.status(201).json(await grantExternalTask(deps, input, actorOf(req)));
  });

  router.get('/tasks/:id', requireScope('tasks:read'), async (req, res) => {
    const id = req.params.id as string;
    const task = z.uuid().safeParse(id).success ? await findTask(deps.sql, id) : undefined;
    if (!task) throw notFound(`no task ${JSON.stringify(id)}`);
    res.json({ task });
  });

  for (const [path, status] of [
    ['complete', 'complete'],
    ['cancel', 'cancelled'],
  ] as const) {
    router.post(`/tasks/:id/${path}`, requireScope('tasks:write'), async (req, res) => {
      const input = parseInput(EndTaskInput, req.body ?? {}, 'request');
      const task = await finishTask(
        deps,
        req.params.id as string,
        { status, result: input.result, reason: input.reason },
        actorOf(req),
      );
      res.json({ task });
    });
  }

  return router;
}
