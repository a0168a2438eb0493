import { Router } from 'express';
import * as z from 'zod';
import { appendAudit } from '../audit/store.ts';
import { badRequest, notFound } from '../errors.ts';
import { insertTaskEvent } from '../events/store.ts';
import { requireOwnSession } from '../keys/integration-key.ts';
import {
  createOrGetSession,
  findSession,
  insertMessage,
  listMessages,
  listSessions,
  type MessageRow,
  type SessionRow,
} from '../sessions/store.ts';
import { listQueueTasks } from '../tasks/store.ts';
import { parseInput } from '../validate.ts';
import { actorOf, requireScope } from './auth.ts';
import { requireIntegrationRole, requireIntegrationSetup } from './integration-key-bounds.ts';
import {
  CreateSessionBody,
  ListMessagesQuery,
  ListSessionsQuery,
  type MessageView,
  PostMessageBody,
  type SessionView,
  taskView,
} from './schemas.ts';
import { createQueuedTask, currentPolicy, requireProfile } from './task-create.ts';
import type { TasksDeps } from './tasks.ts';

/** /api/v1/sessions: create-or-get by key, list, get, post and list messages. */

const sessionView = (s: SessionRow): z.output<typeof SessionView> => ({
  ...s,
  createdAt: s.createdAt.toISOString(),
  updatedAt: s.updatedAt.toISOString(),
});

const messageView = (m: MessageRow): z.output<typeof MessageView> => ({
  ...m,
  createdAt: m.createdAt.toISOString(),
});

export function sessionsRoutes(deps: TasksDeps): Router {
  const router = Router();
  const find = async (id: string): Promise<SessionRow> => {
    const session = z.uuid().safeParse(id).success ? await findSession(deps.sql, id) : undefined;
    if (!session) throw notFound(`no session ${JSON.stringify(id)}`);
    return session;
  };

  // 201 when this call created the session, 200 with the existing one (its own defaults kept).
  router.post('/sessions', requireScope('sessions:write'), async (req, res) => {
    const body = parseInput(CreateSessionBody, req.body ?? {}, 'session');
    requireOwnSession(req.apiKey, body.key);
    requireIntegrationSetup(req.apiKey, deps.registry, body, '');
    if (body.profile !== undefined) {
      requireProfile(currentPolicy(deps.registry), body.profile, 'profile');
    }
    const { session, created } = await deps.sql.begin(async (tx) => {
      const result = await createOrGetSession(tx, body);
      if (result.created) {
        await appendAudit(tx, {
          ...actorOf(req),
          action: 'sessions.create',
          target: result.session.id,
          details: { key: body.key, profile: body.profile ?? null },
        });
      }
      return result;
    });
    res.status(created ? 201 : 200).json({ session: sessionView(session) });
  });

  router.get('/sessions', requireScope('sessions:read'), async (req, res) => {
    const q = parseInput(ListSessionsQuery, req.query, 'query');
    const rows = await listSessions(deps.sql, { limit: q.limit, after: q.cursor });
    res.json({
      sessions: rows.map(sessionView),
      next: rows.length === q.limit ? (rows.at(-1)?.cursor ?? null) : null,
    });
  });

  router.get('/sessions/:id', requireScope('sessions:read'), async (req, res) => {
    res.json({ session: sessionView(await find(req.params.id as string)) });
  });

  router.post('/sessions/:id/messages', requireScope('sessions:write'), async (req, res) => {
    const body = parseInput(PostMessageBody, req.body ?? {}, 'message');
    const session = await find(req.params.id as string);
    requireOwnSession(req.apiKey, session.key);
    requireIntegrationRole(req.apiKey, body.role);
    if (body.run_agent) {
      // Refuse before the message is stored: a failed request leaves nothing behind.
      const policy = currentPolicy(deps.registry);
      if (session.profile === null) {
        const known = Object.keys(policy.profiles).join(', ') || 'none';
        throw badRequest(
          `invalid message: run_agent: session ${session.key} has no default profile to run (create it with one of: ${known})`,
          { issues: [{ path: 'run_agent', message: 'the session has no default profile' }] },
        );
      }
      requireProfile(policy, session.profile, 'session');
      // The session may predate this key's rules, or an operator may have set it up.
      requireIntegrationSetup(req.apiKey, deps.registry, session, 'session.');
    }
    const actor = actorOf(req);
    const message = await deps.sql.begin(async (tx) => {
      const row = await insertMessage(tx, session.id, {
        role: body.role,
        content: body.content,
        source: { actor: actor.actor },
      });
      if (!row) throw notFound(`no session ${session.id}`);
      await appendAudit(tx, {
        ...actor,
        action: 'sessions.message',
        target: session.id,
        details: { messageId: row.id, role: body.role, runAgent: body.run_agent },
      });
      return row;
    });
    if (body.notify) {
      // The running task of the session (one at a time) hears of the message; ask_user waits
      // for exactly this. After the message's commit, so a woken reader finds it.
      const [running] = await listQueueTasks(deps.sql, {
        sessionId: session.id,
        statuses: ['running'],
        limit: 1,
      });
      if (running) {
        const event = await insertTaskEvent(deps.sql, {
          taskId: running.id,
          type: 'task:message',
          data: { messageId: message.id, role: message.role },
        });
        await deps.publish([event]);
      }
    }
    const task = body.run_agent
      ? (
          await createQueuedTask(deps, { prompt: body.content, session: session.id }, actor, {
            messageId: message.id,
          })
        ).task
      : null;
    res.status(201).json({ message: messageView(message), task: task ? taskView(task) : null });
  });

  router.get('/sessions/:id/messages', requireScope('sessions:read'), async (req, res) => {
    const q = parseInput(ListMessagesQuery, req.query, 'query');
    const session = await find(req.params.id as string);
    const rows = await listMessages(deps.sql, session.id, { limit: q.limit, afterId: q.after });
    res.json({
      messages: rows.map(messageView),
      next: rows.length === q.limit ? (rows.at(-1)?.id ?? null) : null,
    });
  });

  return router;
}
