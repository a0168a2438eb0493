import type { AgentName, Profile, Runner as RunnerConfig } from '@switchboard/policy';
import { SwitchboardError } from '../../errors.ts';
import { claudeCodePreset } from './claude-code.ts';
import { genericPreset } from './generic.ts';
import { goosePreset } from './goose.ts';
import type { AgentPreset } from './preset.ts';

/**
 * The agent presets by `agent:` name. A name the policy schema knows but this map lacks is
 * refused when the profile's runner is made (profile_invalid), never run half-configured.
 */
export const AGENT_PRESETS: Partial<Record<AgentName, AgentPreset>> = {
  'claude-code': claudeCodePreset,
  goose: goosePreset,
  generic: genericPreset,
  // codex: codexPreset, (presets/codex.ts; the one line to add with its import)
};

export function agentPreset(name: AgentName): AgentPreset {
  const preset = AGENT_PRESETS[name];
  if (!preset)
    throw new SwitchboardError(
      'profile_invalid',
      `agent: ${name} has no preset in this gateway (available: ${Object.keys(AGENT_PRESETS).join(', ')})`,
    );
  return preset;
}

/**
 * The runner a profile really gets. Without `agent:` its own `runner:`. With one, the preset
 * fills what the profile leaves out, field by field:
 * - `command`: the profile's if given, else the preset's (under docker: the image's program);
 * - `args`: the profile's list if given (even `[]`), replacing the preset's whole, else the
 *   preset's (placeholders expand in both);
 * - `stdin`: the profile's if given, else the preset's;
 * - `env`: the preset's variables, then the profile's on top (the bundle's still win: env.ts);
 * - everything else (driver, image, network, cwd) is the profile's only.
 * The preset's output parser applies whatever the command: `agent:` says what prints it.
 */
export function resolveRunner(profile: Pick<Profile, 'agent' | 'runner'>): {
  runner: RunnerConfig;
  preset?: AgentPreset;
} {
  const { runner } = profile;
  if (profile.agent === undefined) return { runner };
  const preset = agentPreset(profile.agent);
  if (runner.driver === 'kubernetes')
    throw new SwitchboardError(
      'profile_invalid',
      `agent: ${preset.name} runs under driver process or docker (a pod has no stdin for the prompt)`,
    );
  const command = runner.command ?? (preset.command === '' ? undefined : preset.command);
  if (command === undefined && runner.driver === 'process')
    throw new SwitchboardError(
      'profile_invalid',
      `runner.command: agent ${preset.name} names no program; expected the one to start`,
    );
  return {
    preset,
    runner: {
      ...runner,
      ...(command === undefined ? {} : { command }),
      args: runner.args ?? [...preset.args],
      stdin: runner.stdin ?? preset.stdin,
      env: { ...preset.env, ...runner.env },
    },
  };
}
