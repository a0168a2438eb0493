import type { Capability } from '@switchboard/sdk';
import { SwitchboardError } from '../errors.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';

/**
 * Who may reach an integration's namespace in a per-integration store (key-value storage,
 * `storage.kv`; documents, `documents`). Operator keys (integration null) with the
 * route's scope reach every namespace. An integration's key (keys/integration-key.ts) reaches
 * only its own, and only while the live registry holds the integration admitted with the
 * capability: its manifest asks for it and the policy as last read grants it. The check runs on
 * each request, so a policy that drops the grant stops the key at once, before the registry's
 * rebuild revokes it. Another integration's namespace answers 403 whatever it holds: the
 * refusal is the same for a namespace with data and one without, so nothing leaks.
 */
export function requireNamespaceAccess(
  apiKey: { integration: string | null } | undefined,
  registry: IntegrationRegistry,
  namespace: string,
  capability: Capability,
): void {
  const own = apiKey?.integration;
  if (!own) return;
  if (own !== namespace) {
    throw new SwitchboardError(
      'forbidden',
      `this API key belongs to integration ${own}: it may only reach its own namespace (${own})`,
      { details: { integration: own } },
    );
  }
  const refusal = grantRefusal(registry, own, capability);
  if (refusal) {
    throw new SwitchboardError('forbidden', `integration ${own} ${refusal}`, {
      details: { integration: own, capability },
    });
  }
}

/** Why the integration may not use `capability` now, or undefined when it may. */
function grantRefusal(
  registry: IntegrationRegistry,
  name: string,
  capability: Capability,
): string | undefined {
  const entry = registry.currentPolicy()?.integrations[name];
  if (!entry?.enabled || !entry.grants.includes(capability)) {
    return `is not granted ${capability} by the policy (integrations.${name}.grants)`;
  }
  const item = registry.get(name);
  if (!item?.manifest?.capabilities.includes(capability)) {
    return `does not declare ${capability} in its manifest's capabilities`;
  }
  if (item.state !== 'ready' && item.state !== 'starting') {
    return `is ${item.state}: only a running integration uses ${capability}`;
  }
  return undefined;
}
