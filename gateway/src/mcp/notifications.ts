import type { Server, ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Integration, IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import type { Catalog, UpstreamEvent } from './catalog.ts';
import { requestScope } from './request-scope.ts';
import type { ResourceSubscriptions } from './subscriptions.ts';
import { integrationWide, type View, viewIncludes } from './view.ts';

/**
 * How a change reaches agents, served statelessly on both eras:
 * - 2026-07-28: `subscriptions/listen` streams, served by createMcpHandler's listen router from
 *   our ServerEventBus. The router subscribes while serving the listen request, inside its
 *   request scope, so each subscriber is tied to its grant and endpoint and only hears about
 *   integrations it can see (the SDK's own bus would broadcast to every stream);
 * - 2025-11-25: the GET SSE stream (transports "Listening for Messages from the Server"). Each
 *   open stream keeps its own server instance; a change is sent on it as an unsolicited
 *   `notifications/…/list_changed`.
 * Changes come from upstream notifications (via the Catalog) and from the registry: an
 * integration becoming ready, failing or being reloaded changes what the lists hold, so the hub
 * follows the registry's change events.
 */

/** Resource subscriptions of expired grants are dropped this often. */
const SWEEP_MS = 1_000;

/** The part of a `subscriptions/listen` request naming resources (spec basic/patterns/subscriptions). */
const listenRequest = z.object({
  method: z.literal('subscriptions/listen'),
  params: z.object({
    notifications: z.object({ resourceSubscriptions: z.array(z.string()).max(256).optional() }),
  }),
});

interface Listener {
  view: View;
  deliver: (event: ServerEvent) => void;
  held: Array<[Integration, string]>;
  closed: boolean;
}

interface LegacyStream {
  view: View;
  server: Server;
}

export interface HubDeps {
  registry: IntegrationRegistry;
  catalog: Catalog;
  subscriptions: ResourceSubscriptions;
  log: Logger;
  /** The integration a resource URI of this view belongs to (the resources/read routing). */
  resolveUri(view: View, uri: string): Promise<Integration | undefined>;
}

export class NotificationHub {
  private readonly listeners = new Set<Listener>();
  private readonly streams = new Set<LegacyStream>();
  private timer: NodeJS.Timeout | undefined;
  private stopFollowing: (() => void) | undefined;

  /** The bus given to createMcpHandler: subscribe() only, scoped to the listening request. */
  readonly bus: ServerEventBus = {
    // Events are published per integration through publish() below, never through the SDK's
    // unscoped notify sugar; an event arriving here has no integration to check, so it is dropped.
    publish: () => {},
    subscribe: (listener) => this.listen(listener),
  };

  constructor(private readonly deps: HubDeps) {}

  /** Starts following the registry and sweeping expired subscriptions (idempotent). */
  start(): void {
    if (this.timer) return;
    this.stopFollowing = this.deps.registry.onChange((name) => this.registryChanged(name));
    this.timer = setInterval(() => this.deps.subscriptions.sweep(Date.now() / 1000), SWEEP_MS);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopFollowing?.();
    this.stopFollowing = undefined;
    const streams = [...this.streams];
    this.streams.clear();
    await Promise.all(streams.map((s) => s.server.close().catch(() => {})));
  }

  /** Registers an open 2025-era GET stream; the returned function removes it. */
  addLegacyStream(view: View, server: Server): () => void {
    const stream: LegacyStream = { view, server };
    this.streams.add(stream);
    return () => this.streams.delete(stream);
  }

  /** A change in one integration, to every listener that can see that integration. */
  publish(integration: string, event: UpstreamEvent): void {
    // Resource and prompt changes only to views that may see those (a grant of the whole).
    const concerns = (view: View) =>
      viewIncludes(view, integration) &&
      (event.kind === 'tools_list_changed' || integrationWide(view, integration));
    for (const listener of this.listeners) {
      if (!listener.closed && concerns(listener.view)) {
        try {
          listener.deliver(event);
        } catch (error) {
          this.deps.log.debug({ err: error }, 'listen stream delivery failed');
        }
      }
    }
    for (const stream of this.streams) {
      if (!concerns(stream.view)) continue;
      this.sendLegacy(stream, event).catch((error: unknown) =>
        this.deps.log.debug({ integration, err: error }, 'legacy stream notification failed'),
      );
    }
  }

  private sendLegacy(stream: LegacyStream, event: UpstreamEvent): Promise<void> {
    const { server } = stream;
    const capabilities = server.getCapabilities();
    switch (event.kind) {
      case 'tools_list_changed':
        return capabilities.tools ? server.sendToolListChanged() : Promise.resolve();
      case 'prompts_list_changed':
        return capabilities.prompts ? server.sendPromptListChanged() : Promise.resolve();
      case 'resources_list_changed':
        return capabilities.resources ? server.sendResourceListChanged() : Promise.resolve();
      case 'resource_updated':
        return this.deps.subscriptions.followsLegacy(stream.view.claims, event.uri)
          ? server.sendResourceUpdated({ uri: event.uri })
          : Promise.resolve();
    }
  }

  private listen(deliver: (event: ServerEvent) => void): () => void {
    const scope = requestScope.getStore();
    // Only our own handle() serves listen requests; without its scope nobody is entitled to events.
    if (!scope) return () => {};
    const listener: Listener = { view: scope.view, deliver, held: [], closed: false };
    this.listeners.add(listener);
    const parsed = listenRequest.safeParse(scope.body);
    for (const uri of parsed.success
      ? (parsed.data.params.notifications.resourceSubscriptions ?? [])
      : []) {
      this.follow(listener, uri).catch((error: unknown) =>
        this.deps.log.debug({ uri, err: error }, 'upstream resource subscription failed'),
      );
    }
    return () => {
      listener.closed = true;
      this.listeners.delete(listener);
      for (const [item, uri] of listener.held) this.deps.subscriptions.release(item, uri);
      listener.held = [];
    };
  }

  private async follow(listener: Listener, uri: string): Promise<void> {
    const item = await this.deps.resolveUri(listener.view, uri);
    if (!item || listener.closed) return;
    listener.held.push([item, uri]);
    await this.deps.subscriptions.acquire(item, uri);
  }

  /** An integration was added, rebuilt, removed or changed state: its lists may differ. */
  private registryChanged(name: string): void {
    this.deps.catalog.invalidate(name);
    this.publish(name, { kind: 'tools_list_changed' });
    this.publish(name, { kind: 'prompts_list_changed' });
    this.publish(name, { kind: 'resources_list_changed' });
  }
}
