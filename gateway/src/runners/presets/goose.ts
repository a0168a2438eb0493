import type { AgentPreset } from './preset.ts';

/**
 * goose (block/goose; not on npm, REFERENCES §J): `goose run` reads the task's servers from
 * `~/.config/goose/config.yaml`, which the bundle writes under the working folder (HOME for
 * the agent), and its instructions from the prompt file (`-i`), so the prompt is never an argv
 * word. `--no-session` keeps no session file, `--quiet` prints the answer only. goose prints
 * plain text: every line stays a `task:token` and a clean exit's stdout is the result.
 * The task's context (preamble, session history, skills inlined) is goose's global hints file,
 * `~/.config/goose/.goosehints`, next to its config (goose adds hints to its system prompt).
 * The model provider and key (GOOSE_PROVIDER, GOOSE_MODEL, OPENAI_API_KEY, …) are the
 * profile's `env`.
 */
export const goosePreset: AgentPreset = {
  name: 'goose',
  command: 'goose',
  args: ['run', '--no-session', '--quiet', '-i', '{prompt_file}'],
  stdin: 'none',
  env: {
    // No OS keyring in a task: secrets come from the environment (goose's documented switch).
    GOOSE_DISABLE_KEYRING: '1',
    // Tool calls run without asking: nobody is there to answer (goose's `auto` mode).
    GOOSE_MODE: 'auto',
  },
  context: { into: 'files', instructions: '.config/goose/.goosehints' },
  output: () => ({ line: () => undefined, finalAnswer: () => undefined }),
};
