import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwitchboardError } from '../errors.ts';
import type { Bundle } from './bundle.ts';
import type { AgentFile } from './context-files.ts';
import { BUNDLE_FILES, PROMPT_FILE } from './files.ts';

/**
 * What every driver (process, docker, kubernetes) does: start one task's agent, stream its
 * output, and say how it ended. The queue owns leases, events and the token's life; a runner
 * only runs.
 */

export interface OutputLine {
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface RunRequest {
  prompt: string;
  bundle: Bundle;
  /** The local folder `writeBundle` filled; the agent's working folder (and HOME). */
  workdir: string;
  timeoutMs: number;
  /**
   * The task's context files for its agent (context-files.ts placeContext), written into the
   * working folder next to the prompt file (kubernetes: mounted from the ConfigMap).
   */
  files?: readonly AgentFile[];
  /**
   * The profile's secrets (policy `secrets:`), decrypted by the worker: into the agent's
   * environment only, never onto a command line, into a file or a ConfigMap.
   */
  secrets?: Record<string, string>;
  signal?: AbortSignal;
  /** Called once per output line, in order, while the agent runs. */
  onLine: (line: OutputLine) => void;
  /**
   * Longest stdout line passed whole; longer ones arrive in pieces of this size. 8 KiB by
   * default (line-log.ts); an agent preset's structured output (one JSON object per line, a
   * long answer in one) gets AGENT_LINE_MAX.
   */
  maxLineChars?: number;
}

export type RunReason = 'exited' | 'timeout' | 'cancelled' | 'spawn_failed';

export interface RunResult {
  reason: RunReason;
  /**
   * The agent's own final answer read from its structured output (an agent preset's parser):
   * the result of a clean exit without task_complete, in place of the stdout tail.
   */
  answer?: string;
  /** The agent's own report that the run failed, though it exited 0 (AgentOutputParser.failure). */
  failure?: string;
  /** null when killed by a signal or never started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The last STDOUT_TAIL_MAX characters of stdout: the result of a clean exit without task_complete. */
  stdoutTail: string;
  /** Why it could not start (spawn_failed), or what went wrong around it. */
  error?: string;
}

export interface Runner {
  run(request: RunRequest): Promise<RunResult>;
}

/** 64 KiB of stdout is kept for the result; more belongs in task_complete. */
export const STDOUT_TAIL_MAX = 64 * 1024;

/** Keeps the last `max` characters of what is appended. */
export class Tail {
  private text = '';
  constructor(private readonly max = STDOUT_TAIL_MAX) {}
  push(line: string): void {
    this.text = this.text === '' ? line : `${this.text}\n${line}`;
    if (this.text.length > this.max)
      this.text = this.text.slice(this.text.length - this.max).replace(/^\n/, '');
  }
  toString(): string {
    return this.text;
  }
}

// ---- commands ----

/**
 * `command: "{switchboard}"` is this installation's own CLI (`switchboard agent`, the reference
 * agent), started with the Node that runs the gateway: `node gateway/bin/switchboard.js start`
 * and the Docker image have no `switchboard` on PATH. Only the process driver runs it; an
 * image has a CLI of its own.
 */
export const SWITCHBOARD_COMMAND = '{switchboard}';
export const SWITCHBOARD_BIN = fileURLToPath(new URL('../../bin/switchboard.js', import.meta.url));

/** The program and the args that go before the profile's: `{switchboard}` becomes node + bin. */
export function resolveCommand(command: string): { command: string; prefix: string[] } {
  if (command === SWITCHBOARD_COMMAND)
    return { command: process.execPath, prefix: [SWITCHBOARD_BIN] };
  return { command, prefix: [] };
}

/** Throws for a command with braces that is not `{switchboard}` (or is, where it cannot run). */
export function checkCommand(
  command: string | undefined,
  driver: 'process' | 'docker' | 'kubernetes',
): void {
  if (command === undefined) return;
  if (command === SWITCHBOARD_COMMAND) {
    if (driver === 'process') return;
    throw new SwitchboardError(
      'profile_invalid',
      `runner.command: ${SWITCHBOARD_COMMAND} is this gateway's own CLI and runs with the process driver only; under ${driver}, name the image's command`,
    );
  }
  if (/[{}]/.test(command)) {
    throw new SwitchboardError(
      'profile_invalid',
      `runner.command: found ${JSON.stringify(command)}; the only placeholder a command may be is ${SWITCHBOARD_COMMAND} (the gateway's own CLI)`,
    );
  }
}

// ---- placeholders ----

/**
 * `{name}` in a profile's args is replaced by a value, `{{` and `}}` are literal braces. Each
 * arg stays one argv element whatever the value holds (spaces, quotes, `;`): nothing is ever
 * handed to a shell. `{prompt}` is the one value from outside the gateway (an issue's text, a
 * chat message); `{prompt_file}` (the prompt in the working folder) and a runner's `stdin:
 * prompt` keep it off the command line altogether.
 */
export const PLACEHOLDERS = [
  'prompt',
  'prompt_file',
  'workdir',
  'task_id',
  'session_id',
  'mcp_url',
  'mcp_json',
  'config_toml',
  'cursor_json',
  'goose_yaml',
  'switchboard_json',
  'claude_allowed_tools',
] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
export type PlaceholderValues = Record<Placeholder, string>;

const TOKEN = /\{\{|\}\}|\{([^{}]*)\}|[{}]/g;
const isPlaceholder = (name: string): name is Placeholder =>
  (PLACEHOLDERS as readonly string[]).includes(name);

/** Throws for an unknown or unbalanced placeholder; call when the policy is loaded. */
export function checkArgs(args: readonly string[], where = 'args'): void {
  args.forEach((arg, index) => {
    for (const match of arg.matchAll(TOKEN)) {
      const [whole, name] = match;
      if (whole === '{{' || whole === '}}') continue;
      if (name === undefined || !isPlaceholder(name))
        throw new SwitchboardError(
          'profile_invalid',
          `${where}[${index}]: ${name === undefined ? `a lone ${whole} (write ${whole}${whole} for a literal brace)` : `unknown placeholder {${name}}`}; expected one of ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`,
        );
    }
  });
}

/**
 * Expands every arg. An option can only come from the profile's own text: an arg whose value
 * starts with `-` although the profile's arg does not (`{prompt}` with a prompt of
 * `--dangerously-skip-permissions`) gets a leading space, so the agent's option parser reads it
 * as an operand — the words are the same to a model. After a literal `--` arg the program
 * parses no more options (POSIX), so the args after it are left exactly as they are.
 */
export function expandArgs(args: readonly string[], values: PlaceholderValues): string[] {
  checkArgs(args);
  let operandsOnly = false;
  return args.map((arg) => {
    const expanded = arg.replace(TOKEN, (whole, name: string | undefined) => {
      if (whole === '{{') return '{';
      if (whole === '}}') return '}';
      return values[name as Placeholder];
    });
    const neutralise = !operandsOnly && expanded.startsWith('-') && !arg.startsWith('-');
    if (arg === '--') operandsOnly = true;
    return neutralise ? ` ${expanded}` : expanded;
  });
}

/**
 * The values for one task. `root` is where the working folder is seen by the agent: the local
 * path for the process driver, the mount point inside a container for docker and kubernetes.
 */
export function placeholderValues(
  request: Pick<RunRequest, 'prompt' | 'bundle'>,
  root: string,
  join: (...parts: string[]) => string = path.join,
): PlaceholderValues {
  const { bundle } = request;
  return {
    prompt: request.prompt,
    prompt_file: join(root, PROMPT_FILE),
    workdir: root,
    task_id: bundle.taskId,
    session_id: bundle.sessionId ?? '',
    mcp_url: `${bundle.publicUrl}/mcp`,
    mcp_json: join(root, BUNDLE_FILES.claude.path),
    config_toml: join(root, BUNDLE_FILES.codex.path),
    cursor_json: join(root, BUNDLE_FILES.cursor.path),
    goose_yaml: join(root, BUNDLE_FILES.goose.path),
    switchboard_json: join(root, BUNDLE_FILES.json.path),
    // Claude Code's `--allowedTools`: every server of the bundle, whole (`mcp__<server>`). The
    // gateway already hides each server's out-of-scope tools, so this is exactly the task's.
    claude_allowed_tools: bundle.servers.map((s) => `mcp__${s.name}`).join(','),
  };
}
