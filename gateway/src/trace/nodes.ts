import { validTraceparent } from '../telemetry/spans.ts';
import type { TraceDeliveryRow, TraceEventRow, TraceOutboxRow, TraceTaskRow } from './store.ts';

/**
 * The nodes of a trace: one shape for every step (delivery, task, tool call, approval, outbox
 * row, attempt), so that the CLI and the console draw any tree with one function. A node starts
 * at `startedAt`; `durationMs` is null for an instant (an event) and for a step still running
 * (`running: true`). `traceId` is the OpenTelemetry trace of the row (0013's trace_parent), to
 * open the same chain in Jaeger.
 */
export type TraceNodeKind =
  | 'delivery'
  | 'task'
  | 'tool_call'
  | 'approval'
  | 'event'
  | 'outbox'
  | 'attempt'
  | 'omitted';

export interface TraceNode {
  kind: TraceNodeKind;
  id: string;
  /** What the step is, in words: `tool github.get_pr`, `dispatch github (deliver)`. */
  label: string;
  status: string;
  startedAt: string;
  durationMs: number | null;
  running: boolean;
  error: string | null;
  traceId: string | null;
  /** Facts of the step's kind (attempts, profile, the handler's result counts); never secrets. */
  details: Record<string, unknown>;
  children: TraceNode[];
}

/** The OpenTelemetry trace id of a row's trace_parent (0013), or null when it has none. */
export function traceIdOf(traceParent: string | null): string | null {
  return validTraceparent(traceParent)?.slice(3, 35) ?? null;
}

const iso = (d: Date) => d.toISOString();
const between = (from: Date, to: Date | null) => (to ? to.getTime() - from.getTime() : null);

const node = (
  fields: Omit<TraceNode, 'children' | 'details' | 'error' | 'traceId'> & Partial<TraceNode>,
): TraceNode => ({
  error: null,
  traceId: null,
  details: {},
  children: [],
  ...fields,
});

/** A child that says how many of a kind the caps left out, and the cap. */
export function omittedNode(at: Date, count: number, what: string, cap: number): TraceNode {
  return node({
    kind: 'omitted',
    id: `omitted:${what}`,
    label: `${count} more ${what} not shown (at most ${cap})`,
    status: 'omitted',
    startedAt: iso(at),
    durationMs: null,
    running: false,
    details: { count, cap },
  });
}

const SETTLED_DELIVERY = new Set(['done', 'ignored', 'failed']);

export function deliveryNode(d: TraceDeliveryRow): TraceNode {
  const settled = SETTLED_DELIVERY.has(d.status);
  const where = d.kind === 'schedule' ? `schedule ${d.endpoint}` : `webhook ${d.endpoint}`;
  return node({
    kind: 'delivery',
    id: d.id,
    label: `delivery ${d.integration} ${where} (${d.deliveryId})`,
    status: d.status,
    startedAt: iso(d.receivedAt),
    durationMs: settled ? between(d.receivedAt, d.processedAt) : null,
    running: !settled,
    error: d.error,
    traceId: traceIdOf(d.traceParent),
    details: {
      deliveryKind: d.kind,
      integration: d.integration,
      endpoint: d.endpoint,
      deliveryId: d.deliveryId,
      attempts: d.attempts,
      maxAttempts: d.maxAttempts,
      replayOf: d.replayOf,
      processedAt: d.processedAt ? iso(d.processedAt) : null,
      ...(d.status === 'pending' ? { nextRunAt: iso(d.runAt) } : {}),
      handler: handlerSummary(d),
    },
  });
}

/** The handler's answer as counts: what an operator asks first ("did it make a task?"). */
function handlerSummary(d: TraceDeliveryRow): Record<string, unknown> | null {
  const r = d.result;
  if (!r) return null;
  const count = (key: string) => (Array.isArray(r[key]) ? (r[key] as unknown[]).length : 0);
  return {
    triggers: typeof r.triggers === 'number' ? r.triggers : 0,
    sessions: count('sessions'),
    messages: count('messages'),
    tasks: count('tasks'),
  };
}

const ENDED_TASK = new Set(['complete', 'failed', 'cancelled']);

export function taskNode(t: TraceTaskRow): TraceNode {
  const ended = ENDED_TASK.has(t.status);
  return node({
    kind: 'task',
    id: t.id,
    label: `task ${t.id}${t.profile ? ` (${t.profile})` : t.external ? ' (external)' : ''}`,
    status: t.status,
    startedAt: iso(t.createdAt),
    durationMs: ended ? between(t.createdAt, t.finishedAt) : null,
    running: !ended,
    error: t.error,
    traceId: traceIdOf(t.traceParent),
    details: {
      profile: t.profile,
      sessionId: t.sessionId,
      attempts: t.attempts,
      maxAttempts: t.maxAttempts,
      reason: t.reason,
      // How long it waited for a worker, then ran: the two halves of durationMs.
      queuedMs: t.startedAt ? between(t.createdAt, t.startedAt) : null,
      runMs: t.startedAt && t.finishedAt ? between(t.startedAt, t.finishedAt) : null,
      startedAt: t.startedAt ? iso(t.startedAt) : null,
      finishedAt: t.finishedAt ? iso(t.finishedAt) : null,
    },
  });
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const num = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

/**
 * A task:tool_use event (tasks/tool-events.ts). It is written up to 200 ms after the call, in a
 * batch: the call's start is its `startedAt` when the event has one, else the event's time less
 * the call's duration. Its arguments are left out: the trace is about time and outcome.
 */
export function toolCallNode(e: TraceEventRow): TraceNode {
  const d = e.data;
  const durationMs = num(d.durationMs) ?? 0;
  const started = text(d.startedAt);
  const startedAt = started ?? iso(new Date(e.createdAt.getTime() - durationMs));
  const status = d.ok === true ? 'ok' : d.cancelled === true ? 'cancelled' : 'error';
  return node({
    kind: 'tool_call',
    id: e.seq,
    label: `tool ${text(d.integration) ?? '?'}.${text(d.tool) ?? '?'}`,
    status,
    startedAt,
    durationMs,
    running: false,
    error: text(d.error),
    details: {
      integration: d.integration,
      tool: d.tool,
      ...(started ? {} : { approximateStart: true }),
    },
  });
}

/** Requested and decided approval events, paired by approval id: held from one to the other. */
export function approvalNodes(events: readonly TraceEventRow[]): TraceNode[] {
  const decided = new Map<string, TraceEventRow>();
  for (const e of events) {
    if (e.type === 'task:approval_decided') decided.set(String(e.data.approvalId), e);
  }
  const nodes: TraceNode[] = [];
  for (const e of events) {
    if (e.type !== 'task:approval_requested') continue;
    const a = (e.data.approval ?? {}) as Record<string, unknown>;
    const done = decided.get(String(a.id));
    const status = done ? (text(done.data.status) ?? 'decided') : 'waiting';
    nodes.push(
      node({
        kind: 'approval',
        id: String(a.id),
        label: `approval of ${text(a.integration) ?? '?'}.${text(a.tool) ?? '?'}`,
        status,
        startedAt: iso(e.createdAt),
        durationMs: done ? between(e.createdAt, done.createdAt) : null,
        running: !done,
        details: {
          rule: a.rule ?? null,
          ...(done ? { by: done.data.by ?? null, reason: done.data.reason ?? null } : {}),
        },
      }),
    );
  }
  return nodes;
}

function eventLabel(e: TraceEventRow): string {
  const attempt = typeof e.data.attempt === 'number' ? `attempt ${e.data.attempt} ` : '';
  switch (e.type) {
    case 'task:started':
      return `${attempt}started${typeof e.data.owner === 'string' ? ` on ${e.data.owner}` : ''}`;
    case 'task:requeued':
      return `${attempt}requeued`;
    case 'task:budget_exceeded':
      return `budget exceeded: ${text(e.data.limit) ?? '?'}`;
    default:
      return e.type;
  }
}

/** An instant event of a task's run: started (an attempt), requeued, budget exceeded. */
export function eventNode(e: TraceEventRow): TraceNode {
  const d = e.data;
  const shown: Record<string, unknown> = {};
  for (const key of ['attempt', 'owner', 'limit', 'max', 'used', 'runAt', 'reason']) {
    if (d[key] !== undefined) shown[key] = d[key];
  }
  return node({
    kind: 'event',
    id: e.seq,
    label: eventLabel(e),
    status: e.type.slice('task:'.length),
    startedAt: iso(e.createdAt),
    durationMs: null,
    running: false,
    error: text(d.error) ?? (e.type === 'task:budget_exceeded' ? text(d.message) : null),
    details: shown,
  });
}

export function outboxNode(o: TraceOutboxRow, attemptsShown: number): TraceNode {
  const end = o.deliveredAt ?? o.deadAt;
  const what = o.kind === 'dispatch' ? 'dispatch' : 'event';
  const children = o.attemptLog.map((a) =>
    node({
      kind: 'attempt',
      id: `${o.id}:${a.attempt}:${a.at}`,
      label: `attempt ${a.attempt}${a.status === undefined ? '' : ` (HTTP ${a.status})`}`,
      status: a.error === undefined ? 'ok' : 'error',
      // attempt_log records when an attempt ended, not when it began.
      startedAt: new Date(a.at).toISOString(),
      durationMs: null,
      running: false,
      error: a.error ?? null,
    }),
  );
  const left = o.attemptLogLength - o.attemptLog.length;
  if (left > 0) {
    children.unshift(omittedNode(o.createdAt, left, 'earlier attempts', attemptsShown));
  }
  return node({
    kind: 'outbox',
    id: o.id,
    label: `${what} ${o.targetType ?? '?'} (outbox ${o.id})`,
    status: o.status,
    startedAt: iso(o.createdAt),
    durationMs: end ? between(o.createdAt, end) : null,
    running: end === null,
    error: o.lastError,
    traceId: traceIdOf(o.traceParent),
    details: {
      outboxKind: o.kind,
      target: o.targetType,
      attempts: o.attempts,
      maxAttempts: o.maxAttempts,
      deliveredAt: o.deliveredAt ? iso(o.deliveredAt) : null,
      deadAt: o.deadAt ? iso(o.deadAt) : null,
      ...(o.status === 'pending' ? { nextAttemptAt: iso(o.nextAttemptAt) } : {}),
    },
    children,
  });
}
