import { Router } from 'express';
import * as z from 'zod';
import type { Pool } from '../db/connect.ts';
import { notFound } from '../errors.ts';
import type { Scope } from '../keys/scopes.ts';
import { type TraceAnswer, type TraceOwner, traceDelivery, traceTask } from '../trace/trace.ts';
import { parseInput } from '../validate.ts';
import { requireScope } from './auth.ts';

/**
 * GET /api/v1/trace/deliveries/:id and /trace/tasks/:id (issue 17): the chain of one event as a
 * tree with times (gateway/src/trace/). A trace shows a delivery and tasks together, so it needs
 * both read scopes. An integration's process key, should its row ever hold them, sees only the
 * traces of its own deliveries and sessions, and another's answers 404 like an unknown id (a 403
 * would tell it the id exists).
 */
export const TRACE_SCOPES: readonly Scope[] = ['tasks:read', 'deliveries:read'];

const TraceNodeKind = z.enum([
  'delivery',
  'task',
  'tool_call',
  'approval',
  'event',
  'outbox',
  'attempt',
  'omitted',
]);

export const TraceNodeView = z.object({
  kind: TraceNodeKind,
  id: z.string(),
  label: z.string(),
  status: z.string(),
  startedAt: z.string(),
  durationMs: z.number().nullable(),
  running: z.boolean(),
  error: z.string().nullable(),
  traceId: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  // Not a recursive schema: z.toJSONSchema would point its $ref at a root the OpenAPI document
  // does not have.
  children: z
    .array(z.record(z.string(), z.unknown()))
    .describe('the steps under this one, each of this same shape'),
});

export const TraceAnswerView = z.object({
  trace: z.object({
    root: TraceNodeView,
    focus: z.object({ kind: z.enum(['delivery', 'task']), id: z.string() }),
    limits: z.record(z.string(), z.number()),
  }),
});

const TraceParams = z.strictObject({ id: z.uuid({ error: 'expected a uuid' }) });

function visible(apiKey: { integration: string | null } | undefined, owner: TraceOwner): boolean {
  const integration = apiKey?.integration;
  if (!integration) return true;
  return (
    owner.integration === integration ||
    (owner.integration === null && owner.sessionKey?.startsWith(`${integration}:`) === true)
  );
}

export function traceRoutes(sql: Pool): Router {
  const router = Router();
  const scopes = TRACE_SCOPES.map(requireScope);
  const route = (kind: 'deliveries' | 'tasks', load: typeof traceDelivery) => {
    router.get(`/trace/${kind}/:id`, ...scopes, async (req, res) => {
      const { id } = parseInput(TraceParams, req.params, 'path');
      const answer: TraceAnswer | undefined = await load(sql, id);
      if (!answer || !visible(req.apiKey, answer.owner)) {
        throw notFound(`no ${kind === 'tasks' ? 'task' : 'delivery'} ${JSON.stringify(id)}`);
      }
      res.json({ trace: answer.trace });
    });
  };
  route('deliveries', traceDelivery);
  route('tasks', traceTask);
  return router;
}
