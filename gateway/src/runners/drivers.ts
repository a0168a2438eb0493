import type { Runner as RunnerConfig } from '@switchboard/policy';
import { DockerRunner } from './docker.ts';
import { KubernetesRunner } from './kubernetes.ts';
import { ProcessRunner } from './process.ts';
import type { Runner } from './runner.ts';

/**
 * The runner for a profile's `runner:` block. Constructing one checks its placeholders, so
 * call it when the policy is loaded: an unknown `{name}` is a policy error, not a task failure.
 */
export function createRunner(config: RunnerConfig, hostEnv?: NodeJS.ProcessEnv): Runner {
  switch (config.driver) {
    case 'process':
      return new ProcessRunner(config, { hostEnv });
    case 'docker':
      return new DockerRunner(config, { hostEnv });
    case 'kubernetes':
      return new KubernetesRunner(config, { hostEnv });
  }
}
