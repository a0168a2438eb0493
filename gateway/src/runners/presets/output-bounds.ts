/**
 * The bounds every agent output parser (claude-stream.ts, codex-json.ts, goose-stream.ts) cuts to, and the small
 * readers they share. Every value is cut in the parser (the output sink bounds the task's
 * total): an agent is not trusted to keep its lines short.
 */

/** Longest assistant text, tool result or final answer kept in an event (8 KiB, a screen or two). */
export const EVENT_TEXT_MAX = 8 * 1024;
/** Longest tool input kept, as JSON text (2 KiB: enough to see what was asked). */
export const EVENT_INPUT_MAX = 2 * 1024;
/**
 * Longest final answer kept as the task's result: the stdout tail's size (runner.ts
 * STDOUT_TAIL_MAX), so a parsed answer does not change how much a task may return.
 */
export const ANSWER_MAX = 64 * 1024;
/** Content blocks read per message or tool result: more is an agent misbehaving. */
export const BLOCKS_MAX = 64;

export const cut = (text: string, max: number): string =>
  text.length > max ? `${text.slice(0, max)}…` : text;

export type Json = Record<string, unknown>;
export const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
export const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

/** An MCP tool result's text blocks, joined (images and resources are named, not inlined). */
export function mcpResultText(result: unknown): string {
  if (!isObject(result) || !Array.isArray(result.content)) return '';
  return result.content
    .slice(0, BLOCKS_MAX)
    .map((b) => {
      if (!isObject(b)) return '';
      if (typeof b.text === 'string') return b.text;
      return typeof b.type === 'string' ? `[${cut(b.type, 32)}]` : '';
    })
    .join('\n');
}
