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
 * `goose run --output-format stream-json`: one JSON object per stdout line (measured with
 * 1.52.0 against the fake Chat Completions API; samples in
 * test/fixtures/agent-output/goose-*.jsonl). Two line types were seen:
 * - `{"type": "message", "message": {id, role, content: [...]}}`. goose prints a streamed
 *   model answer as it arrives: one line per chunk, each with the chunk's text only, all with
 *   the same message id. Content items:
 *   - `text` (assistant): put back together per message id, then → `task:assistant {text}`;
 *   - `toolRequest {id, toolCall: {status: "success", value: {name, arguments}}}` →
 *     `task:agent_tool {phase: 'call', id, name, input}` (names are goose's
 *     `<extension>__<tool>`, `github__get_pr`);
 *   - `toolResponse {id, toolResult: {status: "success", value: {content, isError}}}` (in a
 *     `user` message) → `task:agent_tool {phase: 'result', id, isError, text}`: what the model
 *     was shown (the gateway's own `task:tool_use` says what the gateway did). A `status`
 *     other than "success" is an error whose `error` is read as text.
 *   Other items (thinking, images) make no event.
 * - `{"type": "complete", input_tokens, output_tokens, cache_read_input_tokens,
 *   cache_write_input_tokens, cost_usd, total_tokens}` at the end of a run →
 *   `task:usage {ok: true, …}`.
 * Any other line (goose's own notices, or a type a later release adds) is kept as output.
 *
 * The final answer is the text of the last assistant message, unless that message asked for
 * a tool (the run then stopped mid-turn: no answer).
 *
 * goose 1.52 exits 0 when the model cannot be reached (or answers an error): it prints its own
 * notice ("Network error: Could not connect to …") as an assistant message, one without the
 * `metadata.inference` the model's messages carry, then `complete` with zero tokens. The
 * notice is then the run's failure (failure(): the task fails with agent_failed, is retried by
 * its profile's `retry`, and never dispatches the notice as a result), and the usage event says
 * `ok: false` with it as `error`. Every value is cut here (the output sink bounds the task's
 * total): an agent is not trusted to keep its lines short.
 */

const str = (v: unknown, max: number): string => cut(typeof v === 'string' ? v : '', max);

/** goose's `{status: "success", value}` or `{status: "error", error}` (its ToolResult). */
function outcome(result: unknown): { ok: true; value: unknown } | { ok: false; error: string } {
  if (isObject(result) && result.status === 'success') return { ok: true, value: result.value };
  const error = isObject(result) ? result.error : undefined;
  return {
    ok: false,
    error: typeof error === 'string' ? error : JSON.stringify(error ?? 'unknown error'),
  };
}

function toolEvent(item: Json): AgentEvent | undefined {
  const id = str(item.id, 128);
  if (item.type === 'toolRequest') {
    const call = outcome(item.toolCall);
    if (!call.ok)
      return {
        type: 'task:agent_tool',
        data: { phase: 'result', id, isError: true, text: cut(call.error, EVENT_TEXT_MAX) },
      };
    const value = isObject(call.value) ? call.value : {};
    return {
      type: 'task:agent_tool',
      data: {
        phase: 'call',
        id,
        name: str(value.name, 256),
        input: cut(JSON.stringify(value.arguments ?? {}), EVENT_INPUT_MAX),
      },
    };
  }
  if (item.type === 'toolResponse') {
    const result = outcome(item.toolResult);
    const isError = !result.ok || (isObject(result.value) && result.value.isError === true);
    const text = result.ok ? mcpResultText(result.value) : result.error;
    return {
      type: 'task:agent_tool',
      data: { phase: 'result', id, isError, text: cut(text, EVENT_TEXT_MAX) },
    };
  }
  return undefined;
}

export function gooseStreamParser(): AgentOutputParser {
  /** The assistant message being streamed: its id, its text so far, whether it asked a tool. */
  let current: { id: string; text: string; tools: boolean } | undefined;
  let answer: string | undefined;
  /** The last assistant message was goose's own notice, not the model's (see above). */
  let notice = false;

  /** The text streamed so far as one event; the message stays current (more may follow). */
  const takeText = (): AgentEvent[] => {
    if (current === undefined || current.text === '') return [];
    const text = current.text;
    current.text = '';
    answer = current.tools ? undefined : text;
    return [{ type: 'task:assistant', data: { text: cut(text, EVENT_TEXT_MAX) } }];
  };
  const endMessage = (): AgentEvent[] => {
    const events = takeText();
    if (current?.tools) answer = undefined;
    current = undefined;
    return events;
  };

  return {
    line(text: string): AgentEvent[] | undefined {
      if (!text.startsWith('{')) return undefined;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return undefined; // not the format (or cut by the line limit): kept as output
      }
      if (!isObject(parsed)) return undefined;
      if (parsed.type === 'complete') {
        const events = endMessage();
        const data: Record<string, unknown> = {
          ok: !notice,
          ...(notice && answer !== undefined ? { error: cut(answer, EVENT_TEXT_MAX) } : {}),
          inputTokens: num(parsed.input_tokens),
          outputTokens: num(parsed.output_tokens),
          cacheReadTokens: num(parsed.cache_read_input_tokens),
          cacheCreationTokens: num(parsed.cache_write_input_tokens),
          costUsd: num(parsed.cost_usd),
        };
        for (const key of Object.keys(data)) if (data[key] === undefined) delete data[key];
        return [...events, { type: 'task:usage', data }];
      }
      if (parsed.type !== 'message' || !isObject(parsed.message)) return undefined;
      const message = parsed.message;
      const content = Array.isArray(message.content)
        ? message.content.slice(0, BLOCKS_MAX).filter(isObject)
        : [];
      const id = str(message.id, 256);
      const events: AgentEvent[] = [];
      if (message.role !== 'assistant' || current?.id !== id) events.push(...endMessage());
      if (message.role === 'assistant') {
        current ??= { id, text: '', tools: false };
        notice = !isObject(message.metadata) || !isObject(message.metadata.inference);
      }
      for (const item of content) {
        if (message.role === 'assistant' && item.type === 'text' && typeof item.text === 'string') {
          // Chunks of one answer: kept up to the answer's bound, then dropped.
          if (current && current.text.length <= ANSWER_MAX)
            current.text = cut(current.text + item.text, ANSWER_MAX);
          continue;
        }
        const tool = toolEvent(item);
        if (tool === undefined) continue;
        if (current && item.type === 'toolRequest') {
          events.push(...takeText());
          current.tools = true;
        }
        events.push(tool);
      }
      return events;
    },
    finalAnswer() {
      if (current !== undefined) endMessage();
      return notice ? undefined : answer;
    },
    failure() {
      if (current !== undefined) endMessage();
      return notice ? (answer ?? 'goose ended without reaching its model') : undefined;
    },
  };
}
