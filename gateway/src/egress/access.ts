import type { ContainedNetwork } from '../containment/netns.ts';

/**
 * What an integration's launch gets from the egress proxy (issue 21): the environment that
 * points its programs at the proxy, and, for `isolation: network`, the relays a network
 * namespace needs or the reason it cannot have them. The registry holds one of these per gateway
 * (egress/start.ts builds it); launch.ts applies it per program.
 */

/** A listener inside an isolated program's network namespace: 127.0.0.1:port → unix socket. */
export type Relay = ContainedNetwork['relays'][number];

export type IsolationPlan =
  | { available: true; relays: Relay[] }
  | { available: false; reason: string };

export interface IntegrationEgress {
  /**
   * HTTP_PROXY, HTTPS_PROXY, NO_PROXY (and the lowercase forms, which curl, Python and Go read)
   * for one integration's programs: the proxy with credentials naming the integration, and the
   * task when the instance is a task's own (instances: per-task), so the log can name it.
   */
  proxyEnv(integration: string, taskId?: string): Record<string, string>;
  /** The relays of network isolation, or why this machine cannot isolate (probed once). */
  isolation(): IsolationPlan;
}

/**
 * The variables themselves. NO_PROXY names the gateway's own API (SWITCHBOARD_URL's host:port):
 * programs reach it directly, as before. NODE_USE_ENV_PROXY=1 makes Node ≥ 24.5's http and fetch
 * honour the others; Node 20's fetch ignores them (the examples use the SDK's proxy-aware fetch).
 */
export function proxyVariables(proxyUrl: string, gatewayUrl: string): Record<string, string> {
  const gateway = new URL(gatewayUrl);
  const port = gateway.port || (gateway.protocol === 'https:' ? '443' : '80');
  const noProxy = `${gateway.hostname}:${port}`;
  return {
    HTTP_PROXY: proxyUrl,
    HTTPS_PROXY: proxyUrl,
    http_proxy: proxyUrl,
    https_proxy: proxyUrl,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    NODE_USE_ENV_PROXY: '1',
  };
}
