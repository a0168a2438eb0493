/**
 * Operator API scopes are `<resource>:<read|write>`. A key holds a list of them; `*` grants
 * everything and `<resource>:*` both verbs of one resource. Writing does not imply reading:
 * a webhook-replay bot should not be able to list keys.
 */
export const RESOURCES = [
  'keys',
  'audit',
  'integrations',
  'sessions',
  'tasks',
  'tokens',
  'deliveries',
  'outbox',
  'subscriptions',
  'metrics',
  // Profile secrets (model API keys): api/profiles.ts. Never given to an integration's key.
  'profiles',
  // Approval requests of held tool calls: api/approvals.ts. Never given to an integration's key.
  'approvals',
  // Key-value storage (api/kv.ts, issue 18): an integration's own namespace.
  'kv',
  // Documents, ingest and search (api/documents.ts, issue 18).
  'documents',
] as const;

export type Resource = (typeof RESOURCES)[number];
export type Scope = `${Resource}:${'read' | 'write'}`;

const GRANT_PATTERN = new RegExp(`^(\\*|(${RESOURCES.join('|')}):(read|write|\\*))$`);

export function isValidGrant(grant: string): boolean {
  return GRANT_PATTERN.test(grant);
}

export function grantDescription(): string {
  return `"*", or <resource>:read|write|* with resource one of ${RESOURCES.join(', ')}`;
}

export function hasScope(grants: readonly string[], required: Scope): boolean {
  const resource = required.slice(0, required.indexOf(':'));
  return grants.some((g) => g === '*' || g === required || g === `${resource}:*`);
}

/**
 * Does holding `held` cover `grant` (a grant a new key would get)? `*` only from `*`;
 * `<resource>:*` from `<resource>:*` or from both verbs of it; a verb from anything that has it.
 */
export function grantWithin(grant: string, held: readonly string[]): boolean {
  if (held.includes('*')) return true;
  if (grant === '*') return false;
  const [resource, verb] = grant.split(':') as [Resource, string];
  if (verb === '*') {
    return hasScope(held, `${resource}:read`) && hasScope(held, `${resource}:write`);
  }
  return hasScope(held, grant as Scope);
}
