import type { Integration, IntegrationRegistry } from '../integrations/registry.ts';
import type { TokenClaims } from '../tokens/claims.ts';
import { scopeAllows, scopeCoversAllOf, scopeCoversIntegration } from '../tokens/scope.ts';

/**
 * What one request can see: the claims, and either the aggregate endpoint (`integration`
 * undefined: every ready integration the scope covers, names prefixed) or one integration's own
 * endpoint (names unchanged). Everything the MCP handlers list or route goes through here, so
 * scope is applied in one place.
 */
export interface View {
  claims: TokenClaims;
  /** undefined = the aggregate /mcp. */
  integration: string | undefined;
}

export function isAggregate(view: View): boolean {
  return view.integration === undefined;
}

/**
 * The integrations a view serves, in name order. On /mcp/<integration> the caller has checked
 * that the token's scope covers it; here it must also be ready (the endpoint answers an error otherwise).
 */
export function visibleIntegrations(registry: IntegrationRegistry, view: View): Integration[] {
  if (view.integration !== undefined) {
    const item = registry.get(view.integration);
    return item && item.state === 'ready' && item.upstream ? [item] : [];
  }
  return registry
    .list()
    .filter(
      (item) =>
        item.state === 'ready' &&
        item.upstream !== undefined &&
        scopeCoversIntegration(view.claims.scope, item.name),
    );
}

/** Whether a change in `integration` concerns a client of this view (for list_changed). */
export function viewIncludes(view: View, integration: string): boolean {
  return view.integration === undefined
    ? scopeCoversIntegration(view.claims.scope, integration)
    : view.integration === integration;
}

/**
 * Whether the view serves the resources, resource templates, prompts and completions of
 * `integration`: only to a token whose scope covers the whole integration (`<name>:*`, `*:*`; tokens/scope.ts
 * scopeCoversAllOf). A token scoped to some tools gets those tools alone.
 */
export function integrationWide(view: View, integration: string): boolean {
  return scopeCoversAllOf(view.claims.scope, integration);
}

/**
 * Tools no agent may list or call: the manifest's tools.hidden and whatever the registry marked
 * (the gateway calls those as handlers), and tools awaiting an operator's approval
 * (integrations/tool-pinning.ts: changed since pinned, or new under `toolPinning: operator`).
 */
export function hiddenTools(item: Integration): Set<string> {
  const hidden = new Set(item.manifest?.tools.hidden ?? []);
  for (const tool of item.tools) if (tool.hidden) hidden.add(tool.name);
  for (const tool of item.toolPins?.pending.keys() ?? []) hidden.add(tool);
  return hidden;
}

/** A tool an agent of this claims may list and call: in scope and not hidden. */
export function toolAllowed(
  view: View,
  item: Integration,
  tool: string,
  hidden: Set<string> = hiddenTools(item),
): boolean {
  return !hidden.has(tool) && scopeAllows(view.claims.scope, item.name, tool);
}
