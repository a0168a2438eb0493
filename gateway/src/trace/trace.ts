import type { Sql } from '../db/connect.ts';
import {
  approvalNodes,
  deliveryNode,
  eventNode,
  omittedNode,
  outboxNode,
  type TraceNode,
  taskNode,
  toolCallNode,
} from './nodes.ts';
import {
  findTraceDelivery,
  findTraceTask,
  listTraceEvents,
  listTraceOutbox,
  listTraceTasksOfDelivery,
  type TraceDeliveryRow,
  type TraceTaskRow,
} from './store.ts';

/**
 * `switchboard trace` and GET /api/v1/trace/…: the chain of one event read back from the
 * database, as a tree with times: the delivery (webhook or schedule fire) and its handler's
 * result, the tasks it created, each task's attempts, tool calls, approvals, budget refusals,
 * requeues, and its outbox rows (dispatch and subscribed events) with their attempt log.
 * Started from a task, the delivery that created it (when there is one) is the root.
 *
 * Bounded whatever the history: the caps below are in the answer (`limits`), and each capped
 * list gets an `omitted` child saying how many were left out. Four statements at most.
 */
export const TRACE_LIMITS = {
  /** A webhook handler makes a handful; a fan-out to 200 is already one page of a screen. */
  tasksPerDelivery: 200,
  /** Tool calls of one task, the first ones. A long agent run makes a few hundred. */
  toolCallsPerTask: 1000,
  /** Tool calls in one answer (≈ 250 bytes each: at most ≈ 5 MB of JSON). */
  toolCallsPerTrace: 20_000,
  /** Started, requeued, approval and budget events of one task. */
  otherEventsPerTask: 200,
  /** A task has one dispatch row; approvals announced through the outbox add one each. */
  dispatchRowsPerTask: 50,
  /** One row per subscribed event: a chatty task with a `*` subscription makes hundreds. */
  eventRowsPerTask: 200,
  /** attempt_log entries shown per outbox row, the last ones (10 per life of a row, redrives add). */
  attemptsPerOutboxRow: 50,
} as const;

const EVENT_TYPES = [
  'task:tool_use',
  'task:started',
  'task:requeued',
  'task:approval_requested',
  'task:approval_decided',
  'task:budget_exceeded',
];

export interface Trace {
  root: TraceNode;
  /** What was asked for: the root, or a task under it. */
  focus: { kind: 'delivery' | 'task'; id: string };
  limits: typeof TRACE_LIMITS & { toolCallsPerTaskHere: number };
}

/** What a trace is about, for the API's integration-key bound. */
export interface TraceOwner {
  /** The integration whose webhook or schedule made the delivery; null without one. */
  integration: string | null;
  /** The key of the traced task's session (started from a task); null otherwise. */
  sessionKey: string | null;
}

export type TraceAnswer = { trace: Trace; owner: TraceOwner };

/** Tool calls per task in an answer with `tasks` tasks: TOOL_CALLS_PER_TRACE shared out. */
function toolCallCap(tasks: number): number {
  const share = Math.floor(TRACE_LIMITS.toolCallsPerTrace / Math.max(1, tasks));
  return Math.min(TRACE_LIMITS.toolCallsPerTask, Math.max(100, share));
}

const byStart = (a: TraceNode, b: TraceNode) => Date.parse(a.startedAt) - Date.parse(b.startedAt);

/** The task nodes with their steps as children, in the order of `tasks`. */
async function taskNodes(sql: Sql, tasks: readonly TraceTaskRow[]): Promise<TraceNode[]> {
  if (tasks.length === 0) return [];
  const ids = tasks.map((t) => t.id);
  const toolCalls = toolCallCap(tasks.length);
  const events = await listTraceEvents(sql, ids, EVENT_TYPES, {
    toolCalls,
    others: TRACE_LIMITS.otherEventsPerTask,
  });
  const outbox = await listTraceOutbox(sql, ids, {
    dispatch: TRACE_LIMITS.dispatchRowsPerTask,
    event: TRACE_LIMITS.eventRowsPerTask,
    attemptsShown: TRACE_LIMITS.attemptsPerOutboxRow,
  });
  return tasks.map((task) => {
    const node = taskNode(task);
    const own = events.filter((e) => e.taskId === task.id);
    const calls = own.filter((e) => e.type === 'task:tool_use');
    const rest = own.filter((e) => e.type !== 'task:tool_use');
    const rows = outbox.filter((o) => o.taskId === task.id);
    // A stable sort: steps that start in the same millisecond keep their seq (or id) order.
    node.children = [
      ...rest.filter((e) => !e.type.startsWith('task:approval_')).map(eventNode),
      ...approvalNodes(rest),
      ...calls.map(toolCallNode),
      ...rows.map((o) => outboxNode(o, TRACE_LIMITS.attemptsPerOutboxRow)),
    ].sort(byStart);
    const end = task.finishedAt ?? task.createdAt;
    const leftCalls = (calls[0]?.total ?? 0) - calls.length;
    if (leftCalls > 0) node.children.push(omittedNode(end, leftCalls, 'tool calls', toolCalls));
    const leftOthers = (rest[0]?.total ?? 0) - rest.length;
    if (leftOthers > 0) {
      node.children.push(omittedNode(end, leftOthers, 'events', TRACE_LIMITS.otherEventsPerTask));
    }
    for (const kind of ['dispatch', 'event'] as const) {
      const shown = rows.filter((o) => o.kind === kind);
      const cap =
        kind === 'dispatch' ? TRACE_LIMITS.dispatchRowsPerTask : TRACE_LIMITS.eventRowsPerTask;
      const left = (shown[0]?.total ?? 0) - shown.length;
      if (left > 0) node.children.push(omittedNode(end, left, `${kind} outbox rows`, cap));
    }
    return node;
  });
}

function limits(tasks: number): Trace['limits'] {
  return { ...TRACE_LIMITS, toolCallsPerTaskHere: toolCallCap(tasks) };
}

/** The trace of a delivery, undefined when there is no such delivery. */
export async function traceDelivery(sql: Sql, id: string): Promise<TraceAnswer | undefined> {
  const delivery = await findTraceDelivery(sql, id);
  if (!delivery) return undefined;
  const tasks = await listTraceTasksOfDelivery(sql, id, TRACE_LIMITS.tasksPerDelivery);
  return {
    trace: {
      root: await deliveryTree(sql, delivery, tasks),
      focus: { kind: 'delivery', id },
      limits: limits(tasks.length),
    },
    owner: { integration: delivery.integration, sessionKey: null },
  };
}

async function deliveryTree(
  sql: Sql,
  delivery: TraceDeliveryRow,
  tasks: readonly TraceTaskRow[],
): Promise<TraceNode> {
  const root = deliveryNode(delivery);
  root.children = await taskNodes(sql, tasks);
  const left = (tasks[0]?.total ?? 0) - tasks.length;
  if (left > 0) {
    const at = delivery.processedAt ?? delivery.receivedAt;
    root.children.push(omittedNode(at, left, 'tasks', TRACE_LIMITS.tasksPerDelivery));
  }
  return root;
}

/**
 * The trace of a task: under the delivery that created it when there is one (its siblings left
 * out: `details.tasksOfDelivery` counts them), else the task is the root.
 */
export async function traceTask(sql: Sql, id: string): Promise<TraceAnswer | undefined> {
  const task = await findTraceTask(sql, id);
  if (!task) return undefined;
  const delivery = task.deliveryId ? await findTraceDelivery(sql, task.deliveryId) : undefined;
  const [node] = await taskNodes(sql, [task]);
  let root = node!;
  if (delivery) {
    root = deliveryNode(delivery);
    root.children = [node!];
  }
  return {
    trace: { root, focus: { kind: 'task', id }, limits: limits(1) },
    owner: { integration: delivery?.integration ?? null, sessionKey: task.sessionKey },
  };
}
