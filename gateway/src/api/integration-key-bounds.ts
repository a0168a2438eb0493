import { profileRefusal } from '@switchboard/policy';
import { dispatchRefusal } from '../deliveries/triggers.ts';
import { SwitchboardError } from '../errors.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Dispatch } from '../sessions/store.ts';

/**
 * What an integration's process key (source 'integration', SWITCHBOARD_API_KEY) may do in the
 * sessions API beyond its scope (sessions:write) and its own session keys (requireOwnSession):
 * no more than the integration's triggers may. Results go out only through its own dispatchers,
 * `none`, `webhook` or `internal` into its own sessions (the triggers' rule, dispatchRefusal);
 * agents run only with a profile the policy gives it (`integrations.<name>.profile` or
 * `.profiles`, policy/src/integration-profiles.ts); and it
 * writes as the integration or for a user it relays, never as the system or the agent. Without
 * these, chat's key could run an agent whose result github's `deliver` posts to any repository
 * with github's token. Operator keys (integration null) pass unchanged.
 */

/** Roles a process key may post: its own voice, and a user's words it relays (a chat message). */
const INTEGRATION_ROLES: readonly string[] = ['integration', 'user'];

type KeyOwner = { integration: string | null } | undefined;

const forbidden = (integration: string, message: string) =>
  new SwitchboardError(
    'forbidden',
    `this API key belongs to integration ${integration}: ${message}`,
    { details: { integration } },
  );

/**
 * Routes no integration's key may use whatever scopes its row holds (profile secrets,
 * approvals): `what` says why, e.g. "approvals are decided with operator keys only".
 */
export function requireOperatorKey(apiKey: KeyOwner, what: string): void {
  const integration = apiKey?.integration;
  if (integration) throw forbidden(integration, what);
}

/** A session's dispatch and profile (as asked at creation, or as stored when an agent runs). */
export function requireIntegrationSetup(
  apiKey: KeyOwner,
  registry: IntegrationRegistry,
  setup: { dispatch?: Dispatch | null | undefined; profile?: string | null | undefined },
  at: string,
): void {
  const integration = apiKey?.integration;
  if (!integration) return;
  const own = registry.get(integration)?.manifest?.dispatchers.map((d) => d.type) ?? [];
  const policy = registry.currentPolicy();
  const dispatchRefused = dispatchRefusal(
    integration,
    setup.dispatch,
    own,
    `${at}dispatch`,
    policy,
  );
  if (dispatchRefused) throw forbidden(integration, dispatchRefused);
  const profile = setup.profile ?? undefined;
  if (profile === undefined) return;
  const profileRefused = policy
    ? profileRefusal(policy, integration, profile, `${at}profile`)
    : `${at}profile: the policy is not loaded`;
  if (profileRefused) throw forbidden(integration, profileRefused);
}

export function requireIntegrationRole(apiKey: KeyOwner, role: string): void {
  const integration = apiKey?.integration;
  if (!integration || INTEGRATION_ROLES.includes(role)) return;
  throw forbidden(
    integration,
    `it may post messages with role ${INTEGRATION_ROLES.join(' or ')}, not role ${role}`,
  );
}
