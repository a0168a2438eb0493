import { gooseStreamParser } from './goose-stream.ts';
import type { AgentPreset } from './preset.ts';

/**
 * goose (aaif-goose/goose, formerly block/goose; on npm as `@aaif/goose-binary-linux-x64`,
 * whose bin is `goose-binary-linux-x64`: docs/agents.md). Checked against goose 1.52.0 run by
 * test/integration/agent-goose.test.ts:
 * - `goose run` reads the task's servers from `~/.config/goose/config.yaml`, which the bundle
 *   writes under the working folder (HOME for the agent; formats/goose.ts), and its
 *   instructions from the prompt file (`-i`), so the prompt is never an argv word.
 * - `--no-session` keeps no session to resume (goose 1.52 still writes its sessions.db and
 *   logs under `~/.local`, inside the working folder, and still asks the model for a title).
 * - `--quiet` drops the banner, which goose prints on stdout, not stderr;
 *   `--output-format stream-json` makes stdout one JSON object per line (goose-stream.ts):
 *   with the default text format, `--quiet` still prints each tool call (`▸ get_pr github`
 *   and its arguments) before the answer, so stdout was not the answer alone.
 * The task's context (preamble, session history, skills inlined) is goose's global hints file,
 * `~/.config/goose/.goosehints`, next to its config: 1.52 appends it to its system prompt
 * under "### Global Hints". The model provider and key (GOOSE_PROVIDER, GOOSE_MODEL,
 * OPENAI_HOST, OPENAI_API_KEY, …) are the profile's `env` and secrets.
 */
export const goosePreset: AgentPreset = {
  name: 'goose',
  command: 'goose',
  args: ['run', '--no-session', '--quiet', '--output-format', 'stream-json', '-i', '{prompt_file}'],
  stdin: 'none',
  env: {
    // No OS keyring in a task: secrets come from the environment (goose's documented switch).
    GOOSE_DISABLE_KEYRING: '1',
    // Tool calls run without asking: nobody is there to answer (goose's `auto` mode).
    GOOSE_MODE: 'auto',
  },
  context: { into: 'files', instructions: '.config/goose/.goosehints' },
  output: gooseStreamParser,
};
