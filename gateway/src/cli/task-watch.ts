import { formatDuration } from '@switchboard/policy';
import { loadConfig, publicUrlFor } from '../config.ts';
import { SwitchboardError, UsageError } from '../errors.ts';
import type { CliContext } from './command.ts';
import { callGateway } from './gateway-api.ts';

/**
 * The live view of `task run --wait` and `task watch`: the task's SSE stream from the gateway,
 * one line per event as it arrives, then the result. Exit code 0 when the task completed,
 * 1 when it failed or was cancelled.
 */

interface StreamEvent {
  seq: string;
  type: string;
  data: Record<string, unknown>;
  createdAt: string;
}

const TERMINAL = new Set(['task:done', 'task:failed', 'task:cancelled', 'task:complete']);

const str = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
/** An agent's text on one line, 200 characters at most: the event holds the rest. */
const oneLine = (text: string): string => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
};

/** One human line per event; unknown types show their data as JSON. */
export function describeEvent(e: StreamEvent): string {
  const d = e.data;
  const at = e.createdAt.slice(11, 23);
  switch (e.type) {
    case 'task:created':
      return `${at} created (profile ${str(d.profile)})`;
    case 'task:started':
      return `${at} running (attempt ${str(d.attempt)}${d.owner ? ` on ${str(d.owner)}` : ''})`;
    case 'task:running':
      return `${at} running (external)`;
    case 'task:tool_use':
      return `${at} tool ${str(d.integration)}__${str(d.tool)} ${d.ok === false ? 'failed' : 'ok'} in ${str(d.durationMs)} ms${d.error ? `: ${str(d.error)}` : ''}`;
    case 'task:progress': {
      const of =
        d.progress === undefined
          ? ''
          : ` (${str(d.progress)}${d.total === undefined ? '' : `/${str(d.total)}`})`;
      return `${at} progress: ${str(d.message ?? '')}${of}`;
    }
    case 'task:token':
      return `${at} ${str(d.stream ?? 'stdout')}: ${str(d.text ?? '')}`;
    case 'task:assistant':
      return `${at} assistant: ${oneLine(str(d.text ?? ''))}`;
    case 'task:agent_tool':
      return d.phase === 'result'
        ? `${at} agent tool result${d.isError === true ? ' (error)' : ''}: ${oneLine(str(d.text ?? ''))}`
        : `${at} agent calls ${str(d.name)} ${str(d.input ?? '{}')}`;
    case 'task:usage':
      return `${at} usage: ${str(d.inputTokens ?? '?')} in, ${str(d.outputTokens ?? '?')} out${d.turns === undefined ? '' : `, ${str(d.turns)} turns`}${d.costUsd === undefined ? '' : `, $${Number(d.costUsd).toFixed(4)}`}`;
    case 'task:completing':
      return `${at} the agent reported its result`;
    case 'task:ask_user':
      return `${at} asks: ${str(d.question ?? '')}`;
    case 'task:requeued':
      return `${at} requeued (${str(d.reason)}, attempt ${str(d.attempt)})`;
    case 'task:done':
    case 'task:complete':
      return `${at} complete`;
    case 'task:failed':
      return `${at} failed: ${str(d.reason)}${d.error ? ` (${str(d.error)})` : ''}`;
    case 'task:cancelled':
      return `${at} cancelled${d.by ? ` by ${str(d.by)}` : ''}`;
    case 'task:approval_requested': {
      const a = (d.approval ?? {}) as Record<string, unknown>;
      const message = a.message === undefined ? '' : ` (${oneLine(str(a.message))})`;
      return `${at} approval ${str(a.id)} requested for ${str(a.integration)}:${str(a.tool)}${message}, until ${str(a.expiresAt)}; approve with: switchboard approvals approve ${str(a.id)}`;
    }
    case 'task:approval_decided':
      return `${at} approval ${str(d.approvalId)} ${str(d.status)} for ${str(d.integration)}:${str(d.tool)}${d.by ? ` by ${str(d.by)}` : ''}${d.reason ? `: ${oneLine(str(d.reason))}` : ''}`;
    case 'task:budget_exceeded':
      return `${at} budget exceeded: ${str(d.limit)} (${str(d.used)} of ${str(d.max)}, ${str(d.source)}), refused ${str(d.integration)}__${str(d.tool)}`;
    default:
      return `${at} ${e.type} ${JSON.stringify(d)}`;
  }
}

interface BudgetView {
  limits: {
    toolCalls?: number;
    perTool?: Record<string, number>;
    upstreamBytes?: number;
    wallTimeMs?: number;
  };
  calls: number;
  perTool: Record<string, number>;
  upstreamBytes: number;
  exceeded: string[];
}

/** `budget: 20/20 tool calls, echo:sleep 3/3, 1834/2000 upstream bytes, wall time 30m (exceeded: toolCalls)`. */
export function describeBudget(b: BudgetView): string {
  const parts: string[] = [];
  if (b.limits.toolCalls !== undefined) parts.push(`${b.calls}/${b.limits.toolCalls} tool calls`);
  else parts.push(`${b.calls} tool calls`);
  for (const [pattern, max] of Object.entries(b.limits.perTool ?? {})) {
    parts.push(`${pattern} ${b.perTool[pattern] ?? 0}/${max}`);
  }
  if (b.limits.upstreamBytes !== undefined) {
    parts.push(`${b.upstreamBytes}/${b.limits.upstreamBytes} upstream bytes`);
  }
  if (b.limits.wallTimeMs !== undefined)
    parts.push(`wall time ${formatDuration(b.limits.wallTimeMs)}`);
  const exceeded = b.exceeded.length > 0 ? ` (exceeded: ${b.exceeded.join(', ')})` : '';
  return `budget: ${parts.join(', ')}${exceeded}`;
}

/** Parses `text/event-stream` blocks from a fetch body; yields each event's data. */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data !== '') yield JSON.parse(data) as StreamEvent;
    }
  }
}

export async function watchTask(ctx: CliContext, usage: string, id: string): Promise<number> {
  const config = loadConfig(ctx.env);
  const base = (ctx.env.SWITCHBOARD_URL ?? publicUrlFor(config, config.port)).replace(/\/+$/, '');
  const key = ctx.env.SWITCHBOARD_API_KEY ?? ctx.env.SWITCHBOARD_ADMIN_KEY;
  if (!key)
    throw new UsageError('set SWITCHBOARD_API_KEY (or SWITCHBOARD_ADMIN_KEY) to an API key', usage);
  const route = `/tasks/${encodeURIComponent(id)}/events`;
  let res: Response;
  try {
    // No deadline: a task may run for hours. The gateway ends the stream after the last event.
    res = await fetch(`${base}/api/v1${route}`, {
      headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' },
    });
  } catch (error) {
    throw new SwitchboardError(
      'gateway_unreachable',
      `cannot reach the gateway at ${base}: ${(error as Error).message}`,
    );
  }
  if (!res.ok || !res.body) {
    const json = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    throw new SwitchboardError(
      'api_error',
      `GET ${route}: ${res.status} ${json.error?.message ?? ''}`.trim(),
    );
  }
  let last: StreamEvent | undefined;
  for await (const event of sseData(res.body)) {
    ctx.out(describeEvent(event));
    last = event;
    if (TERMINAL.has(event.type)) break;
  }
  const { task, budget } = (await callGateway(
    ctx.env,
    usage,
    'GET',
    `/tasks/${encodeURIComponent(id)}`,
  )) as {
    task: { status: string; result: string | null; reason: string | null; error: string | null };
    budget?: BudgetView | null;
  };
  if (budget) ctx.out(describeBudget(budget));
  if (task.status === 'complete') {
    if (task.result) ctx.out(task.result);
    return 0;
  }
  if (!last || !TERMINAL.has(last.type))
    ctx.err(`the event stream ended with the task ${task.status}`);
  return 1;
}
