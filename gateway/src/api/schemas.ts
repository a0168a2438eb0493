import { DURATION_EXPECTED } from '@switchboard/policy';
import * as z from 'zod';
import { CONFIG_FORMATS } from '../runners/files.ts';
import { Dispatch, SessionKey } from '../sessions/store.ts';
import { Execution } from '../tasks/queue.ts';
import type { QueueTaskRow } from '../tasks/store.ts';
import { SCOPE_EXPECTED, SCOPE_PATTERN } from '../tokens/scope.ts';
import type { TokenMetadata } from '../tokens/store.ts';
import { TaskBudgetView } from './task-budget.ts';

/**
 * The zod schemas of the /api/v1 task and session bodies, queries and answers. Routes parse
 * their input with them, build their answers as their z.output types, and openapi.ts renders
 * the same objects into /api/v1/openapi.json, so the document cannot drift from the code.
 */

export const TASK_STATUSES = ['pending', 'running', 'complete', 'failed', 'cancelled'] as const;
const ProfileName = z
  .string({ error: 'expected a profile name from the policy' })
  .min(1, 'expected a profile name from the policy')
  .max(100, 'expected at most 100 characters');
const Duration = z
  .string({ error: `expected ${DURATION_EXPECTED}` })
  .max(20, `expected ${DURATION_EXPECTED}`);
const ScopeList = z.array(z.string().regex(SCOPE_PATTERN, `expected ${SCOPE_EXPECTED}`), {
  error: 'expected a list of scope patterns',
});

/** POST /api/v1/tasks without `external`: a queued task the gateway runs with a profile. */
export const CreateTaskBody = z.strictObject({
  /** true selects the external form (ExternalTaskBody) instead. */
  external: z.literal(false, { error: 'expected false or absent for a queued task' }).optional(),
  prompt: z
    .string({ error: 'expected the task prompt as a string' })
    .min(1, 'expected a non-empty prompt')
    .max(100_000, 'expected at most 100000 characters'),
  /** A session id, or a key (created with this profile and dispatch if it does not exist). */
  session: z
    .string({ error: 'expected a session id or key such as "github:acme/api"' })
    .min(1, 'expected a session id or key')
    .max(200, 'expected at most 200 characters')
    .optional(),
  /** Defaults to the session's profile; one of the two must name a profile of the policy. */
  profile: ProfileName.optional(),
  /** Defaults to the profile's tools; each pattern must be within them. */
  scope: ScopeList.max(100, 'expected at most 100 scope patterns').optional(),
  execution: Execution.optional(),
  dispatch: Dispatch.optional(),
  /** Defaults to the profile's timeout. */
  timeout: Duration.optional(),
  idempotencyKey: z
    .string({ error: 'expected a string' })
    .min(1, 'expected a non-empty key')
    .max(200, 'expected at most 200 characters')
    .optional(),
});
export type CreateTaskBody = z.output<typeof CreateTaskBody>;

/** The external form (issue 4), documented here; tasks/external.ts owns its parsing. */
export { ExternalTaskInput as ExternalTaskBody } from '../tasks/external.ts';

export const Timestamp = z.iso.datetime({ offset: true });
export const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export const TaskView = z.object({
  id: z.uuid(),
  seq: z.string().nullable(),
  sessionId: z.uuid().nullable(),
  messageId: z.string().nullable(),
  external: z.boolean(),
  status: z.enum(TASK_STATUSES),
  /** Why it failed or was cancelled: a stable code (timeout, lease_expired, cancelled, …). */
  reason: z.string().nullable(),
  error: z.string().nullable(),
  result: z.string().nullable(),
  prompt: z.string(),
  profile: z.string().nullable(),
  scope: z.array(z.string()),
  execution: z.record(z.string(), z.unknown()),
  dispatch: z.record(z.string(), z.unknown()).nullable(),
  idempotencyKey: z.string().nullable(),
  timeoutMs: z.int().nullable(),
  attempts: z.int(),
  maxAttempts: z.int().nullable(),
  createdAt: Timestamp,
  startedAt: Timestamp.nullable(),
  finishedAt: Timestamp.nullable(),
  leaseOwner: z.string().nullable(),
  leaseExpiresAt: Timestamp.nullable(),
});
export type TaskView = z.output<typeof TaskView>;

export function taskView(t: QueueTaskRow): TaskView {
  return {
    id: t.id,
    seq: t.seq,
    sessionId: t.sessionId,
    messageId: t.messageId,
    external: t.external,
    status: t.status,
    reason: t.reason,
    error: t.error,
    result: t.result,
    prompt: t.prompt,
    profile: t.profile,
    scope: t.scope,
    execution: t.execution,
    dispatch: t.dispatch,
    idempotencyKey: t.idempotencyKey,
    timeoutMs: t.timeoutMs,
    attempts: t.attempts,
    maxAttempts: t.maxAttempts,
    createdAt: t.createdAt.toISOString(),
    startedAt: iso(t.startedAt),
    finishedAt: iso(t.finishedAt),
    leaseOwner: t.leaseOwner,
    leaseExpiresAt: iso(t.leaseExpiresAt),
  };
}

/** The answer of the external task routes (issue 4), which return the plain task row. */
export const ExternalTaskView = z.object({
  id: z.uuid(),
  sessionId: z.uuid().nullable(),
  external: z.boolean(),
  status: z.enum(TASK_STATUSES),
  prompt: z.string(),
  scope: z.array(z.string()),
  result: z.string().nullable(),
  error: z.string().nullable(),
  createdAt: Timestamp,
  startedAt: Timestamp.nullable(),
  finishedAt: Timestamp.nullable(),
});

export const TaskAnswer = z.object({ task: TaskView, budget: TaskBudgetView.optional() });

/** GET /tasks/:id/tokens: a task's tokens as metadata; a token's value is shown once, at issue. */
export const TaskTokenView = z.object({
  jti: z.uuid(),
  kid: z.string(),
  /** The endpoint the token is for: /mcp, /mcp/<integration> or /mcp/switchboard. */
  audience: z.string(),
  scope: z.array(z.string()),
  issuedAt: Timestamp,
  expiresAt: Timestamp,
  revokedAt: Timestamp.nullable(),
});
export type TaskTokenView = z.output<typeof TaskTokenView>;

export const TaskTokensAnswer = z.object({ tokens: z.array(TaskTokenView) });

export function taskTokenView(t: TokenMetadata): TaskTokenView {
  return {
    jti: t.jti,
    kid: t.kid,
    audience: t.audience,
    scope: t.scope.split(' ').filter((s) => s !== ''),
    issuedAt: t.issuedAt.toISOString(),
    expiresAt: t.expiresAt.toISOString(),
    revokedAt: iso(t.revokedAt),
  };
}

export const ListTasksQuery = z.strictObject({
  /** One status or several, comma-separated: status=pending,running. */
  status: z
    .string()
    .transform((s) => s.split(',').filter((x) => x !== ''))
    .pipe(z.array(z.enum(TASK_STATUSES, { error: `expected one of ${TASK_STATUSES.join(', ')}` })))
    .optional(),
  profile: ProfileName.optional(),
  session: z.uuid({ error: 'expected a session id' }).optional(),
  /** true: only external tasks (agents the operator runs); false: only queued ones. */
  external: z
    .enum(['true', 'false'], { error: 'expected true or false' })
    .transform((v) => v === 'true')
    .optional(),
  limit: z.coerce
    .number({ error: 'expected a whole number from 1 to 500' })
    .int('expected a whole number from 1 to 500')
    .min(1, 'expected a whole number from 1 to 500')
    .max(500, 'expected a whole number from 1 to 500')
    .default(50),
  cursor: z
    .string()
    .regex(/^[1-9][0-9]{0,18}$/, 'expected the `next` cursor of a previous page')
    .optional(),
});

export const TaskListAnswer = z.object({
  tasks: z.array(TaskView),
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  next: z.string().nullable(),
});

export const EventsQuery = z.strictObject({
  after: z
    .string()
    .regex(/^(0|[1-9][0-9]{0,18})$/, 'expected an event seq')
    .optional(),
});

/** One SSE event: `id: <seq>`, `event: <type>`, `data: <this as JSON>`. */
export const TaskEventView = z.object({
  seq: z.string(),
  taskId: z.uuid(),
  type: z.string(),
  data: z.record(z.string(), z.unknown()),
  createdAt: Timestamp,
});

/** POST /tasks/:id/config's body: which agent's config file to render. */
export const ConfigBody = z.strictObject({
  format: z.enum(CONFIG_FORMATS, { error: `expected one of ${CONFIG_FORMATS.join(', ')}` }),
});

export const ConfigAnswer = z.object({
  taskId: z.uuid(),
  format: z.enum(CONFIG_FORMATS),
  /** Where the agent expects the file, relative to its working folder (or HOME). */
  path: z.string(),
  content: z.string(),
  /** The variables the file refers to, tokens included: shown once, never stored. */
  env: z.record(z.string(), z.string()),
  expiresAt: Timestamp,
});

// ── Sessions

export const CreateSessionBody = z.strictObject({
  key: SessionKey,
  dispatch: Dispatch.optional(),
  profile: ProfileName.optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

export const SessionView = z.object({
  id: z.uuid(),
  key: z.string(),
  dispatch: z.object({ type: z.string(), config: z.record(z.string(), z.unknown()) }).nullable(),
  profile: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  cursor: z.string(),
});

export const SessionAnswer = z.object({ session: SessionView });

export const ListSessionsQuery = z.strictObject({
  limit: ListTasksQuery.shape.limit,
  cursor: z
    .string()
    .regex(
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z [0-9a-f-]{36}$/,
      'expected the `next` cursor of a previous page',
    )
    .optional(),
});

export const SessionListAnswer = z.object({
  sessions: z.array(SessionView),
  next: z.string().nullable(),
});

export const PostMessageBody = z.strictObject({
  content: z
    .string({ error: 'expected the message text as a string' })
    .max(1_000_000, 'expected at most 1000000 characters'),
  role: z.enum(['user', 'agent', 'system', 'integration']).default('user'),
  /** Create a task from the message with the session's profile. */
  run_agent: z.boolean({ error: 'expected true or false' }).default(false),
  /**
   * Tell the session's running task: a `task:message` event on it (what ask_user waits for).
   * Off by default: a message filed for the record should not interrupt anyone.
   */
  notify: z.boolean({ error: 'expected true or false' }).default(false),
});

export const MessageView = z.object({
  id: z.string(),
  sessionId: z.uuid(),
  role: z.enum(['user', 'agent', 'system', 'integration']),
  content: z.string(),
  source: z.record(z.string(), z.unknown()).nullable(),
  createdAt: Timestamp,
});

export const MessageAnswer = z.object({ message: MessageView, task: TaskView.nullable() });

export const ListMessagesQuery = z.strictObject({
  limit: ListTasksQuery.shape.limit,
  after: z
    .string()
    .regex(/^(0|[1-9][0-9]{0,18})$/, 'expected a message id')
    .optional(),
});

export const MessageListAnswer = z.object({
  messages: z.array(MessageView),
  /** Pass as `after` for the next page; null on the last page. */
  next: z.string().nullable(),
});

export const ErrorAnswer = z.object({
  error: z.object({
    code: z
      .string()
      .describe('Stable: one of the codes in docs/operator-guide.md "Error codes" (ERROR_CODES)'),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    requestId: z.string().optional(),
  }),
});
