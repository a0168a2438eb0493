import type { AgentPreset } from './preset.ts';

/**
 * Any MCP-capable CLI: the profile names the program (`runner.command`) and, if it needs
 * them, its args; by default the program gets two args, the bundle's `switchboard.json` (every
 * server with its URL and token variable) and the prompt file, and the prompt on stdin too.
 * Its output is plain lines (`task:token`); a clean exit's stdout is the result unless it
 * called task_complete. The task's context (preamble, session history, skills) is in the
 * prompt, before the task's own text: a generic CLI reads no instructions file.
 */
export const genericPreset: AgentPreset = {
  name: 'generic',
  // Never run: a generic profile must name its program (schema and presets/index.ts check).
  command: '',
  args: ['{switchboard_json}', '{prompt_file}'],
  stdin: 'prompt',
  env: {},
  context: { into: 'prompt' },
  output: () => ({ line: () => undefined, finalAnswer: () => undefined }),
};
