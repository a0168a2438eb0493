import {
  type Prompt,
  ProtocolError,
  ProtocolErrorCode,
  type Server,
} from '@modelcontextprotocol/server';
import { isSpecName, namespaced, splitNamespaced } from '../integrations/names.ts';
import type { Integration } from '../integrations/registry.ts';
import { paginate } from './cursors.ts';
import { type Era, forEra } from './era-results.ts';
import { promptNotFound, upstreamFailure } from './errors.ts';
import { agentMeta, forward } from './forward.ts';
import { agentInput } from './input-required.ts';
import type { HandlerDeps } from './tools.ts';
import { isAggregate, type View } from './view.ts';

/** The integration and upstream prompt name a requested name stands for in this view. */
function routePrompt(
  view: View,
  items: Integration[],
  requested: string,
): { item: Integration; name: string } | undefined {
  if (!isAggregate(view)) {
    const item = items[0];
    return item ? { item, name: requested } : undefined;
  }
  const parts = splitNamespaced(requested);
  const item = parts && items.find((i) => i.name === parts.integration);
  return item && parts ? { item, name: parts.name } : undefined;
}

/** Prompts, namespaced like tools on /mcp (`<integration>__<prompt>`), unchanged on /mcp/<name>. */
export function registerPrompts(
  server: Server,
  deps: HandlerDeps,
  view: View,
  items: Integration[],
  era: Era,
): void {
  server.setRequestHandler('prompts/list', async (request) => {
    const lists = await Promise.all(
      items.map(async (item): Promise<Prompt[]> => {
        let prompts: Prompt[];
        try {
          prompts = await deps.catalog.prompts(item);
        } catch (error) {
          if (!isAggregate(view)) throw upstreamFailure(item.name, error);
          return [];
        }
        if (!isAggregate(view)) return prompts;
        return prompts
          .map((p) => ({ ...p, name: namespaced(item.name, p.name) }))
          .filter((p) => isSpecName(p.name));
      }),
    );
    const { page, nextCursor } = paginate(
      'prompts',
      lists.flat(),
      request.params?.cursor,
      deps.pageSize,
    );
    return nextCursor === undefined ? { prompts: page } : { prompts: page, nextCursor };
  });

  server.setRequestHandler('prompts/get', async (request, ctx) => {
    const route = routePrompt(view, items, request.params.name);
    if (!route) throw promptNotFound(request.params.name);
    const result = await forward(
      deps,
      route.item,
      view.claims,
      [],
      ({ client, timeoutMs, meta, retry }) =>
        client.getPrompt(
          {
            name: route.name,
            ...(request.params.arguments !== undefined && { arguments: request.params.arguments }),
            ...retry,
            _meta: { ...agentMeta(request.params._meta), ...meta },
          },
          { timeout: timeoutMs, signal: ctx.mcpReq.signal, allowInputRequired: true },
        ),
      {
        input: agentInput(server, ctx, deps.clients.logLevel(view.claims)),
        signal: ctx.mcpReq.signal,
      },
    );
    return forEra(result, era);
  });
}

/**
 * completion/complete: a prompt reference is routed like prompts/get (and its prefix removed);
 * a resource-template reference goes to the integration that lists that exact template.
 * `items`: the visible integrations whose servers have the completions capability.
 */
export function registerCompletion(
  server: Server,
  deps: HandlerDeps,
  view: View,
  items: Integration[],
  era: Era,
): void {
  server.setRequestHandler('completion/complete', async (request, ctx) => {
    const { ref } = request.params;
    let item: Integration | undefined;
    let upstreamRef = ref;
    if (ref.type === 'ref/prompt') {
      const route = routePrompt(view, items, ref.name);
      if (!route) throw promptNotFound(ref.name);
      item = route.item;
      upstreamRef = { ...ref, name: route.name };
    } else if (!isAggregate(view) || items.length === 1) {
      item = items[0];
    } else {
      const templates = await Promise.all(
        items.map((i) => deps.catalog.templates(i).catch(() => [])),
      );
      item = items.find((_, n) => templates[n]?.some((t) => t.uriTemplate === ref.uri));
    }
    if (!item) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Resource template ${ref.type === 'ref/resource' ? ref.uri : ''} not found`,
      );
    }
    const result = await forward(
      deps,
      item,
      view.claims,
      [],
      ({ client, timeoutMs, meta }) =>
        client.complete(
          {
            ...request.params,
            ref: upstreamRef,
            _meta: { ...agentMeta(request.params._meta), ...meta },
          },
          { timeout: timeoutMs, signal: ctx.mcpReq.signal },
        ),
      { signal: ctx.mcpReq.signal },
    );
    return forEra(result, era);
  });
}
