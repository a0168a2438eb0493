import type { Client, McpSubscription } from '@modelcontextprotocol/client';
import type { Integration } from '../integrations/registry.ts';
import type { Logger } from '../log.ts';
import type { TokenClaims } from '../tokens/claims.ts';
import type { Catalog } from './catalog.ts';

/** Resources one token may follow at once (legacy resources/subscribe): bounds memory per agent. */
export const MAX_SUBSCRIPTIONS_PER_TOKEN = 256;

interface Upstream {
  item: Integration;
  count: number;
  /** A 2026-07-28 upstream: the `subscriptions/listen` stream naming this URI. */
  listen?: Promise<McpSubscription | undefined>;
}

/**
 * Resource subscriptions. Upstream, one subscription per (integration, URI) however many agents
 * follow it, released when the last one stops: `resources/subscribe` on a 2025-era connection, a
 * `subscriptions/listen` stream naming the URI on a 2026-07-28 one (which has no
 * resources/subscribe; its updates arrive on that stream, to the same notification handler). Downstream, two eras:
 * - 2025 clients call resources/subscribe in a stateless POST of their own; the subscription is
 *   remembered per token (the task's credential, so it ends with the task), and updates go out
 *   on that token's GET streams;
 * - 2026-07-28 clients name the URIs in `subscriptions/listen`; the subscription lives as long
 *   as that stream.
 */
export class ResourceSubscriptions {
  private readonly upstream = new Map<string, Upstream>();
  private readonly byToken = new Map<
    string,
    { expiresAt: number; uris: Map<string, Integration> }
  >();

  constructor(
    private readonly catalog: Catalog,
    private readonly log: Logger,
  ) {}

  async acquire(item: Integration, uri: string): Promise<void> {
    const key = `${item.name}\n${uri}`;
    const found = this.upstream.get(key);
    if (found && found.item === item) {
      found.count += 1;
      return;
    }
    const entry: Upstream = { item, count: 1 };
    this.upstream.set(key, entry);
    const capabilities = await this.catalog.capabilities(item);
    if (!capabilities.resources?.subscribe) return;
    await item.upstream?.request(async (client, timeout) => {
      this.catalog.hook(client, item.name);
      if (!isModern(client)) {
        await client.subscribeResource({ uri }, { timeout });
        return;
      }
      entry.listen = client.listen({ resourceSubscriptions: [uri] }, { timeout });
      await entry.listen;
    });
  }

  release(item: Integration, uri: string): void {
    const key = `${item.name}\n${uri}`;
    const found = this.upstream.get(key);
    if (!found || found.item !== item) return;
    found.count -= 1;
    if (found.count > 0) return;
    this.upstream.delete(key);
    if (found.listen) {
      found.listen
        .then((subscription) => subscription?.close())
        .catch((error: unknown) =>
          this.log.debug({ integration: item.name, uri, err: error }, 'upstream unlisten failed'),
        );
      return;
    }
    this.catalog
      .capabilities(item)
      .then((capabilities) =>
        capabilities.resources?.subscribe
          ? item.upstream?.request((client, timeout) =>
              client.unsubscribeResource({ uri }, { timeout }),
            )
          : undefined,
      )
      .catch((error: unknown) =>
        this.log.debug({ integration: item.name, uri, err: error }, 'upstream unsubscribe failed'),
      );
  }

  async subscribeLegacy(claims: TokenClaims, item: Integration, uri: string): Promise<void> {
    let entry = this.byToken.get(claims.tokenId);
    if (!entry) {
      entry = { expiresAt: claims.expiresAt, uris: new Map() };
      this.byToken.set(claims.tokenId, entry);
    }
    if (entry.uris.has(uri)) return;
    if (entry.uris.size >= MAX_SUBSCRIPTIONS_PER_TOKEN) {
      throw new RangeError(
        `at most ${MAX_SUBSCRIPTIONS_PER_TOKEN} resource subscriptions per task`,
      );
    }
    entry.uris.set(uri, item);
    await this.acquire(item, uri);
  }

  unsubscribeLegacy(claims: TokenClaims, uri: string): void {
    const entry = this.byToken.get(claims.tokenId);
    const item = entry?.uris.get(uri);
    if (!entry || !item) return;
    entry.uris.delete(uri);
    if (entry.uris.size === 0) this.byToken.delete(claims.tokenId);
    this.release(item, uri);
  }

  /** Whether a 2025-era client holding this token subscribed to `uri`. */
  followsLegacy(claims: TokenClaims, uri: string): boolean {
    return this.byToken.get(claims.tokenId)?.uris.has(uri) ?? false;
  }

  /** Drops the subscriptions of tokens that expired (their tasks cannot use them any more). */
  sweep(nowSeconds: number): void {
    for (const [tokenId, entry] of this.byToken) {
      if (entry.expiresAt > nowSeconds) continue;
      this.byToken.delete(tokenId);
      for (const [uri, item] of entry.uris) this.release(item, uri);
    }
  }
}

function isModern(client: Client): boolean {
  return client.getProtocolEra() === 'modern';
}
