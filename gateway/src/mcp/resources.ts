import {
  ProtocolError,
  ProtocolErrorCode,
  type Resource,
  ResourceNotFoundError,
  type ResourceTemplateType,
  type Server,
  UriTemplate,
} from '@modelcontextprotocol/server';
import type { Integration } from '../integrations/registry.ts';
import { paginate } from './cursors.ts';
import { type Era, forEra } from './era-results.ts';
import { upstreamFailure } from './errors.ts';
import { agentMeta, forward } from './forward.ts';
import { agentInput } from './input-required.ts';
import { readSkillResource, servedSkills, skillResource } from './skills.ts';
import type { ResourceSubscriptions } from './subscriptions.ts';
import type { HandlerDeps } from './tools.ts';
import { integrationWide, isAggregate, type View, visibleIntegrations } from './view.ts';

export interface ResourceDeps extends HandlerDeps {
  subscriptions: ResourceSubscriptions;
}

/**
 * Resources keep their URIs on /mcp too (a URI is the upstream's own name for its data and may
 * appear inside tool results, so rewriting it would break those references). A read is routed
 * to the integration that listed the URI, else to one whose template matches it, else, when
 * only one visible integration has resources, to that one. Two integrations listing the same
 * URI: the first by name wins (the registry's order), which is deterministic.
 */
export async function routeUri(
  deps: HandlerDeps,
  view: View,
  items: Integration[],
  uri: string,
): Promise<Integration | undefined> {
  if (!isAggregate(view) || items.length === 1) return items[0];
  const listed = await Promise.all(
    items.map((item) => deps.catalog.resources(item).catch(() => [])),
  );
  const exact = items.find((_, i) => listed[i]?.some((r) => r.uri === uri));
  if (exact) return exact;
  const templates = await Promise.all(
    items.map((item) => deps.catalog.templates(item).catch(() => [])),
  );
  return items.find((_, i) => templates[i]?.some((t) => matches(t.uriTemplate, uri)));
}

/** routeUri over the view's integrations whose resources it may read (for listen subscriptions). */
export async function resolveResourceUri(
  deps: HandlerDeps,
  view: View,
  uri: string,
): Promise<Integration | undefined> {
  const items: Integration[] = [];
  for (const item of visibleIntegrations(deps.registry, view)) {
    if (!integrationWide(view, item.name)) continue;
    const capabilities = await deps.catalog.capabilities(item).catch(() => undefined);
    if (capabilities?.resources) items.push(item);
  }
  return routeUri(deps, view, items, uri);
}

function matches(template: string, uri: string): boolean {
  try {
    return new UriTemplate(template).match(uri) !== null;
  } catch {
    return false;
  }
}

/** Merged lists; a broken upstream leaves the aggregate (its own endpoint reports it). */
async function merged<T>(
  view: View,
  items: Integration[],
  read: (item: Integration) => Promise<T[]>,
): Promise<T[]> {
  const lists = await Promise.all(
    items.map(async (item) => {
      try {
        return await read(item);
      } catch (error) {
        if (!isAggregate(view)) throw upstreamFailure(item.name, error);
        return [];
      }
    }),
  );
  return lists.flat();
}

/** `items`: the visible integrations whose servers have the resources capability. */
export function registerResources(
  server: Server,
  deps: ResourceDeps,
  view: View,
  items: Integration[],
  era: Era,
  /** Integrations whose skills the view serves (mcp/skills.ts), listed after the upstreams'. */
  skillItems: Integration[] = [],
): void {
  server.setRequestHandler('resources/list', async (request) => {
    const upstream = await merged<Resource>(view, items, (item) => deps.catalog.resources(item));
    const skills = (await servedSkills(skillItems)).map(skillResource);
    const all = [...upstream, ...skills];
    const { page, nextCursor } = paginate('resources', all, request.params?.cursor, deps.pageSize);
    return nextCursor === undefined ? { resources: page } : { resources: page, nextCursor };
  });

  server.setRequestHandler('resources/templates/list', async (request) => {
    const all = await merged<ResourceTemplateType>(view, items, (item) =>
      deps.catalog.templates(item),
    );
    const { page, nextCursor } = paginate('templates', all, request.params?.cursor, deps.pageSize);
    return nextCursor === undefined
      ? { resourceTemplates: page }
      : { resourceTemplates: page, nextCursor };
  });

  server.setRequestHandler('resources/read', async (request, ctx) => {
    const { uri } = request.params;
    const skill = await readSkillResource(skillItems, uri);
    if (skill) return skill;
    const item = await routeUri(deps, view, items, uri);
    if (!item) throw new ResourceNotFoundError(uri);
    const result = await forward(
      deps,
      item,
      view.claims,
      [],
      ({ client, timeoutMs, meta, retry }) =>
        client.readResource(
          { uri, ...retry, _meta: { ...agentMeta(request.params._meta), ...meta } },
          {
            timeout: timeoutMs,
            signal: ctx.mcpReq.signal,
            cacheMode: 'bypass',
            allowInputRequired: true,
          },
        ),
      {
        input: agentInput(server, ctx, deps.clients.logLevel(view.claims)),
        signal: ctx.mcpReq.signal,
      },
    );
    return forEra(result, era);
  });

  server.setRequestHandler('resources/subscribe', async (request) => {
    const { uri } = request.params;
    const item = await routeUri(deps, view, items, uri);
    if (!item) throw new ResourceNotFoundError(uri);
    try {
      await deps.subscriptions.subscribeLegacy(view.claims, item, uri);
    } catch (error) {
      if (error instanceof RangeError) {
        throw new ProtocolError(ProtocolErrorCode.InvalidRequest, error.message);
      }
      throw upstreamFailure(item.name, error);
    }
    return {};
  });

  server.setRequestHandler('resources/unsubscribe', async (request) => {
    deps.subscriptions.unsubscribeLegacy(view.claims, request.params.uri);
    return {};
  });
}
