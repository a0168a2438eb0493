import { Router } from 'express';
import { appendAudit } from '../audit/store.ts';
import { SwitchboardError } from '../errors.ts';
import type { PublishTaskEvents } from '../events/task-events.ts';
import {
  EndTaskInput,
  ExternalTaskInput,
  finishTask,
  grantExternalTask,
  type TaskDeps,
} from '../tasks/external.ts';
import { cancelTask, getQueueTask } from '../tasks/queue.ts';
import { listQueueTasks } from '../tasks/store.ts';
import { listTaskTokens } from '../tokens/store.ts';
import { parseInput } from '../validate.ts';
import { actorOf, requireScope } from './auth.ts';
import {
  ConfigBody,
  CreateTaskBody,
  ListTasksQuery,
  type TaskView,
  taskTokenView,
  taskView,
} from './schemas.ts';
import { taskBudgetView } from './task-budget.ts';
import { taskConfig } from './task-config.ts';
import { createQueuedTask } from './task-create.ts';
import { type EventStreamDeps, taskEventsHandler } from './task-events.ts';

/**
 * /api/v1/tasks: queued tasks (the gateway runs an agent with a profile) and external tasks
 * (`external: true`: the operator runs the agent, issue 4) share the routes; each route's
 * shapes are in schemas.ts and its entry in routes.ts.
 */
export type TasksDeps = TaskDeps & Omit<EventStreamDeps, 'sql'> & { publish: PublishTaskEvents };

const isExternal = (body: unknown): boolean =>
  typeof body === 'object' && body !== null && (body as { external?: unknown }).external === true;

export function tasksRoutes(deps: TasksDeps): Router {
  const router = Router();

  // 201 with a new task, 200 with the existing one when the idempotency key was used before.
  // External tasks answer their tokens, in this response and nowhere else.
  router.post('/tasks', requireScope('tasks:write'), async (req, res) => {
    if (isExternal(req.body)) {
      const input = parseInput(ExternalTaskInput, req.body, 'task');
      res.status(201).json(await grantExternalTask(deps, input, actorOf(req)));
      return;
    }
    const body = parseInput(CreateTaskBody, req.body ?? {}, 'task');
    const { task, created } = await createQueuedTask(deps, body, actorOf(req));
    res.status(created ? 201 : 200).json({ task: taskView(task) });
  });

  router.get('/tasks', requireScope('tasks:read'), async (req, res) => {
    const q = parseInput(ListTasksQuery, req.query, 'query');
    const rows = await listQueueTasks(deps.sql, {
      statuses: q.status,
      profile: q.profile,
      sessionId: q.session,
      external: q.external,
      beforeSeq: q.cursor,
      limit: q.limit,
    });
    const tasks: TaskView[] = rows.map(taskView);
    res.json({ tasks, next: rows.length === q.limit ? (rows.at(-1)?.seq ?? null) : null });
  });

  router.get('/tasks/:id', requireScope('tasks:read'), async (req, res) => {
    const task = await getQueueTask(deps.sql, req.params.id as string);
    const policy = deps.registry.currentPolicy();
    res.json({ task: taskView(task), budget: await taskBudgetView(deps.sql, policy, task) });
  });

  router.get('/tasks/:id/events', requireScope('tasks:read'), taskEventsHandler(deps));

  // Metadata only (audience, scope, expiry, revoked): a token's value is answered once, at issue.
  router.get('/tasks/:id/tokens', requireScope('tasks:read'), async (req, res) => {
    const task = await getQueueTask(deps.sql, req.params.id as string);
    const tokens = await listTaskTokens(deps.sql, task.id);
    res.json({ tokens: tokens.map(taskTokenView) });
  });

  // A POST: it mints tokens (a GET could be repeated by a cache, a prefetch or a crawler).
  router.post('/tasks/:id/config', requireScope('tasks:write'), async (req, res) => {
    const { format } = parseInput(ConfigBody, req.body ?? {}, 'request');
    res.json(await taskConfig(deps, req.params.id as string, format, actorOf(req)));
  });
  router.all('/tasks/:id/config', (req, res) => {
    res.set('Allow', 'POST');
    throw new SwitchboardError(
      'method_not_allowed',
      `${req.method} is not allowed: a task config mints tokens, so it is POST /api/v1/tasks/${req.params.id}/config with {"format": "claude|codex|cursor|goose|json"}`,
    );
  });

  // Operators end external tasks here; a queued task completes through its agent.
  router.post('/tasks/:id/complete', requireScope('tasks:write'), async (req, res) => {
    const input = parseInput(EndTaskInput, req.body ?? {}, 'request');
    const task = await finishTask(
      deps,
      req.params.id as string,
      { status: 'complete', result: input.result, reason: input.reason },
      actorOf(req),
    );
    res.json({ task });
  });

  router.post('/tasks/:id/cancel', requireScope('tasks:write'), async (req, res) => {
    const input = parseInput(EndTaskInput, req.body ?? {}, 'request');
    const id = req.params.id as string;
    const found = await getQueueTask(deps.sql, id);
    if (found.external) {
      const task = await finishTask(
        deps,
        id,
        { status: 'cancelled', result: input.result, reason: input.reason },
        actorOf(req),
      );
      res.json({ task });
      return;
    }
    const actor = actorOf(req);
    // cancelTask publishes its event after its commit; the runner of a running task learns
    // from that event or from its lost lease, and the tokens stop verifying now.
    const result = await cancelTask(deps.sql, id, { by: actor.actor }, deps.publish);
    if (result.outcome === 'already_ended') {
      throw new SwitchboardError(
        'task_ended',
        `task ${id} has already ended (${result.task.status})`,
      );
    }
    await deps.tokens.revoked([id], result.revokedTokens);
    await appendAudit(deps.sql, {
      ...actor,
      action: 'tasks.cancel',
      target: id,
      details: {
        previousStatus: result.previousStatus,
        revokedTokens: result.revokedTokens.length,
        ...(input.reason ? { reason: input.reason } : {}),
      },
    });
    res.json({ task: taskView(result.task) });
  });

  return router;
}
