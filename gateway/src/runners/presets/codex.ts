import { codexJsonParser } from './codex-json.ts';
import type { AgentPreset } from './preset.ts';

/**
 * The OpenAI Codex CLI (`@openai/codex`, tried at 0.171.0, REFERENCES §J) in `codex exec`
 * mode, unattended:
 * - the prompt on stdin: no PROMPT operand, so `codex exec` reads its instructions from the
 *   piped stdin (`codex exec --help`); never an argv word (`ps` shows argv to every user, and
 *   a prompt starting with `--` must not pass for an option);
 * - its config from `~/.codex/config.toml`, the file the bundle writes (formats/toml.ts): the
 *   runners set HOME to the task's folder (files.ts; /workspace in a container), so Codex's
 *   default CODEX_HOME is the bundle's `.codex` without a variable (a preset's env is fixed
 *   text, it cannot name the task's folder). Every server there has
 *   `default_tools_approval_mode = "approve"`: `codex exec` cannot ask anyone, and refuses an
 *   unapproved MCP call ("requires approval, but approval policy is never");
 * - `--json`: one JSON event per stdout line, which `codex-json.ts` turns into task events and
 *   the final answer;
 * - `--skip-git-repo-check`: the task folder is no git repository;
 * - `--ephemeral`: no session files (the folder is removed with the task anyway);
 * - `--sandbox workspace-write`: shell commands the model runs may write in the working
 *   folder only, and approvals are never asked (exec's policy is `never`). Under the docker
 *   driver the container is the sandbox: a profile there may replace the args with
 *   `--dangerously-bypass-approvals-and-sandbox` if the image has no user namespaces;
 * - `-c analytics.enabled=false`, `-c check_for_update_on_startup=false`: a task's agent
 *   talks to its model and the gateway, nothing else;
 * - `-c shell_environment_policy.ignore_default_excludes=false`: the shell commands the model
 *   runs get no variable named `*KEY*`, `*SECRET*` or `*TOKEN*`. 0.171 passes the whole
 *   environment by default (measured: `env` run by the model printed SWITCHBOARD_TOKEN_* into
 *   the next model request); the tokens are Codex's to send to the gateway, not the model's.
 * - the task's context in `$CODEX_HOME/AGENTS.md` (Codex's global instructions, sent as a user
 *   message; CODEX_HOME is the bundle's `.codex`, above) and its skills in
 *   `$CODEX_HOME/skills/<integration>-<skill>/SKILL.md`, which 0.171 lists to the model by name
 *   and description (measured against the fake model: test/integration/agent-codex.test.ts).
 *
 * The working root is the process's working folder (the task folder, or the profile's `cwd`).
 * The model provider and its credential are the profile's: `CODEX_API_KEY` in its env for
 * OpenAI, or `-c` lines naming another provider (docs/agents.md "Codex"); never the preset's.
 */
export const CODEX_ARGS = [
  'exec',
  '--json',
  '--skip-git-repo-check',
  '--ephemeral',
  '--sandbox',
  'workspace-write',
  '-c',
  'analytics.enabled=false',
  '-c',
  'check_for_update_on_startup=false',
  '-c',
  'shell_environment_policy.ignore_default_excludes=false',
] as const;

export const codexPreset: AgentPreset = {
  name: 'codex',
  command: 'codex',
  args: CODEX_ARGS,
  stdin: 'prompt',
  env: {
    // Plain output in the (rare) human-readable lines: no escape codes in the task's events.
    NO_COLOR: '1',
  },
  context: { into: 'files', instructions: '.codex/AGENTS.md', skills: '.codex/skills' },
  output: codexJsonParser,
};
