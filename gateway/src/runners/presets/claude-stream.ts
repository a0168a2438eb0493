import type { AgentEvent, AgentOutputParser } from './preset.ts';

/**
 * Claude Code's `--output-format stream-json --verbose`: one JSON object per stdout line
 * (measured with 2.1.332). What becomes a task event:
 * - `assistant` messages: each `text` block → `task:assistant {text}`, each `tool_use` block →
 *   `task:agent_tool {phase: 'call', id, name, input}`;
 * - `user` messages with `tool_result` blocks → `task:agent_tool {phase: 'result', id, isError,
 *   text}` (the gateway's own `task:tool_use` says what the gateway did; this is what the
 *   model was shown);
 * - the `result` line → `task:usage {inputTokens, outputTokens, …}`; its `result` text is the
 *   final answer when it reports success.
 * Other lines of the format (`system` init, stream events) make no event and are not kept as
 * output either: the init line alone lists every tool and command, several KiB.
 *
 * Every value is cut here (the sink bounds the task's total): an agent is not trusted to keep
 * its lines short.
 */

/** Longest assistant text, tool result or final answer kept in an event (8 KiB, a screen or two). */
export const EVENT_TEXT_MAX = 8 * 1024;
/** Longest tool input kept, as JSON text (2 KiB: enough to see what was asked). */
export const EVENT_INPUT_MAX = 2 * 1024;
/**
 * Longest final answer kept as the task's result: the stdout tail's size (runner.ts
 * STDOUT_TAIL_MAX), so `result` lines do not change how much a task may return.
 */
export const ANSWER_MAX = 64 * 1024;
/** Content blocks read per message: a message with more is an agent misbehaving. */
const BLOCKS_MAX = 64;

const cut = (text: string, max: number): string =>
  text.length > max ? `${text.slice(0, max)}…` : text;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

/** A tool result's content: a string or a list of text blocks. */
function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .slice(0, BLOCKS_MAX)
    .map((b) => (isObject(b) && typeof b.text === 'string' ? b.text : ''))
    .join('\n');
}

function blocks(message: unknown): Json[] {
  if (!isObject(message) || !Array.isArray(message.content)) return [];
  return message.content.slice(0, BLOCKS_MAX).filter(isObject);
}

export function claudeStreamParser(): AgentOutputParser {
  let answer: string | undefined;
  return {
    line(text: string): AgentEvent[] | undefined {
      if (!text.startsWith('{')) return undefined;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return undefined; // not the format (or cut by the line limit): kept as output
      }
      if (!isObject(parsed) || typeof parsed.type !== 'string') return undefined;
      switch (parsed.type) {
        case 'assistant':
          return blocks(parsed.message).flatMap((b): AgentEvent[] => {
            if (b.type === 'text' && typeof b.text === 'string' && b.text !== '')
              return [{ type: 'task:assistant', data: { text: cut(b.text, EVENT_TEXT_MAX) } }];
            if (b.type === 'tool_use' && typeof b.name === 'string')
              return [
                {
                  type: 'task:agent_tool',
                  data: {
                    phase: 'call',
                    id: cut(String(b.id ?? ''), 128),
                    name: cut(b.name, 256),
                    input: cut(JSON.stringify(b.input ?? {}), EVENT_INPUT_MAX),
                  },
                },
              ];
            return [];
          });
        case 'user':
          return blocks(parsed.message).flatMap((b): AgentEvent[] =>
            b.type === 'tool_result'
              ? [
                  {
                    type: 'task:agent_tool',
                    data: {
                      phase: 'result',
                      id: cut(String(b.tool_use_id ?? ''), 128),
                      isError: b.is_error === true,
                      text: cut(resultText(b.content), EVENT_TEXT_MAX),
                    },
                  },
                ]
              : [],
          );
        case 'result': {
          const ok = parsed.subtype === 'success' && parsed.is_error !== true;
          if (ok && typeof parsed.result === 'string') answer = cut(parsed.result, ANSWER_MAX);
          const usage = isObject(parsed.usage) ? parsed.usage : {};
          const data: Record<string, unknown> = {
            ok,
            subtype: cut(String(parsed.subtype ?? ''), 64),
            inputTokens: num(usage.input_tokens),
            outputTokens: num(usage.output_tokens),
            cacheReadTokens: num(usage.cache_read_input_tokens),
            cacheCreationTokens: num(usage.cache_creation_input_tokens),
            costUsd: num(parsed.total_cost_usd),
            turns: num(parsed.num_turns),
            durationMs: num(parsed.duration_ms),
          };
          for (const key of Object.keys(data)) if (data[key] === undefined) delete data[key];
          return [{ type: 'task:usage', data }];
        }
        case 'system':
        case 'stream_event':
        case 'rate_limit_event':
          return [];
        default:
          return undefined;
      }
    },
    finalAnswer: () => answer,
  };
}
