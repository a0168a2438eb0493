import { SwitchboardError } from '../errors.ts';
import { inSpan, SpanKind, traceHeaders } from '../telemetry/spans.ts';
import type { IntegrationRegistry } from './registry.ts';

/**
 * The gateway calling an integration's hidden handler tool (on_webhook, on_schedule, deliver)
 * on its own behalf: no task, no agent token, the gateway's own upstream instance. The answer
 * is the tool's structuredContent (or its text parsed as JSON); an `isError` result, a server
 * that is not ready or a timeout throw a SwitchboardError (handler_* codes) naming the
 * integration and the tool; its `retryable` tells the job whether to try again.
 */

/** Slack gives 3 s; a handler doing real work gets 30 s unless the caller says less. */
export const DEFAULT_HANDLER_TIMEOUT_MS = 30_000;

/** Handler answers larger than this are refused before they are parsed (1 MiB). */
const MAX_TEXT_ANSWER_CHARS = 1024 * 1024;

interface ToolContent {
  type: string;
  text?: string;
}

export interface CallHandlerOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A CLIENT span per handler call (OTel's MCP conventions: `tools/call <tool>`). */
export function callHandler(
  registry: IntegrationRegistry,
  integration: string,
  tool: string,
  args: Record<string, unknown>,
  options: CallHandlerOptions = {},
): Promise<unknown> {
  return inSpan(
    `tools/call ${tool}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'mcp.method.name': 'tools/call',
        'gen_ai.tool.name': tool,
        'switchboard.integration': integration,
        'switchboard.handler': true,
      },
    },
    () => callHandlerNow(registry, integration, tool, args, options),
  );
}

async function callHandlerNow(
  registry: IntegrationRegistry,
  integration: string,
  tool: string,
  args: Record<string, unknown>,
  options: CallHandlerOptions,
): Promise<unknown> {
  const at = `${integration}:${tool}`;
  const item = registry.get(integration);
  if (!item?.upstream || item.state === 'refused' || item.state === 'stopped') {
    const why = item ? `it is ${item.state}` : 'no such integration';
    // A refused integration may become ready after a reload: the job stays retryable.
    throw new SwitchboardError(
      item ? 'handler_unavailable' : 'integration_unknown',
      `${at}: ${why}`,
    );
  }
  const limit = options.timeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS;
  let result: { isError?: boolean; structuredContent?: unknown; content?: unknown };
  // SEP-414: the trace context in `_meta` (traceparent, tracestate), for the server to continue.
  const meta = traceHeaders();
  try {
    result = (await item.upstream.request((client, timeoutMs) =>
      client.callTool(
        { name: tool, arguments: args, ...(meta.traceparent ? { _meta: meta } : {}) },
        {
          timeout: Math.min(limit, timeoutMs),
          ...(options.signal ? { signal: options.signal } : {}),
        },
      ),
    )) as typeof result;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new SwitchboardError('handler_failed', `${at}: ${message}`, { cause: error });
  }
  const content = Array.isArray(result.content) ? (result.content as ToolContent[]) : [];
  const text = content
    .filter((c) => c.type === 'text' && typeof c.text === 'string')
    .map((c) => c.text)
    .join('\n');
  if (result.isError) {
    throw new SwitchboardError('handler_error', `${at} answered an error: ${text || '(no text)'}`);
  }
  if (result.structuredContent !== undefined) return result.structuredContent;
  if (text.length > MAX_TEXT_ANSWER_CHARS) {
    throw new SwitchboardError('handler_result_invalid', `${at}: answer over 1 MiB`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new SwitchboardError(
      'handler_result_invalid',
      `${at}: expected structuredContent or JSON text, found ${JSON.stringify(text.slice(0, 200))}`,
    );
  }
}
