import { loadPolicy } from '@switchboard/policy';
import { formatManifestErrors } from '@switchboard/sdk';
import { SwitchboardError } from '../../errors.ts';
import { resolveRunner } from '../../runners/presets/index.ts';
import { SWITCHBOARD_COMMAND } from '../../runners/runner.ts';
import { findCommand } from './commands.ts';
import { type DoctorState, error, type Finding, ok, warning } from './finding.ts';

const CHECK = 'policy';

/** SWITCHBOARD_POLICY loads (the same loadPolicy the registry uses). */
export function loadPolicyFinding(state: DoctorState): Finding[] {
  const config = state.config;
  if (!config) return [];
  const loaded = loadPolicy(config.policyPath);
  if (!loaded.ok) {
    return [
      error(
        CHECK,
        `does not load (every integration would be refused):\n${formatManifestErrors(loaded.errors)}`,
        `fix each field named in ${config.policyPath} (docs/policy.md), or point SWITCHBOARD_POLICY at another file`,
      ),
    ];
  }
  state.policy = loaded.policy;
  return [ok(CHECK, `${config.policyPath} loads`)];
}

/**
 * After the integrations: entries enabled for an integration no folder provides (a typo, or a
 * folder outside INTEGRATION_DIRS), and profiles whose agent program cannot be started here.
 */
export function checkPolicyReferences(state: DoctorState): Finding[] {
  const config = state.config;
  const policy = state.policy;
  if (!config || !policy) return [];
  const findings: Finding[] = [];
  for (const [name, entry] of Object.entries(policy.integrations)) {
    if (!entry.enabled || state.integrationNames.has(name)) continue;
    findings.push(
      warning(
        CHECK,
        `integrations.${name} is enabled but no folder in INTEGRATION_DIRS has an integration named ${name}`,
        `add its folder to INTEGRATION_DIRS (${config.integrationDirs.join(':')}), correct the name, or remove integrations.${name} from ${config.policyPath}`,
      ),
    );
  }
  for (const [name, profile] of Object.entries(policy.profiles)) {
    const check = `profile ${name}`;
    let runner: ReturnType<typeof resolveRunner>['runner'];
    try {
      runner = resolveRunner(profile).runner;
    } catch (caught) {
      if (!(caught instanceof SwitchboardError)) throw caught;
      findings.push(
        error(check, caught.message, `change profiles.${name} in ${config.policyPath}`),
      );
      continue;
    }
    // docker and kubernetes run the command inside an image: their own CLI must be here.
    const program =
      runner.driver === 'process'
        ? runner.command
        : runner.driver === 'docker'
          ? 'docker'
          : 'kubectl';
    if (program === undefined || program === SWITCHBOARD_COMMAND) {
      findings.push(
        ok(check, `runs ${program ?? "the image's command"} (driver ${runner.driver})`),
      );
      continue;
    }
    findings.push(
      findCommand(program, process.cwd(), state.env)
        ? ok(check, `${program} found (driver ${runner.driver})`)
        : warning(
            check,
            `${program} is not on PATH: tasks with this profile fail to start`,
            runner.driver === 'process'
              ? `install ${program}, or change profiles.${name}.runner.command in ${config.policyPath}`
              : `install the ${program} CLI on this machine`,
          ),
    );
  }
  return findings;
}
