/**
 * Whether the gateway is shutting down, read by what must answer differently then: /readyz
 * answers 503 so load balancers stop sending traffic (http/health.ts), and the API's open SSE
 * streams end (api/streams.ts). shutdown.ts sets it.
 */
export interface Lifecycle {
  readonly shuttingDown: boolean;
}
