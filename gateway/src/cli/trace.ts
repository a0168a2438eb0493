import { SwitchboardError, UsageError } from '../errors.ts';
import type { TraceNode } from '../trace/nodes.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';
import { callGateway } from './gateway-api.ts';

const usage = `Usage:
  switchboard trace ID [--task | --delivery] [--json]

The chain of one event, from the database: the delivery (webhook or schedule fire) and what its
handler made of it, the tasks it created, each task's attempts, tool calls (with duration and
outcome), approvals, budget refusals and requeues, and its outbox rows with every delivery
attempt. Each line: the offset from the root's start, the duration ("running" while it runs),
the step and its status; errors in full below it; "trace <id>" when the row carries an
OpenTelemetry trace (open it in Jaeger).

ID is a task or a delivery: the task's trace is tried first, then the delivery's; --task or
--delivery says which. A task created by a delivery is shown under it (the delivery's other tasks
left out). At most 200 tasks per delivery and 1,000 tool calls per task are shown; a line says
how many more there were. --json prints the API's answer.
Through the running gateway (SWITCHBOARD_URL) with SWITCHBOARD_API_KEY (or SWITCHBOARD_ADMIN_KEY):
scopes tasks:read and deliveries:read.`;

interface TraceAnswer {
  trace: { root: TraceNode; focus: { kind: string; id: string } };
}

/** `+1.234s`: the offset from the root's start. */
function offset(ms: number): string {
  return `${ms < 0 ? '-' : '+'}${(Math.abs(ms) / 1000).toFixed(3)}s`;
}

/** `120ms`, `4.2s`, `3m05s`; `running` while it runs, `-` for an instant. */
export function durationText(node: Pick<TraceNode, 'durationMs' | 'running'>): string {
  if (node.running) return 'running';
  const ms = node.durationMs;
  if (ms === null) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** The facts worth a glance after the label, by kind. */
function facts(node: TraceNode): string {
  const d = node.details;
  switch (node.kind) {
    case 'delivery': {
      const h = d.handler as { triggers: number; tasks: number } | null;
      const handler = h ? `, handler: ${h.triggers} trigger(s), ${h.tasks} task(s)` : '';
      return ` attempts ${d.attempts}/${d.maxAttempts}${handler}`;
    }
    case 'task':
      return ` attempts ${d.attempts}/${d.maxAttempts}${d.queuedMs === null ? '' : `, queued ${durationText({ durationMs: d.queuedMs as number, running: false })}`}${d.reason ? `, reason ${d.reason}` : ''}`;
    case 'outbox':
      return ` attempts ${d.attempts}/${d.maxAttempts}`;
    default:
      return '';
  }
}

/** The tree, one line per node, children indented two spaces under their parent. */
export function renderTrace(root: TraceNode): string {
  const origin = Date.parse(root.startedAt);
  const lines: string[] = [];
  const walk = (node: TraceNode, depth: number) => {
    const indent = '  '.repeat(depth);
    const time =
      node.kind === 'omitted'
        ? ''.padEnd(18)
        : `${offset(Date.parse(node.startedAt) - origin).padStart(9)}  ${durationText(node).padStart(7)}`;
    // An event's label says what happened; an omitted line has nothing to add.
    const status = node.kind === 'omitted' || node.kind === 'event' ? '' : ` ${node.status}`;
    lines.push(`${time}  ${indent}${node.label}${status}${facts(node)}`.trimEnd());
    const more = `${''.padEnd(18)}  ${indent}    `;
    if (node.error)
      lines.push(
        ...node.error.split('\n').map((l, i) => `${more}${i === 0 ? 'error: ' : '       '}${l}`),
      );
    if (node.traceId) lines.push(`${more}trace ${node.traceId}`);
    for (const child of node.children) walk(child, depth + 1);
  };
  walk(root, 0);
  return lines.join('\n');
}

async function fetchTrace(
  env: NodeJS.ProcessEnv,
  id: string,
  kinds: readonly ('tasks' | 'deliveries')[],
): Promise<TraceAnswer> {
  for (const kind of kinds) {
    try {
      const route = `/trace/${kind}/${encodeURIComponent(id)}`;
      return (await callGateway(env, usage, 'GET', route)) as unknown as TraceAnswer;
    } catch (error) {
      // Not found as a task: try a delivery. Any other answer (403, 400) is the answer.
      const status = error instanceof SwitchboardError ? error.details?.status : undefined;
      if (status !== 404 || kinds.length === 1) throw error;
    }
  }
  throw new SwitchboardError('not_found', `no task or delivery ${JSON.stringify(id)}`);
}

export const trace: Command = {
  name: 'trace',
  summary: 'the chain of a delivery or task: handler, tasks, tool calls, dispatches, with times',
  usage,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        ...HELP_OPTION,
        json: { type: 'boolean' },
        task: { type: 'boolean' },
        delivery: { type: 'boolean' },
      },
      usage,
      { min: 1, max: 1 },
    );
    if (values.help) return showHelp(ctx, usage);
    if (values.task && values.delivery) {
      throw new UsageError('--task and --delivery exclude each other', usage);
    }
    const kinds = values.task
      ? (['tasks'] as const)
      : values.delivery
        ? (['deliveries'] as const)
        : (['tasks', 'deliveries'] as const);
    const answer = await fetchTrace(ctx.env, positionals[0]!, kinds);
    ctx.out(values.json ? JSON.stringify(answer, null, 2) : renderTrace(answer.trace.root));
    return 0;
  },
};
