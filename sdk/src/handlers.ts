import { z } from 'zod';
import { localName, strictObject, text, toolPattern } from './fields.ts';

/**
 * What the gateway sends to an integration's hidden handler tools and what they must answer
 * (ARCHITECTURE §4 "Handler results"). Inputs are plain objects, so an integration built
 * against this version keeps working when the gateway adds a field; results are strict, so a
 * misspelt key in what a handler returns (`mesage`) is an error instead of a dropped message.
 */

/**
 * Request headers the gateway never stores nor passes a webhook handler: they authenticate the
 * request, or they are credentials.
 */
export const SECRET_WEBHOOK_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-hub-signature',
  'x-hub-signature-256',
  'x-slack-signature',
  'webhook-signature',
  'x-api-key',
]);

/** Arguments of a webhook handler (`on_webhook`). */
export const webhookInputSchema = z.object({
  /** The manifest webhook name: `events` for POST /hooks/github/events. */
  endpoint: localName,
  /** Request headers, names lowercased; repeated headers joined with ", ". */
  headers: z.record(z.string(), z.string()),
  /** The raw body exactly as received (already signature-verified unless scheme is none). */
  body: z.string(),
  /** The delivery id the gateway deduplicates on (from the scheme's header, or generated). */
  deliveryId: text('a delivery id'),
});
export type WebhookInput = z.output<typeof webhookInputSchema>;

/** Arguments of a schedule handler (`on_schedule`). */
export const scheduleInputSchema = z.object({
  /** The manifest schedule name. */
  schedule: localName,
  /** The scheduled fire time, ISO 8601 UTC: the same for every replica, so runs dedupe. */
  fireTime: z.iso.datetime({ error: 'expected an ISO 8601 UTC time, e.g. 2026-01-05T06:00:00Z' }),
});
export type ScheduleInput = z.output<typeof scheduleInputSchema>;

const jsonObject = z.record(z.string(), z.unknown(), { error: 'expected a JSON object' });

/** Where a session's results go: a manifest dispatcher type (or a built-in) and its settings. */
export const dispatchTargetSchema = strictObject({
  type: localName,
  config: jsonObject.optional(),
});
export type DispatchTarget = z.output<typeof dispatchTargetSchema>;

/** How the task a trigger starts should run; every field narrows or tunes the profile's defaults. */
export const executionSchema = strictObject({
  /** Put before the message in the agent's prompt. */
  preamble: z.string().optional(),
  /** `integration:tool` patterns the task's token may call (within what the profile allows). */
  tools: z.array(toolPattern, { error: 'expected a list of tool patterns' }).optional(),
  /** Skills to offer, `integration/skill`. */
  skills: z.array(text('a skill name such as github/review')).optional(),
  model: text('a model name').optional(),
  /** A profile of the operator policy. */
  profile: text('a profile name from the operator policy').optional(),
});
export type Execution = z.output<typeof executionSchema>;

/** One event → one message in a session, and (unless run is false) a task to answer it. */
export const triggerSchema = strictObject({
  session: strictObject({
    /** Get-or-create key, e.g. `github:acme/api`: the same key continues the same session. */
    key: text('a session key such as github:acme/api'),
    dispatch: dispatchTargetSchema.optional(),
  }),
  message: text('a non-empty message'),
  /** false: only record the message (context for a later task). */
  run: z.boolean({ error: 'expected true or false' }).default(true),
  execution: executionSchema.optional(),
});
export type Trigger = z.output<typeof triggerSchema>;
export type TriggerInput = z.input<typeof triggerSchema>;

/** The HTTP answer of a `sync` webhook; ignored in `async` mode. */
export const webhookResponseSchema = strictObject({
  status: z
    .int({ error: 'expected an HTTP status from 100 to 599' })
    .min(100, 'expected an HTTP status from 100 to 599')
    .max(599, 'expected an HTTP status from 100 to 599'),
  headers: z.record(z.string(), z.string()).optional(),
  /** A string is sent as is; anything else as JSON. */
  body: z.unknown().optional(),
});
export type WebhookResponse = z.output<typeof webhookResponseSchema>;

/** structuredContent of `on_webhook` / `on_schedule`. `{ triggers: [] }` ignores the event. */
export const handlerResultSchema = strictObject({
  triggers: z.array(triggerSchema, { error: 'expected a list of triggers' }),
  response: webhookResponseSchema.optional(),
});
export type HandlerResult = z.output<typeof handlerResultSchema>;
export type HandlerResultInput = z.input<typeof handlerResultSchema>;

/** Arguments of a dispatcher (`deliver`): a finished task to deliver where its session points. */
export const dispatcherInputSchema = z.object({
  task: z.object({
    id: text('a task id'),
    status: z.enum(['complete', 'failed']),
    /** What the agent passed to task_complete. */
    result: z.unknown().optional(),
    /** Why the task failed. */
    error: z.string().optional(),
  }),
  /** Absent for a task without a session (its own `dispatch` named the target). */
  session: z.object({ id: text('a session id'), key: text('a session key') }).optional(),
  dispatch: z.object({ type: localName, config: jsonObject.optional() }),
});
export type DispatcherInput = z.output<typeof dispatcherInputSchema>;

/**
 * Arguments of a dispatcher's `approvals` handler: a tool call of a task in the session waits
 * for an operator (`switchboard approvals approve|deny <id>`, or the API). The handler tells
 * the session (a chat asks "approve?"); it cannot decide: deciding takes an operator's key.
 */
export const approvalRequestInputSchema = z.object({
  approval: z.object({
    id: text('an approval id'),
    taskId: text('a task id'),
    rule: text('the approval rule'),
    integration: text('the integration of the held tool'),
    tool: text('the held tool'),
    /** The call's arguments (over 16 KiB: `{truncated: true, preview}`). */
    arguments: z.unknown(),
    /** The rule's message, when it has one. */
    message: z.string().optional(),
    expiresAt: text('an ISO 8601 time'),
  }),
  /** Absent for a task without a session (its own `dispatch` named the target). */
  session: z.object({ id: text('a session id'), key: text('a session key') }).optional(),
  dispatch: z.object({ type: localName, config: jsonObject.optional() }),
});
export type ApprovalRequestInput = z.output<typeof approvalRequestInputSchema>;

/** A hook's `data` over this many bytes of JSON is replaced by `{truncated: true, bytes}`. */
export const MAX_HOOK_EVENT_DATA_BYTES = 8_192;

/**
 * Arguments of a lifecycle hook (manifest `events:`, e.g. `on_task_event`): one task event of a
 * session the integration owns (or of any session, with `sessions: all`). Delivered at least
 * once through the outbox, retried with its backoff: dedupe on `seq`; order by `seq` (a retry
 * can arrive after a later event).
 */
export const taskEventHookInputSchema = z.object({
  event: z.object({
    /** task:started, task:done, … (manifest HOOK_EVENT_TYPES). */
    type: text('a task event type'),
    /** The event's sequence number (a bigint as decimal text), increasing across all tasks. */
    seq: text('an event sequence number'),
    taskId: text('a task id'),
    /** ISO 8601 time the event was written. */
    createdAt: text('an ISO 8601 time'),
    /** The event's own data, or `{truncated: true, bytes}` over MAX_HOOK_EVENT_DATA_BYTES. */
    data: jsonObject,
  }),
  session: z.object({ id: text('a session id'), key: text('a session key') }),
  /** The integration the hook belongs to (this one). */
  integration: text('an integration name'),
  /**
   * Where the task's result goes (what this integration's trigger set: a chat's channel and
   * thread): only for a session this integration owns, never another's.
   */
  // Any type a task may carry (the API's sessions take any name), so no event is refused here.
  dispatch: z.object({ type: z.string(), config: jsonObject.optional() }).optional(),
});
export type TaskEventHookInput = z.output<typeof taskEventHookInputSchema>;
