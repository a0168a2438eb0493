import type { Logger } from '../log.ts';
import type { AgentPreset } from '../runners/presets/preset.ts';
import type { OutputLine } from '../runners/runner.ts';
import type { OutputSink } from './worker-output.ts';

/**
 * Longest stdout line an agent preset's parser gets whole (1 MiB): one stream-json object
 * holds a whole message, a long answer or a large tool result. Longer lines arrive in 1 MiB
 * pieces that parse as nothing and are kept (cut to 8 KiB) as output lines, so a 10 MB line
 * costs at most ten pieces; the sink's 1 MiB per task bounds the rest.
 */
export const AGENT_LINE_MAX = 1024 * 1024;

export interface AgentLines {
  onLine(line: OutputLine): void;
  /** The agent's final answer, if its parser read one. */
  answer(): string | undefined;
  /** The agent's own report that its run failed (AgentOutputParser.failure). */
  failure(): string | undefined;
  /** For RunRequest.maxLineChars: longer lines whole only when a parser reads them. */
  maxLineChars: number | undefined;
}

/**
 * Routes one run's output lines: stdout through the preset's parser when the profile names an
 * agent (its events, or the line itself when the parser does not know it), everything else as
 * a plain line. A parser that throws is logged once and bypassed from then on: the task's
 * output must not depend on it.
 */
export function agentLines(
  sink: OutputSink,
  preset: AgentPreset | undefined,
  log: Logger,
  /**
   * The profile's secret values out of a line before the parser reads it: the parser cuts long
   * texts, and a value cut in two would no longer match afterwards (the sink redacts the lines
   * it is given itself).
   */
  redact: (text: string) => string = (text) => text,
): AgentLines {
  let parser = preset?.output();
  return {
    onLine(line) {
      if (parser === undefined || line.stream !== 'stdout') return sink.push(line);
      const text = redact(line.line);
      let events: ReturnType<typeof parser.line>;
      try {
        events = parser.line(text);
      } catch (error) {
        log.warn(
          { err: error, agent: preset?.name },
          'agent output parser failed; lines kept as output',
        );
        parser = undefined;
      }
      if (events === undefined) sink.push({ stream: line.stream, line: text });
      else sink.pushEvents(events);
    },
    answer() {
      try {
        return parser?.finalAnswer();
      } catch {
        return undefined;
      }
    },
    failure() {
      try {
        return parser?.failure?.();
      } catch {
        return undefined;
      }
    },
    maxLineChars: preset ? AGENT_LINE_MAX : undefined,
  };
}
