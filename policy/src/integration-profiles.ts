import type { Policy } from './schema.ts';

/**
 * The profiles an integration's own code may ask for: its `profile` and the `profiles` listed
 * beside it in the policy. Integrations are third-party code; the profile decides which tools
 * an agent's token may cover, so a handler or process key naming the operator's widest profile
 * would hand its agent every other integration's tools.
 */
export function profilesOfIntegration(policy: Policy, integration: string): string[] {
  const entry = policy.integrations[integration];
  if (!entry) return [];
  const given = entry.profile === undefined ? [] : [entry.profile];
  return [...new Set([...given, ...(entry.profiles ?? [])])];
}

/** Why `integration` may not name `profile` (the message names `at` and the choices), or undefined. */
export function profileRefusal(
  policy: Policy,
  integration: string,
  profile: string,
  at: string,
): string | undefined {
  const allowed = profilesOfIntegration(policy, integration);
  if (allowed.includes(profile)) return undefined;
  return `${at} ${JSON.stringify(profile)} is not a profile the policy gives ${integration} (integrations.${integration}.profile and .profiles: ${allowed.join(', ') || 'none'})`;
}
