import type { ClientCapabilities, ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { answerMcpTaskInput, type McpTaskRow } from '../mcp-tasks/store.ts';
import { RELATED_TASK_META_KEY } from '../mcp-tasks/wire-2025.ts';
import type { McpTaskMethodDeps } from './mcp-task-methods.ts';

/**
 * Client input for a 2025-era agent's task (basic/utilities/tasks, "Input Required Status"):
 * while the agent waits on tasks/result for a row parked `input_required`, the gateway sends
 * each pending input request (the upstream's MRTR `inputRequests`, SEP-2322) to the client as a
 * real server→client request on that tasks/result's stream, with
 * `_meta["io.modelcontextprotocol/related-task"] = { taskId }`, and files the answers as the
 * row's input responses (answerMcpTaskInput, the same store call as the 2026 tasks/update), which
 * queues its next run. The requests go through ctx.mcpReq.send, i.e. the transport that
 * client-replies.ts renames, so a reply POST reaching another replica is routed back here.
 *
 * Only kinds the client's handshake declared are asked; a round with any other, with more than
 * MAX_ASKED_PER_ROUND requests, or one the client fails (error, timeout) is not asked again in
 * this wait: the row stays input_required and the wait ends at its bound, as before.
 */

/**
 * Requests one round may ask at once: 20. Upstreams ask one or two per round; each is a wait row
 * of client-replies.ts, which holds at most 100 per token.
 */
export const MAX_ASKED_PER_ROUND = 20;

/**
 * How long one round waits for the client's answers at most: 5 min, and never past the
 * tasks/result wait itself (the call's bound, 10 min by default). A person answering a form
 * takes seconds to minutes; a client that never answers holds one wait row until then.
 */
export const ASK_TIMEOUT_MS = 5 * 60_000;

const inputRequest = z.object({
  method: z.enum(['elicitation/create', 'sampling/createMessage', 'roots/list']),
  params: z.record(z.string(), z.unknown()).optional(),
});

const CAPABILITY: Record<z.infer<typeof inputRequest>['method'], keyof ClientCapabilities> = {
  'elicitation/create': 'elicitation',
  'sampling/createMessage': 'sampling',
  'roots/list': 'roots',
};

/** The round's requests if all may be asked of a client that declared `declared`; else undefined. */
function askable(
  row: McpTaskRow,
  declared: ClientCapabilities | undefined,
): [string, z.infer<typeof inputRequest>][] | undefined {
  const entries = Object.entries(row.inputRequests ?? {});
  if (entries.length === 0 || entries.length > MAX_ASKED_PER_ROUND) return undefined;
  const out: [string, z.infer<typeof inputRequest>][] = [];
  for (const [key, value] of entries) {
    const parsed = inputRequest.safeParse(value);
    if (!parsed.success || declared?.[CAPABILITY[parsed.data.method]] === undefined) {
      return undefined;
    }
    out.push([key, parsed.data]);
  }
  return out;
}

/**
 * Asks the client for `row`'s pending input (see above) and files the answers; whether they were
 * all given (the caller then waits for the next run rather than asking again). At most
 * min(ASK_TIMEOUT_MS, `leftMs`) long; aborted with the tasks/result request.
 */
export async function askTaskInput(
  deps: McpTaskMethodDeps,
  row: McpTaskRow,
  agentTaskId: string,
  declared: ClientCapabilities | undefined,
  ctx: ServerContext,
  leftMs: number,
): Promise<boolean> {
  const asks = askable(row, declared);
  if (!asks) return false;
  const options = { timeout: Math.min(ASK_TIMEOUT_MS, leftMs), signal: ctx.mcpReq.signal };
  let answers: [string, unknown][];
  try {
    answers = await Promise.all(
      asks.map(async ([key, request]) => {
        const params = request.params ?? {};
        const meta = (params._meta ?? {}) as Record<string, unknown>;
        const sent = {
          method: request.method,
          params: { ...params, _meta: { ...meta, [RELATED_TASK_META_KEY]: { taskId: row.id } } },
        };
        return [key, await ctx.mcpReq.send(sent as never, options)] as [string, unknown];
      }),
    );
  } catch (error) {
    deps.handler.log.debug({ err: error, task: row.id }, 'mcp task input: client gave none');
    return false;
  }
  const queued = await answerMcpTaskInput(
    deps.runtime.deps.sql,
    row.id,
    agentTaskId,
    Object.fromEntries(answers),
  );
  if (queued) deps.runtime.queued();
  return true;
}
