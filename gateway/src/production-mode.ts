import { developmentMarkers, loadPolicy } from '@switchboard/policy';
import type { Config } from './config.ts';
import { ConfigError } from './errors.ts';

/**
 * SWITCHBOARD_MODE=production: what is fine on a laptop is refused at boot, before any database
 * is opened — the development policy (its secrets are public: they are in the repository) and
 * a master key generated into the data dir (it would sit next to the data it encrypts).
 * A policy that does not load is left to the registry, which refuses every integration with
 * `policy_invalid` and the file's errors.
 */
export function refuseDevelopmentDefaults(config: Config): void {
  if (config.mode !== 'production') return;
  const problems: string[] = [];
  const loaded = loadPolicy(config.policyPath);
  const markers = loaded.ok ? developmentMarkers(loaded.policy) : [];
  if (markers.length > 0) {
    problems.push(
      `SWITCHBOARD_POLICY=${JSON.stringify(config.policyPath)}: a development policy is refused when SWITCHBOARD_MODE=production (${markers.join('; ')}). Point SWITCHBOARD_POLICY at your own policy and set secrets with "switchboard integrations settings set NAME KEY --stdin" (docs/policy.md)`,
    );
  }
  if (!config.masterKey) {
    problems.push(
      'SWITCHBOARD_MASTER_KEY=(unset): required when SWITCHBOARD_MODE=production, since a key generated into the data dir sits next to the secrets it encrypts (generate one: openssl rand -base64 32)',
    );
  }
  if (config.testFaults) {
    problems.push(
      'SWITCHBOARD_TEST_FAULTS="1": refused when SWITCHBOARD_MODE=production (it mounts test routes that throw on purpose)',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
