import * as z from 'zod';
import { SubscriptionInput } from '../outbox/subscriptions.ts';
import { EndTaskInput, ExternalTaskInput } from '../tasks/external.ts';
import { AuditQuery } from './audit.ts';
import { DeliveryAnswer, DeliveryListAnswer, ListDeliveriesQuery } from './deliveries.ts';
import { EgressQuery } from './egress.ts';
import { ApproveToolsBody, ToolChangesQuery } from './integrations.ts';
import { OverviewAnswer } from './overview.ts';
import { Json, ok, type RouteSpec } from './route-spec.ts';
import { DOCUMENT_ROUTES } from './routes-documents.ts';
import { KV_ROUTES } from './routes-kv.ts';
import { PROFILE_AND_APPROVAL_ROUTES } from './routes-operator.ts';
import { PANEL_ROUTES } from './routes-panels.ts';
import { TRACE_ROUTES } from './routes-trace.ts';
import {
  ConfigAnswer,
  ConfigBody,
  CreateSessionBody,
  CreateTaskBody,
  EventsQuery,
  ExternalTaskView,
  ListMessagesQuery,
  ListSessionsQuery,
  ListTasksQuery,
  MessageAnswer,
  MessageListAnswer,
  PostMessageBody,
  SessionAnswer,
  SessionListAnswer,
  TaskAnswer,
  TaskEventView,
  TaskListAnswer,
  TaskTokensAnswer,
} from './schemas.ts';
import {
  CreatedSubscriptionAnswer,
  ListOutboxQuery,
  OutboxAnswer,
  OutboxListAnswer,
  RedriveAllAnswer,
  SubscriptionAnswer,
  SubscriptionListAnswer,
} from './schemas-outbox.ts';
import { SignWebhookAnswer, SignWebhookBody } from './webhook-sign.ts';

/** Every /api/v1 route (route-spec.ts RouteSpec): the source of /api/v1/openapi.json. */
export const API_ROUTES: RouteSpec[] = [
  {
    method: 'get',
    path: '/openapi.json',
    scope: null,
    summary: 'This document',
    responses: [ok()],
  },
  // Keys, audit, integrations (issues 2–3): answers documented loosely, as plain JSON objects.
  { method: 'get', path: '/keys', scope: 'keys:read', summary: 'List API keys', responses: [ok()] },
  {
    method: 'post',
    path: '/keys',
    scope: 'keys:write',
    summary: 'Create an API key (shown once)',
    body: Json,
    responses: [{ status: 201, description: 'Created', schema: Json }],
  },
  {
    method: 'delete',
    path: '/keys/:id',
    scope: 'keys:write',
    summary: 'Revoke an API key',
    responses: [ok()],
  },
  {
    method: 'get',
    path: '/audit',
    scope: 'audit:read',
    summary:
      'Audit log, newest first; filter by action, actor, target and time (since, until), page with before',
    query: AuditQuery,
    responses: [ok()],
  },
  {
    method: 'get',
    path: '/egress',
    scope: 'audit:read',
    summary:
      "The egress proxy's connection log, newest first: filter by integration, outcome, host, task and since, page with before",
    query: EgressQuery,
    responses: [ok()],
  },
  {
    method: 'get',
    path: '/integrations',
    scope: 'integrations:read',
    summary: 'List integrations',
    responses: [ok()],
  },
  {
    method: 'get',
    path: '/integrations/:name',
    scope: 'integrations:read',
    summary: 'One integration',
    responses: [ok()],
  },
  {
    method: 'get',
    path: '/overview',
    scope: null,
    summary:
      "The console's overview: integration states, queue counts and ages, dead letters and recent failures; only the sections the key's read scopes allow",
    responses: [ok(OverviewAnswer)],
  },
  {
    method: 'get',
    path: '/integrations/:name/tool-changes',
    scope: 'integrations:read',
    summary: 'Tools hidden until approved (changed since pinned), with a unified diff each',
    query: ToolChangesQuery,
    responses: [ok()],
  },
  {
    method: 'post',
    path: '/integrations/:name/approve-tools',
    scope: 'integrations:write',
    summary:
      "Approve pending tools' current definitions (all, or those named); not by process keys",
    body: ApproveToolsBody,
    responses: [ok()],
  },
  {
    method: 'post',
    path: '/integrations/:name/reload',
    scope: 'integrations:write',
    summary: 'Reload an integration',
    responses: [ok()],
  },
  {
    method: 'post',
    path: '/integrations/:name/webhooks/:endpoint/sign',
    scope: 'integrations:write',
    summary:
      'Sign a request body for one webhook endpoint with its configured secret (switchboard webhook send); audited, not by process keys',
    body: SignWebhookBody,
    responses: [ok(SignWebhookAnswer)],
  },
  {
    method: 'put',
    path: '/integrations/:name/settings/:key',
    scope: 'integrations:write',
    summary: 'Set a setting (secrets stored encrypted)',
    body: z.strictObject({ value: z.string() }),
    responses: [ok()],
  },
  // Tasks
  {
    method: 'post',
    path: '/tasks',
    scope: 'tasks:write',
    summary:
      'Queue a task (or, with external: true, grant tokens to an agent you run); the same idempotencyKey answers the same task with 200',
    body: z.union([CreateTaskBody, ExternalTaskInput]),
    responses: [
      { status: 201, description: 'Created', schema: TaskAnswer },
      {
        status: 200,
        description: 'The task that already has this idempotency key',
        schema: TaskAnswer,
      },
    ],
  },
  {
    method: 'get',
    path: '/tasks',
    scope: 'tasks:read',
    summary: 'List tasks, newest first',
    query: ListTasksQuery,
    responses: [ok(TaskListAnswer)],
  },
  {
    method: 'get',
    path: '/tasks/:id',
    scope: 'tasks:read',
    summary: 'One task with its queue fields',
    responses: [ok(TaskAnswer)],
  },
  {
    method: 'get',
    path: '/tasks/:id/events',
    scope: 'tasks:read',
    summary:
      "The task's events as SSE (id: seq, event: type, data: JSON); resumes after Last-Event-ID or ?after=, ends after the terminal event",
    query: EventsQuery,
    responses: [
      {
        status: 200,
        description: 'An event stream',
        schema: TaskEventView,
        contentType: 'text/event-stream',
      },
    ],
  },
  {
    method: 'get',
    path: '/tasks/:id/tokens',
    scope: 'tasks:read',
    summary:
      "The task's tokens as metadata (audience, scope, issued, expiry, revoked), oldest first (at most 1,000); never a token's value",
    responses: [ok(TaskTokensAnswer)],
  },
  {
    method: 'post',
    path: '/tasks/:id/config',
    scope: 'tasks:write',
    summary:
      "An agent config file for a running task, with freshly minted tokens that expire when the task's time is up (within the policy's maxTtl); any other method answers 405",
    body: ConfigBody,
    responses: [
      ok(ConfigAnswer),
      { status: 409, description: 'The task is not running, or its time is up' },
    ],
  },
  {
    method: 'post',
    path: '/tasks/:id/complete',
    scope: 'tasks:write',
    summary: 'Complete a task (revokes its tokens)',
    body: EndTaskInput,
    responses: [
      ok(z.object({ task: ExternalTaskView })),
      { status: 409, description: 'Already ended' },
    ],
  },
  {
    method: 'post',
    path: '/tasks/:id/cancel',
    scope: 'tasks:write',
    summary: 'Cancel a pending or running task (revokes its tokens)',
    body: EndTaskInput,
    responses: [ok(TaskAnswer), { status: 409, description: 'Already ended' }],
  },
  // Sessions
  {
    method: 'post',
    path: '/sessions',
    scope: 'sessions:write',
    summary: 'Create or get a session by key',
    body: CreateSessionBody,
    responses: [
      { status: 201, description: 'Created', schema: SessionAnswer },
      { status: 200, description: 'The existing session with this key', schema: SessionAnswer },
    ],
  },
  {
    method: 'get',
    path: '/sessions',
    scope: 'sessions:read',
    summary: 'List sessions, newest first',
    query: ListSessionsQuery,
    responses: [ok(SessionListAnswer)],
  },
  {
    method: 'get',
    path: '/sessions/:id',
    scope: 'sessions:read',
    summary: 'One session',
    responses: [ok(SessionAnswer)],
  },
  {
    method: 'post',
    path: '/sessions/:id/messages',
    scope: 'sessions:write',
    summary: 'Post a message; run_agent creates a task from it with the session profile',
    body: PostMessageBody,
    responses: [{ status: 201, description: 'Created', schema: MessageAnswer }],
  },
  {
    method: 'get',
    path: '/sessions/:id/messages',
    scope: 'sessions:read',
    summary: 'Messages, oldest first',
    query: ListMessagesQuery,
    responses: [ok(MessageListAnswer)],
  },
  // Deliveries (issue 6)
  {
    method: 'get',
    path: '/deliveries',
    scope: 'deliveries:read',
    summary: 'Webhook deliveries and schedule jobs, newest first',
    query: ListDeliveriesQuery,
    responses: [ok(DeliveryListAnswer)],
  },
  {
    method: 'get',
    path: '/deliveries/:id',
    scope: 'deliveries:read',
    summary:
      'One delivery: status, headers (secret-looking values shown as "[hidden]"), body, errors, the tasks it created',
    responses: [ok(DeliveryAnswer)],
  },
  {
    method: 'post',
    path: '/deliveries/:id/replay',
    scope: 'deliveries:write',
    summary: 'Queue a copy of the delivery to be processed again (the original is kept)',
    responses: [{ status: 201, description: 'The new delivery', schema: Json }],
  },
  // Outbox (issue 6)
  {
    method: 'get',
    path: '/outbox',
    scope: 'outbox:read',
    summary: 'Task results and subscribed events on their way out, newest first',
    query: ListOutboxQuery,
    responses: [ok(OutboxListAnswer)],
  },
  {
    method: 'get',
    path: '/outbox/:id',
    scope: 'outbox:read',
    summary: 'One outbox entry with its attempt log',
    responses: [ok(OutboxAnswer)],
  },
  {
    method: 'post',
    path: '/outbox/:id/redrive',
    scope: 'outbox:write',
    summary: 'A dead entry back to pending, due now, attempts reset to 0',
    responses: [ok(OutboxAnswer), { status: 409, description: 'The entry is not dead' }],
  },
  {
    method: 'post',
    path: '/outbox/redrive',
    scope: 'outbox:write',
    summary: 'Every dead entry back to pending; answers how many',
    responses: [ok(RedriveAllAnswer)],
  },
  // Event subscriptions (issue 6)
  {
    method: 'post',
    path: '/subscriptions',
    scope: 'subscriptions:write',
    summary: 'Subscribe a URL to task events (signed, Standard Webhooks); the secret is shown once',
    body: SubscriptionInput,
    responses: [{ status: 201, description: 'Created', schema: CreatedSubscriptionAnswer }],
  },
  {
    method: 'get',
    path: '/subscriptions',
    scope: 'subscriptions:read',
    summary: 'Active subscriptions (without their secrets)',
    responses: [ok(SubscriptionListAnswer)],
  },
  {
    method: 'delete',
    path: '/subscriptions/:id',
    scope: 'subscriptions:write',
    summary: 'Delete a subscription; its pending deliveries go dead',
    responses: [ok(SubscriptionAnswer)],
  },
  ...PROFILE_AND_APPROVAL_ROUTES,
  ...PANEL_ROUTES,
  ...TRACE_ROUTES,
  ...DOCUMENT_ROUTES,
  ...KV_ROUTES,
];
