import { duration } from '../lib/format.ts';

/**
 * A task's events in words for the task page's timeline (the same reading as the CLI's
 * `switchboard task watch`, gateway/src/cli/task-watch.ts): what happened, with the raw data
 * one click away.
 */

/** One SSE event of GET /api/v1/tasks/:id/events (schemas.ts TaskEventView). */
export interface TaskEvent {
  seq: string;
  taskId: string;
  type: string;
  data: Record<string, unknown>;
  createdAt: string;
}

/** The events after which nothing more happens (api/task-events.ts TERMINAL_EVENTS). */
export const TERMINAL_EVENTS = new Set([
  'task:done',
  'task:failed',
  'task:cancelled',
  'task:complete',
]);

/**
 * Every type the gateway writes. An EventSource hears a named event (`event: task:done`) only
 * through a listener for that name, so the page listens for each; `message` catches an unnamed one.
 */
export const EVENT_TYPES = [
  'task:created',
  'task:started',
  'task:running',
  'task:context',
  'task:tool_use',
  'task:progress',
  'task:token',
  'task:assistant',
  'task:agent_tool',
  'task:usage',
  'task:output_truncated',
  'task:completing',
  'task:ask_user',
  'task:message',
  'task:requeued',
  'task:approval_requested',
  'task:approval_decided',
  'task:budget_exceeded',
  'task:dispatch',
  'task:done',
  'task:complete',
  'task:failed',
  'task:cancelled',
  'message',
];

/** How an event reads: its kind (a short label) and a sentence; tone colours the label. */
export interface Described {
  kind: string;
  text: string;
  tone: 'ok' | 'info' | 'warn' | 'bad' | 'muted';
}

const str = (v: unknown): string =>
  v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
const clip = (text: string, max = 400): string => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
};

/**
 * `tookMs`: for an agent tool's result, the time since its call (matched by id), which the page
 * works out from the call's event.
 */
export function describeEvent(e: TaskEvent, tookMs?: number): Described {
  const d = e.data;
  switch (e.type) {
    case 'task:created':
      return { kind: 'created', tone: 'muted', text: 'The task was queued.' };
    case 'task:started':
      return {
        kind: 'started',
        tone: 'info',
        text: `The agent started (attempt ${str(d.attempt) || '1'}${d.owner ? ` on ${str(d.owner)}` : ''}).`,
      };
    case 'task:running':
      return {
        kind: 'running',
        tone: 'info',
        text: `Tokens granted to an external agent${d.grantedBy ? ` by ${str(d.grantedBy)}` : ''}.`,
      };
    case 'task:context':
      return { kind: 'context', tone: 'muted', text: 'The agent was given its context.' };
    case 'task:tool_use': {
      const outcome = d.cancelled ? 'cancelled' : d.ok === false ? 'failed' : 'ok';
      return {
        kind: 'tool call',
        tone: outcome === 'ok' ? 'ok' : outcome === 'failed' ? 'bad' : 'muted',
        text: `${str(d.integration)} · ${str(d.tool)} — ${outcome} in ${duration(Number(d.durationMs))}${d.error ? `: ${str(d.error)}` : ''}`,
      };
    }
    case 'task:progress': {
      const of =
        d.progress === undefined
          ? ''
          : ` (${str(d.progress)}${d.total === undefined ? '' : ` of ${str(d.total)}`})`;
      return { kind: 'progress', tone: 'info', text: `${str(d.message)}${of}` };
    }
    case 'task:token':
      return {
        kind: str(d.stream) || 'output',
        tone: d.stream === 'stderr' ? 'warn' : 'muted',
        text: clip(str(d.text)),
      };
    case 'task:assistant':
      return { kind: 'agent says', tone: 'muted', text: clip(str(d.text)) };
    case 'task:agent_tool':
      if (d.phase === 'result') {
        return {
          kind: 'agent tool result',
          tone: d.isError === true ? 'bad' : 'ok',
          text: `${d.isError === true ? 'Error' : 'Result'}${tookMs === undefined ? '' : ` after ${duration(tookMs)}`}: ${clip(str(d.text))}`,
        };
      }
      return {
        kind: 'agent tool call',
        tone: 'info',
        text: `${str(d.name)} ${clip(str(d.input ?? {}), 200)}`,
      };
    case 'task:usage': {
      const parts = [
        `${str(d.inputTokens) || '?'} tokens in, ${str(d.outputTokens) || '?'} out`,
        d.turns === undefined ? '' : `${str(d.turns)} turns`,
        d.costUsd === undefined ? '' : `$${Number(d.costUsd).toFixed(4)}`,
        d.durationMs === undefined ? '' : duration(Number(d.durationMs)),
      ].filter((p) => p !== '');
      return {
        kind: 'usage',
        tone: d.ok === false ? 'bad' : 'muted',
        text: `${parts.join(', ')}${d.ok === false && d.error ? ` — ${str(d.error)}` : ''}`,
      };
    }
    case 'task:output_truncated':
      return { kind: 'output cut', tone: 'warn', text: 'The output budget was used up.' };
    case 'task:completing':
      return { kind: 'result', tone: 'ok', text: 'The agent reported its result.' };
    case 'task:ask_user':
      return { kind: 'question', tone: 'warn', text: `Asks: ${clip(str(d.question))}` };
    case 'task:message':
      return {
        kind: 'message',
        tone: 'info',
        text: `A ${str(d.role) || 'user'} message (#${str(d.messageId)}) was posted to the session.`,
      };
    case 'task:requeued':
      return {
        kind: 'requeued',
        tone: 'warn',
        text: `Requeued after ${str(d.reason)} (attempt ${str(d.attempt)}${d.maxAttempts ? ` of ${str(d.maxAttempts)}` : ''})${d.error ? `: ${str(d.error)}` : ''}.`,
      };
    case 'task:approval_requested': {
      const a = (d.approval ?? {}) as Record<string, unknown>;
      return {
        kind: 'approval',
        tone: 'warn',
        text: `Approval requested for ${str(a.integration)} · ${str(a.tool)}${a.message ? ` (${clip(str(a.message), 200)})` : ''}.`,
      };
    }
    case 'task:approval_decided':
      return {
        kind: 'approval',
        tone: d.status === 'approved' ? 'ok' : 'bad',
        text: `${str(d.integration)} · ${str(d.tool)} ${str(d.status)}${d.by ? ` by ${str(d.by)}` : ''}${d.reason ? `: ${clip(str(d.reason), 200)}` : ''}.`,
      };
    case 'task:budget_exceeded':
      return {
        kind: 'budget',
        tone: 'bad',
        text: `Budget exceeded: ${str(d.limit)} (${str(d.used)} of ${str(d.max)}); refused ${str(d.integration)} · ${str(d.tool)}.`,
      };
    case 'task:dispatch':
      return { kind: 'dispatch', tone: 'muted', text: 'The result was sent on.' };
    case 'task:done':
    case 'task:complete':
      return { kind: 'complete', tone: 'ok', text: 'The task completed.' };
    case 'task:failed':
      return {
        kind: 'failed',
        tone: 'bad',
        text: `The task failed: ${str(d.reason)}${d.error ? ` (${clip(str(d.error), 300)})` : ''}.`,
      };
    case 'task:cancelled':
      return {
        kind: 'cancelled',
        tone: 'muted',
        text: `The task was cancelled${d.by ? ` by ${str(d.by)}` : ''}${d.previousStatus ? ` while ${str(d.previousStatus)}` : ''}.`,
      };
    default:
      return { kind: e.type.replace(/^task:/, ''), tone: 'muted', text: clip(str(d), 300) };
  }
}
