import type { AgentOutputParser } from './preset.ts';

export function codexJsonParser(): AgentOutputParser {
  return { line: () => undefined, finalAnswer: () => undefined };
}
