import type { Policy } from './schema.ts';

/**
 * The prefix of every development value in the shipped policy (policy/default.yaml). Those
 * values are public, since they are in the repository, so a policy holding one is a development
 * policy even when its `development: true` line was deleted.
 */
export const DEVELOPMENT_VALUE_PREFIX = 'dev-only-';

/**
 * Why `policy` is for development only, one phrase per finding; empty for an operator's policy.
 * A gateway in production mode refuses to start while this is not empty.
 */
export function developmentMarkers(policy: Policy): string[] {
  const markers: string[] = [];
  if (policy.development) markers.push('the policy says development: true');
  const devValues = Object.entries(policy.integrations).flatMap(([name, entry]) =>
    Object.entries(entry.settings ?? {})
      .filter(([, value]) => value.startsWith(DEVELOPMENT_VALUE_PREFIX))
      .map(([key]) => `integrations.${name}.settings.${key}`),
  );
  if (devValues.length > 0) {
    const verb = devValues.length === 1 ? 'holds a development value' : 'hold development values';
    markers.push(`${devValues.join(', ')} ${verb} (${DEVELOPMENT_VALUE_PREFIX}…)`);
  }
  return markers;
}
