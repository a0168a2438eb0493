import { AsyncLocalStorage } from 'node:async_hooks';
import { type CallToolResult, createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import type { Pool } from '../db/connect.ts';
import type { DocumentService } from '../documents/service.ts';
import { SwitchboardError } from '../errors.ts';
import { insertTaskEvent } from '../events/store.ts';
import type { PublishTaskEvents, TaskEventWaker } from '../events/task-events.ts';
import { watchTask } from '../events/task-wakeups.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import { contextHistory } from '../sessions/history.ts';
import { lastMessageId, listMessages } from '../sessions/store.ts';
import { recordAgentResult } from '../tasks/sql/agent-result.ts';
import { findQueueTask, type QueueTaskRow } from '../tasks/store.ts';
import type { TokenClaims } from '../tokens/claims.ts';
import { scopeCoversIntegration } from '../tokens/scope.ts';
import { registerDocumentTools } from './document-tools.ts';
import type { McpEndpoint } from './endpoint.ts';
import { BATCH_REFUSED, goneSignal, readBody, sendResponse, toWebRequest } from './http-bridge.ts';
import { servedSkills } from './skills.ts';
import { liveTaskScope } from './task-scope.ts';

/**
 * The built-in `switchboard` MCP server at /mcp/switchboard (ARCHITECTURE §4 "Built-in task
 * tools"): what an agent tells the gateway about its own task. Stateless like /mcp: any replica
 * answers, as every tool only reads or writes the database. The task is the token's `sub`, so a
 * token can only ever touch its own task; the route's guard has already checked that the token
 * is live and its task running.
 */

/** ask_user waits this long for a reply unless the agent asks for less (10 min). */
export const ASK_USER_DEFAULT_MS = 10 * 60_000;
/**
 * ask_user reads the session when an event of its task commits (the bus: LISTEN/NOTIFY on
 * Postgres, so a reply posted on any replica wakes it; `notify: true` on a posted message adds
 * that event, and the task's end adds one too), and at least this often without one: for a
 * message stored without an event (a webhook trigger with `run: false` — a chat reply — or a post
 * without `notify`) or a notice lost with a dropped connection. It was a 500 ms poll with no cap
 * on waiting calls: 1,000 of them on one task were 2,000 queries a second (issue 13). Now one
 * question waits per task and 5 s keeps a chat reply prompt: 0.2 queries a second per task
 * waiting (the same fallback as the task-event stream's, events/task-events.ts).
 */
export const ASK_USER_POLL_MS = 5_000;

export interface TaskToolsDeps {
  sql: Pool;
  log: Logger;
  /**
   * For task_context's `skills`: the skills the task's token can read as MCP resources
   * (mcp/skills.ts). Absent in tests that build the endpoint alone: no skills listed.
   */
  registry?: Pick<IntegrationRegistry, 'list'>;
  publish: PublishTaskEvents;
  /**
   * Writes this process's queued task:tool_use events (tasks/tool-events.ts batches them for
   * 200 ms) before a task tool's event, so the agent's calls are in the order it made them.
   */
  flushToolEvents?: () => Promise<void>;
  /** Wakes a waiting ask_user when an event of its task commits (events/task-events.ts). */
  waker: Pick<TaskEventWaker, 'watch'>;
  /**
   * The profile's secret values out of what the agent hands in (tasks/output-redaction.ts
   * profileRedactor): an agent that puts its API key in a result does not store it.
   */
  redactFor?: (claims: TokenClaims) => Promise<(text: string) => string>;
  /** Default ASK_USER_POLL_MS; tests may go faster. */
  pollMs?: number;
  /** Documents (issue 18): `search_documents` is offered only with it (document-tools.ts). */
  documents?: DocumentService;
}

/**
 * The skills a task can read with resources/read (mcp/skills.ts): those of the ready
 * integrations its tokens' scope covers any tool of — the same rule the MCP endpoints apply
 * (mcp/view.ts visibleIntegrations). The scope is that of the task's live tokens (the grant's,
 * scope ∩ profile), not of this /mcp/switchboard token, whose scope is the task tools alone.
 * At most SKILLS_LISTED_MAX per integration.
 */
async function skillsFor(
  deps: Pick<TaskToolsDeps, 'sql' | 'registry'>,
  taskId: string,
): Promise<Array<{ name: string; description: string; uri: string }>> {
  if (!deps.registry) return [];
  const scope = await liveTaskScope(deps.sql, taskId);
  const items = deps.registry
    .list()
    .filter((item) => item.state === 'ready' && scopeCoversIntegration(scope, item.name));
  return (await servedSkills(items)).map((s) => ({
    name: s.name,
    description: s.description,
    uri: s.uri,
  }));
}

/** Served like the MCP endpoints (same handle/close), behind the same token guard. */
export type TaskToolsEndpoint = McpEndpoint;

const text = (value: string, structured?: Record<string, unknown>): CallToolResult => ({
  content: [{ type: 'text', text: value }],
  ...(structured && { structuredContent: structured }),
});

const toolError = (message: string): CallToolResult => ({
  content: [{ type: 'text', text: message }],
  isError: true,
});

export function createTaskToolsEndpoint(deps: TaskToolsDeps): TaskToolsEndpoint {
  const scope = new AsyncLocalStorage<TokenClaims>();
  const pollMs = deps.pollMs ?? ASK_USER_POLL_MS;
  /**
   * Tasks with an ask_user waiting, in this process: one question at a time per task (an agent
   * cannot take two answers at once, and each wait holds a request slot and a watch). Per
   * process like the in-flight cap: behind N replicas a task may wait N times at worst.
   */
  const asking = new Set<string>();
  const redactor = (claims: TokenClaims) =>
    deps.redactFor ? deps.redactFor(claims) : Promise.resolve((t: string) => t);

  /** The claims's task while it runs; a tool error otherwise (ended since the guard checked). */
  async function runningTask(claims: TokenClaims): Promise<QueueTaskRow | string> {
    const task = await findQueueTask(deps.sql, claims.taskId);
    if (!task) return `task ${claims.taskId} does not exist`;
    if (task.status !== 'running') return `task ${claims.taskId} has ended (${task.status})`;
    return task;
  }

  async function event(taskId: string, type: string, data: Record<string, unknown>) {
    await deps.flushToolEvents?.();
    const row = await insertTaskEvent(deps.sql, { taskId, type, data });
    await deps.publish([row]);
  }

  async function askAndWait(
    claims: TokenClaims,
    task: { id: string; sessionId: string },
    question: string,
    options: string[] | undefined,
    timeoutSeconds: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<CallToolResult> {
    const after = await lastMessageId(deps.sql, task.sessionId);
    // Never past the token's expiry: the answer could not be acted on.
    const waitMs = Math.min(
      (timeoutSeconds ?? ASK_USER_DEFAULT_MS / 1000) * 1000,
      Math.max(0, claims.expiresAt * 1000 - Date.now()),
    );
    // Watch before the question goes out: a reply committed between a read and the wait is
    // not missed (the wake is remembered until the next wait).
    const wakeups = watchTask(deps.waker, task.id);
    try {
      await event(task.id, 'task:ask_user', {
        question,
        ...(options && { options }),
        timeoutMs: waitMs,
      });
      const until = Date.now() + waitMs;
      let byBus = false;
      while (!signal?.aborted && Date.now() < until) {
        deps.log.debug({ taskId: task.id, woken: byBus }, 'ask_user: reading the session');
        const [reply] = (
          await listMessages(deps.sql, task.sessionId, { afterId: after, limit: 50 })
        ).filter((m) => m.role !== 'agent');
        if (reply) {
          return text(reply.content, {
            answered: true,
            reply: reply.content,
            messageId: reply.id,
          });
        }
        const now = await findQueueTask(deps.sql, task.id);
        if (now?.status !== 'running') return toolError(`task ${task.id} has ended`);
        byBus = await wakeups.wait(Math.min(pollMs, Math.max(0, until - Date.now())), signal);
      }
      return text(`no reply within ${Math.round(waitMs / 1000)} s`, { answered: false });
    } finally {
      wakeups.close();
    }
  }

  function build(claims: TokenClaims): McpServer {
    const server = new McpServer({ name: 'switchboard', version: '1.0.0' });

    server.registerTool(
      'task_complete',
      {
        description:
          'Finish your task with its result. Call it once, at the end; then exit. The task is complete once you exit (or a few seconds after this call).',
        inputSchema: z.object({ result: z.string().max(1_000_000) }),
      },
      async ({ result: raw }) => {
        const result = (await redactor(claims))(raw);
        // Only recorded: the worker that holds the lease ends the task with it (worker.ts).
        const recorded = await recordAgentResult(deps.sql, claims.taskId, result);
        if (!recorded) return toolError(`task ${claims.taskId} is not running`);
        await event(claims.taskId, 'task:completing', { resultBytes: Buffer.byteLength(result) });
        return text('recorded; the task completes when you exit', { ok: true });
      },
    );

    server.registerTool(
      'task_progress',
      {
        description: 'Report progress: a message, optionally with progress out of total.',
        inputSchema: z.object({
          message: z.string().min(1).max(10_000),
          progress: z.number().min(0).optional(),
          total: z.number().positive().optional(),
        }),
      },
      async ({ message, progress, total }) => {
        const task = await runningTask(claims);
        if (typeof task === 'string') return toolError(task);
        await event(task.id, 'task:progress', {
          message: (await redactor(claims))(message),
          ...(progress !== undefined && { progress }),
          ...(total !== undefined && { total }),
        });
        return text('ok', { ok: true });
      },
    );

    server.registerTool(
      'ask_user',
      {
        description:
          "Ask the task's session a question and wait for the reply (default up to 10 minutes). Returns the reply text, or says that none came.",
        inputSchema: z.object({
          question: z.string().min(1).max(10_000),
          options: z.array(z.string().min(1).max(500)).max(50).optional(),
          timeoutSeconds: z.number().int().min(1).max(86_400).optional(),
        }),
      },
      async ({ question, options, timeoutSeconds }, ctx) => {
        const task = await runningTask(claims);
        if (typeof task === 'string') return toolError(task);
        if (task.sessionId === null) return toolError('the task has no session to ask');
        if (asking.has(task.id)) {
          return toolError(
            `ask_user is already waiting for a reply on task ${task.id}: ask one question at a time (wait for that call to end, or cancel it)`,
          );
        }
        asking.add(task.id);
        try {
          const clean = await redactor(claims);
          return await askAndWait(
            claims,
            { id: task.id, sessionId: task.sessionId },
            clean(question),
            options?.map(clean),
            timeoutSeconds,
            ctx.mcpReq.signal,
          );
        } finally {
          asking.delete(task.id);
        }
      },
    );

    server.registerTool(
      'task_context',
      {
        description:
          'Your task: its prompt, the session history (newest messages), execution settings (preamble, skills, model), ids, and the skills you can read (name, description, and the skill:// URI to read with resources/read on /mcp).',
        inputSchema: z.object({}),
      },
      async () => {
        const task = await runningTask(claims);
        if (typeof task === 'string') return toolError(task);
        // The session's newest messages, each cut (sessions/history.ts: CONTEXT_MESSAGES).
        const context = {
          taskId: task.id,
          sessionId: task.sessionId,
          profile: task.profile,
          prompt: task.prompt,
          execution: task.execution,
          history: await contextHistory(deps.sql, task.sessionId),
          skills: await skillsFor(deps, task.id),
        };
        return text(JSON.stringify(context, null, 2), context);
      },
    );
    registerDocumentTools(server, claims, deps);
    return server;
  }

  // The default `legacy: 'stateless'`: 2026-07-28 requests and 2025-era ones through one factory.
  const handler = createMcpHandler(
    () => {
      const claims = scope.getStore();
      if (!claims) throw new SwitchboardError('internal', 'task tools called outside a request');
      return build(claims);
    },
    { onerror: (error) => deps.log.debug({ err: error }, 'task tools request rejected') },
  );

  return {
    async handle(req, res, claims, _integration, parsedBody) {
      let body = parsedBody;
      let raw: string | undefined;
      if (req.method === 'POST' && body === undefined) {
        // Not parsed by express (another content type): the SDK answers what it makes of it.
        const read = await readBody(req);
        if (read.kind === 'batch') {
          await sendResponse(res, Response.json(BATCH_REFUSED, { status: 400 }));
          return;
        }
        if (read.kind === 'json') body = read.value;
        else if (read.kind === 'raw') raw = read.text;
      }
      const request = toWebRequest(req, raw, goneSignal(res));
      const response = await scope.run(claims, () =>
        handler.fetch(request, body === undefined ? undefined : { parsedBody: body }),
      );
      await sendResponse(res, response, claims.expiresAt * 1000);
    },
    close: () => handler.close(),
  };
}
