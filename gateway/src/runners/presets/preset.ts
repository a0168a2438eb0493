/**
 * An agent CLI the gateway knows how to drive (issue 15): what a profile gets from `agent:
 * <name>` (Claude Code, Codex CLI, goose, a generic MCP-capable CLI). A preset supplies what
 * differs per agent; the runners (process, docker, kubernetes) stay the same:
 * - the command line and stdin (the prompt by file or stdin, never as an argv word),
 * - environment the agent needs to run unattended (never a credential: those are the
 *   profile's secrets),
 * - a parser of its structured output (Claude `stream-json`, Codex `--json`): each stdout line
 *   becomes task events (assistant text, tool calls, usage), and its final answer becomes the
 *   result when the agent did not call task_complete;
 * - where the task's context (preamble, session history, skills) goes: files the agent reads
 *   by itself, or the prompt (`context`, rendered by runners/context-files.ts).
 */

import type { ContextPlacement } from '../context-files.ts';

export interface AgentPreset {
  /** The `agent:` value in a profile. */
  readonly name: string;
  /** The program (process driver; in a container, the image's). */
  readonly command: string;
  /** Arguments, with the runner placeholders (runner.ts PLACEHOLDERS). */
  readonly args: readonly string[];
  readonly stdin: 'prompt' | 'none';
  /** Variables the agent needs whatever the profile says; the profile's own `env` wins. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Where the task's context goes. Files are relative to the working folder, which is HOME:
   * user-level locations the agent reads whatever its working directory (a profile's `cwd`).
   */
  readonly context: ContextPlacement;
  /** A fresh parser for one run (parsers keep state: the last answer, usage sums). */
  output(): AgentOutputParser;
}

/** Reads one run's stdout, line by line. */
export interface AgentOutputParser {
  /**
   * The task events one stdout line makes; undefined when the line is not the agent's
   * structured output (it is then kept as a `task:token` line, as for any agent).
   */
  line(text: string): AgentEvent[] | undefined;
  /** The agent's last answer: the task's result when it ended cleanly without task_complete. */
  finalAnswer(): string | undefined;
  /**
   * Why the run failed, when the agent said so in its output but exited 0 anyway (goose 1.52
   * does when its model cannot be reached): the task then fails with `agent_failed` and this
   * text, rather than completing with the agent's notice as its result.
   */
  failure?(): string | undefined;
}

/** A task event an agent's output makes (its data is bounded by the output sink). */
export interface AgentEvent {
  type: 'task:assistant' | 'task:agent_tool' | 'task:usage';
  data: Record<string, unknown>;
}
