import {
  ANSWER_MAX,
  BLOCKS_MAX,
  cut,
  EVENT_INPUT_MAX,
  EVENT_TEXT_MAX,
  isObject,
  type Json,
  mcpResultText,
  num,
} from './output-bounds.ts';
import type { AgentEvent, AgentOutputParser } from './preset.ts';

/**
 * `codex exec --json`: one JSON event per stdout line (measured with 0.171.0; samples in
 * test/fixtures/agent-output/codex-*.jsonl). What becomes a task event:
 * - `item.started` of a tool item → `task:agent_tool {phase: 'call', id, name, input}`: an MCP
 *   call (`mcp_tool_call`, named `mcp__<server>__<tool>` as Claude Code names them), a shell
 *   command (`command_execution`), a web search;
 * - `item.completed` of a tool item → `task:agent_tool {phase: 'result', id, name, isError,
 *   text}` (what the model was shown; the gateway's own `task:tool_use` says what it did), a
 *   file change included;
 * - `item.completed` of an `agent_message` → `task:assistant {text}`; the last one is the final
 *   answer, unless a turn failed afterwards;
 * - `turn.completed` → `task:usage {ok: true, inputTokens, …}`, `turn.failed` → `task:usage
 *   {ok: false, error}`.
 * Bookkeeping lines (`thread.started`, `turn.started`, `item.updated`, reasoning and to-do
 * items) make no event. Codex's own notices (`error` events and items: "Reconnecting…", a
 * model without metadata) are not the format's content: they are kept as output lines.
 *
 * Every value is cut here (the output sink bounds the task's total), and a line longer than
 * LINE_MAX is not parsed at all: an agent is not trusted to keep its lines short.
 */

/**
 * Longest line parsed (1 MiB + 1 KiB of envelope): one event holds a whole message or tool
 * result, which Codex itself caps far lower. A longer line is not this format: kept as output.
 */
export const LINE_MAX = 1024 * 1024 + 1024;
const str = (v: unknown, max: number): string => cut(typeof v === 'string' ? v : '', max);

/** JSON text of a value, cut; never throws (a cycle cannot come out of JSON.parse). */
const jsonText = (value: unknown, max: number): string => cut(JSON.stringify(value ?? {}), max);

/** A tool item's name and input, or undefined for items that are not tool calls. */
function toolCall(item: Json): { name: string; input: string } | undefined {
  switch (item.type) {
    case 'mcp_tool_call':
      return {
        name: cut(`mcp__${str(item.server, 128)}__${str(item.tool, 128)}`, 300),
        input: jsonText(item.arguments, EVENT_INPUT_MAX),
      };
    case 'command_execution':
      return { name: 'exec_command', input: str(item.command, EVENT_INPUT_MAX) };
    case 'web_search':
      return { name: 'web_search', input: str(item.query, EVENT_INPUT_MAX) };
    default:
      return undefined;
  }
}

/** A finished tool item's outcome, or undefined for items that are not tool calls. */
function toolResult(item: Json): { name: string; isError: boolean; text: string } | undefined {
  const failed = item.status === 'failed' || item.status === 'declined';
  switch (item.type) {
    case 'mcp_tool_call': {
      const error = isObject(item.error) ? str(item.error.message, EVENT_TEXT_MAX) : '';
      const isError =
        failed || error !== '' || (isObject(item.result) && item.result.is_error === true);
      return {
        name: toolCall(item)?.name ?? '',
        isError,
        text: cut(error || mcpResultText(item.result), EVENT_TEXT_MAX),
      };
    }
    case 'command_execution': {
      const code = num(item.exit_code);
      return {
        name: 'exec_command',
        isError: failed || (code !== undefined && code !== 0),
        text: str(item.aggregated_output, EVENT_TEXT_MAX),
      };
    }
    case 'file_change': {
      const changes = Array.isArray(item.changes) ? item.changes.slice(0, BLOCKS_MAX) : [];
      const text = changes
        .map((c) => (isObject(c) ? `${str(c.kind, 16)} ${str(c.path, 1024)}` : ''))
        .join('\n');
      return { name: 'file_change', isError: failed, text: cut(text, EVENT_TEXT_MAX) };
    }
    case 'web_search':
      return { name: 'web_search', isError: failed, text: '' };
    default:
      return undefined;
  }
}

function usageData(usage: unknown): Record<string, unknown> {
  const u = isObject(usage) ? usage : {};
  const data: Record<string, unknown> = {
    ok: true,
    inputTokens: num(u.input_tokens),
    outputTokens: num(u.output_tokens),
    cacheReadTokens: num(u.cached_input_tokens),
    reasoningTokens: num(u.reasoning_output_tokens),
  };
  for (const key of Object.keys(data)) if (data[key] === undefined) delete data[key];
  return data;
}

export function codexJsonParser(): AgentOutputParser {
  let answer: string | undefined;
  let failed = false;
  return {
    line(text: string): AgentEvent[] | undefined {
      if (text.length > LINE_MAX || !text.startsWith('{')) return undefined;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return undefined; // not the format (or cut by the line limit): kept as output
      }
      if (!isObject(parsed) || typeof parsed.type !== 'string') return undefined;
      const item = isObject(parsed.item) ? parsed.item : undefined;
      const id = cut(String(item?.id ?? ''), 128);
      switch (parsed.type) {
        case 'thread.started':
        case 'turn.started':
        case 'item.updated':
          return [];
        case 'item.started': {
          if (item === undefined) return undefined;
          const call = toolCall(item);
          return call ? [{ type: 'task:agent_tool', data: { phase: 'call', id, ...call } }] : [];
        }
        case 'item.completed': {
          if (item === undefined) return undefined;
          if (item.type === 'agent_message') {
            if (typeof item.text !== 'string' || item.text === '') return [];
            answer = cut(item.text, ANSWER_MAX);
            return [{ type: 'task:assistant', data: { text: cut(item.text, EVENT_TEXT_MAX) } }];
          }
          if (item.type === 'error') return undefined; // Codex's notice: an output line
          const result = toolResult(item);
          return result
            ? [{ type: 'task:agent_tool', data: { phase: 'result', id, ...result } }]
            : []; // reasoning, to-do lists
        }
        case 'turn.completed':
          return [{ type: 'task:usage', data: usageData(parsed.usage) }];
        case 'turn.failed': {
          failed = true;
          const error = isObject(parsed.error) ? str(parsed.error.message, EVENT_TEXT_MAX) : '';
          return [{ type: 'task:usage', data: { ok: false, error } }];
        }
        default:
          return undefined; // `error` notices, and types of a later version: output lines
      }
    },
    // A failed turn's last message is no answer (Codex exits non-zero then anyway).
    finalAnswer: () => (failed ? undefined : answer),
  };
}
