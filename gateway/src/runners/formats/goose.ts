import { stringify } from 'yaml';
import type { Bundle } from '../bundle.ts';
import { TOOL_TIMEOUT_SEC } from './toml.ts';

/**
 * goose `config.yaml` (REFERENCES §D 6.4, §J): `extensions` is a map keyed by name, `type:
 * streamable_http`, `uri` (not url). The bearer header refers to the token's variable: goose
 * reads each `env_keys` name from its environment (its secrets lookup tries the variable of
 * that name first) and substitutes `${NAME}` in the extension's headers, so like every other
 * format this file holds no token. `description` is there for older releases, which require
 * it. The `yaml` package quotes whatever needs quoting.
 *
 * Checked with goose 1.52.0 (REFERENCES §J; test/integration/agent-goose.test.ts): this file
 * as written starts each server (`goose run` reads it from `~/.config/goose/config.yaml`
 * with HOME the working folder); goose sends `Authorization: Bearer <the variable's value>`
 * on every request, starting with an MCP `server/discover` (protocol 2026-07-28), and names
 * the model's tools `<extension>__<tool>` (`github__get_pr`). A server it cannot start is
 * skipped with a warning on stderr and the run goes on without it. The token is in no file
 * goose leaves in HOME (test/security/agent-goose.test.ts).
 */

/**
 * Seconds goose waits for a call (goose's own default for extensions is 300): as long as
 * Codex's (toml.ts), for ask_user and calls held for approval.
 */
const TIMEOUT_SEC = TOOL_TIMEOUT_SEC;

/**
 * goose's own extensions, turned off: the agent gets the task's servers and nothing else (issue
 * 15). goose 1.52.0 enables six by default, which offered the model 20 tools of its own:
 * developer (shell, write, edit, tree, read_image: its shell passes goose's whole environment
 * to the commands it runs, aaif-goose/goose#7361, so `env` showed the model the task's tokens
 * and its API key), apps, extensionmanager (which could turn the others back on), summon (load,
 * delegate), analyze and skills (load_skill). The others are built-ins of earlier or later
 * releases; an entry for one a release lacks is ignored (tried with 1.52.0).
 * test/integration/agent-goose.test.ts checks the model is offered the gateway's tools only.
 */
export const GOOSE_BUILTIN_EXTENSIONS = [
  'developer',
  'apps',
  'extensionmanager',
  'summon',
  'analyze',
  'skills',
  'orchestrator',
  'summarize',
  'todo',
  'chatrecall',
  'tom',
  'code_execution',
  'memory',
  'computercontroller',
  'autovisualiser',
  'tutorial',
] as const;

export function renderGoose(bundle: Bundle): string {
  const extensions: Record<string, unknown> = {};
  for (const s of bundle.servers)
    extensions[s.name] = {
      enabled: true,
      type: 'streamable_http',
      name: s.name,
      description: `${s.name} through the Switchboard gateway`,
      uri: s.url,
      headers: { Authorization: `Bearer \${${s.tokenEnv}}` },
      envs: {},
      env_keys: [s.tokenEnv],
      timeout: TIMEOUT_SEC,
    };
  for (const name of GOOSE_BUILTIN_EXTENSIONS) {
    // A granted integration of the same name keeps its entry (and stays on).
    extensions[name] ??= { enabled: false, type: 'platform', name, description: name };
  }
  return stringify({ extensions }, { lineWidth: 0 });
}
