import type {
  Client,
  LoggingMessageNotificationParams,
  Prompt,
  Resource,
  ResourceTemplateType,
  ServerCapabilities,
  Tool,
} from '@modelcontextprotocol/client';
import { namespaced } from '../integrations/names.ts';
import type { Integration } from '../integrations/registry.ts';
import {
  CatalogTooLarge,
  readToolCatalog,
  type ToolCatalog,
  toolPages,
} from '../integrations/tool-catalog.ts';
import { drainPages } from '../integrations/tools.ts';
import type { Logger } from '../log.ts';
import { Throttle } from '../throttle.ts';
import { hiddenTools } from './view.ts';

export type LogListener = (params: LoggingMessageNotificationParams) => void;

/** A change an upstream reported, to be passed on to the agents that can see it. */
export type UpstreamEvent =
  | { kind: 'tools_list_changed' }
  | { kind: 'prompts_list_changed' }
  | { kind: 'resources_list_changed' }
  | { kind: 'resource_updated'; uri: string };

/**
 * An integration's tools as agents may see them (hidden ones left out), in both namings, built
 * once per catalog version so that listing a page costs a slice, not a copy of every tool
 * (100k tools cost 80 ms of CPU per aggregate page when each request re-prefixed them).
 */
export interface PublishedTools {
  /** Every checked tool, hidden ones included (the gateway calls handlers through these). */
  all: ToolCatalog;
  /** Tools agents may see, as named on /mcp/<integration>. */
  tools: Tool[];
  /** The same tools (same index) as named on /mcp: `<integration>__<name>`. */
  prefixed: Tool[];
  /** Serialized bytes of each (same index), for the page byte bound (cursors.ts). */
  sizes: number[];
}

interface Lists {
  tools: PublishedTools;
  resources: Resource[];
  templates: ResourceTemplateType[];
  prompts: Prompt[];
}
type Kind = keyof Lists;

interface Entry {
  item: Integration;
  /** Restarts of the gateway's own instance when this entry was made: a restart may change the lists. */
  restarts: number;
  capabilities?: Promise<ServerCapabilities>;
  /** Kind → Promise<Lists[kind]> (a Map, since TypeScript cannot index a mapped type by a generic key). */
  lists: Map<Kind, Promise<unknown>>;
}

/**
 * One list change per integration and list a second is passed on (and refetched), the last of
 * a burst included (Throttle's trailing edge): 20,000 `tools/list_changed` from one upstream
 * once became 223,000 notifications on other tasks' streams (their p50 5 → 715 ms). A second
 * is well under how fast an agent acts on a changed list.
 */
export const LIST_CHANGED_INTERVAL_MS = 1_000;

/** Upstream clients get their own response cache; ours is the one that is invalidated. */
const BYPASS = { cacheMode: 'bypass' } as const;

/**
 * What each integration offers (capabilities, tools, resources, templates, prompts), read from
 * the gateway's own upstream instance and kept until the upstream says it changed
 * (`notifications/*\/list_changed`), the registry replaces the integration (reload), or that
 * instance restarts. Measured on the SDK v2 prototype (REFERENCES §A2.6): caching tools/list
 * takes a stdio round trip off every list. Concurrent readers share one upstream request.
 */
export class Catalog {
  private readonly entries = new Map<string, Entry>();
  private readonly hooked = new WeakSet<Client>();
  private readonly logListeners = new WeakMap<Client, Set<LogListener>>();
  /** `<integration> <kind>` → its list-change throttle (three per integration at most). */
  private readonly changes = new Map<string, Throttle>();

  constructor(
    private readonly log: Logger,
    private readonly onEvent: (integration: string, event: UpstreamEvent) => void,
    private readonly onTooLarge: (item: Integration, error: CatalogTooLarge) => void = () => {},
    /**
     * Called with every catalog read before it is published (the registry's pinTools: tools
     * changed since approved are hidden from then on); a throw fails the listing.
     */
    private readonly onTools: (
      item: Integration,
      tools: readonly Tool[],
    ) => Promise<void> = async () => {},
  ) {}

  capabilities(item: Integration): Promise<ServerCapabilities> {
    const entry = this.entry(item);
    if (!entry.capabilities) {
      const loading = this.request(item, async (client) => client.getServerCapabilities() ?? {});
      entry.capabilities = loading;
      loading.catch(() => {
        if (entry.capabilities === loading) entry.capabilities = undefined;
      });
    }
    return entry.capabilities;
  }

  /**
   * The integration's tools, read under the bounds of integrations/tool-catalog.ts. A catalog
   * that passes one (after a list_changed: the probe checked the first) is reported through
   * `onTooLarge`, which refuses the integration.
   */
  tools(item: Integration): Promise<PublishedTools> {
    return this.list(item, 'tools', async (client, timeout) => {
      try {
        const all = await readToolCatalog(item.name, toolPages(client, timeout), this.log);
        await this.onTools(item, all.tools);
        return publish(item, all);
      } catch (error) {
        if (error instanceof CatalogTooLarge) this.onTooLarge(item, error);
        throw error;
      }
    });
  }

  resources(item: Integration): Promise<Resource[]> {
    return this.list(item, 'resources', (client, timeout) =>
      drainPages(async (cursor) => {
        const page = await client.listResources(cursor ? { cursor } : undefined, {
          timeout,
          ...BYPASS,
        });
        return [page.resources, page.nextCursor];
      }),
    );
  }

  templates(item: Integration): Promise<ResourceTemplateType[]> {
    return this.list(item, 'templates', (client, timeout) =>
      drainPages(async (cursor) => {
        const page = await client.listResourceTemplates(cursor ? { cursor } : undefined, {
          timeout,
          ...BYPASS,
        });
        return [page.resourceTemplates, page.nextCursor];
      }),
    );
  }

  prompts(item: Integration): Promise<Prompt[]> {
    return this.list(item, 'prompts', (client, timeout) =>
      drainPages(async (cursor) => {
        const page = await client.listPrompts(cursor ? { cursor } : undefined, {
          timeout,
          ...BYPASS,
        });
        return [page.prompts, page.nextCursor];
      }),
    );
  }

  /** Forget what is known of `integration` (all of it, or some lists). */
  invalidate(integration: string, kinds?: Kind[]): void {
    const entry = this.entries.get(integration);
    if (!entry) return;
    if (!kinds) {
      this.entries.delete(integration);
      return;
    }
    for (const kind of kinds) entry.lists.delete(kind);
  }

  /**
   * Listens to an upstream client's change notifications (once per client: each instance and
   * each restart has its own). Every request the endpoint makes goes through here first. List
   * changes are coalesced (LIST_CHANGED_INTERVAL_MS) per integration, across its instances.
   */
  hook(client: Client, integration: string): void {
    if (this.hooked.has(client)) return;
    this.hooked.add(client);
    const changed = (kinds: Kind[], event: UpstreamEvent) => {
      const key = `${integration} ${event.kind}`;
      let throttle = this.changes.get(key);
      if (!throttle) {
        throttle = new Throttle(
          LIST_CHANGED_INTERVAL_MS,
          () => {
            this.invalidate(integration, kinds);
            this.onEvent(integration, event);
          },
          (error) => this.log.warn({ integration, err: error }, 'list change not passed on'),
        );
        this.changes.set(key, throttle);
      }
      const coalesced = throttle;
      return () => coalesced.kick();
    };
    client.setNotificationHandler(
      'notifications/tools/list_changed',
      changed(['tools'], { kind: 'tools_list_changed' }),
    );
    client.setNotificationHandler(
      'notifications/prompts/list_changed',
      changed(['prompts'], { kind: 'prompts_list_changed' }),
    );
    client.setNotificationHandler(
      'notifications/resources/list_changed',
      changed(['resources', 'templates'], { kind: 'resources_list_changed' }),
    );
    client.setNotificationHandler('notifications/resources/updated', (notification) => {
      this.onEvent(integration, { kind: 'resource_updated', uri: notification.params.uri });
    });
    client.setNotificationHandler('notifications/message', (notification) => {
      for (const listener of this.logListeners.get(client) ?? []) listener(notification.params);
    });
  }

  /**
   * Hands the upstream's log messages to `listener` until the returned function is called.
   * A log message names no request, so only a caller that owns the connection (an instance of
   * its task or session) may follow it: on a shared one the logs are other tasks' too.
   */
  followLogs(client: Client, listener: LogListener): () => void {
    let listeners = this.logListeners.get(client);
    if (!listeners) {
      listeners = new Set();
      this.logListeners.set(client, listeners);
    }
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  private list<K extends Kind>(
    item: Integration,
    kind: K,
    read: (client: Client, timeoutMs: number) => Promise<Lists[K]>,
  ): Promise<Lists[K]> {
    const entry = this.entry(item);
    const cached = entry.lists.get(kind);
    if (cached) return cached as Promise<Lists[K]>;
    const loading = this.request(item, read);
    entry.lists.set(kind, loading);
    loading.catch((error: unknown) => {
      if (entry.lists.get(kind) === loading) entry.lists.delete(kind);
      this.log.warn({ integration: item.name, list: kind, err: error }, 'upstream list failed');
    });
    return loading;
  }

  /** The gateway's own instance (no session or task): lists are the same for every agent. */
  private request<T>(
    item: Integration,
    fn: (client: Client, timeoutMs: number) => Promise<T>,
  ): Promise<T> {
    const upstream = item.upstream;
    if (!upstream) return Promise.reject(new Error(`integration ${item.name} has no upstream`));
    return upstream.request((client, timeout) => {
      this.hook(client, item.name);
      return fn(client, timeout);
    });
  }

  private entry(item: Integration): Entry {
    const restarts = gatewayRestarts(item);
    const found = this.entries.get(item.name);
    if (found && found.item === item && found.restarts === restarts) return found;
    const entry: Entry = { item, restarts, lists: new Map() };
    this.entries.set(item.name, entry);
    return entry;
  }
}

function publish(item: Integration, all: ToolCatalog): PublishedTools {
  const hidden = hiddenTools(item);
  const out: PublishedTools = { all, tools: [], prefixed: [], sizes: [] };
  for (const [index, tool] of all.tools.entries()) {
    if (hidden.has(tool.name)) continue;
    out.tools.push(tool);
    out.prefixed.push({ ...tool, name: namespaced(item.name, tool.name) });
    // The prefix adds its bytes to the name: counted so the page bound holds on /mcp too.
    out.sizes.push((all.sizes[index] ?? 0) + item.name.length + 2);
  }
  return out;
}

function gatewayRestarts(item: Integration): number {
  const instances = item.upstream?.status().instances ?? [];
  return instances.find((i) => i.key === 'gateway')?.restarts ?? 0;
}
