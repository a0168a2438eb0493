/**
 * The egress proxy's interfaces (issue 21): what it is told about each integration (its grant),
 * what it reports about each connection (the audit record), and what the rest of the gateway may
 * ask of it. The proxy (proxy.ts) owns the decisions; the audit store (store.ts) only writes what
 * it is handed; launch.ts only puts the proxy's URL into an integration's environment.
 */

/** A client certificate the proxy presents for one granted host: PEM text, never in the server's env. */
export interface MtlsIdentity {
  /** A hostPort entry (`secure.example.com` or `secure.example.com:8443`) of the grant's hosts. */
  host: string;
  certificate: string;
  key: string;
  /** PEM of the CA that signs the upstream's certificate; unset: Node's default roots. */
  ca?: string | undefined;
}

/** What one integration may reach through the proxy (from its policy decision). */
export interface EgressGrant {
  /**
   * hostPort entries, lowercase: `api.github.com` allows the host on any port,
   * `api.github.com:443` only on that port. A literal address is matched as written.
   */
  hosts: readonly string[];
  /**
   * hostPort entries of `hosts` that may resolve to (or be) a non-public address: loopback,
   * private, link-local (the metadata service), … Everything else resolving there is refused.
   */
  privateHosts: readonly string[];
  mtls: readonly MtlsIdentity[];
}

/** How a connection through the proxy ended. */
export type EgressOutcome = 'allowed' | 'refused' | 'failed';

/**
 * Why a connection was refused or failed (the audit's `reason`, the metrics' label, the 403's
 * `X-Switchboard-Egress` header). A closed set: metrics labels stay bounded.
 */
export const EGRESS_REASONS = [
  /** No or wrong Proxy-Authorization: the proxy does not know whose connection this is. */
  'unauthenticated',
  /** The integration's grant does not list the host (and port). */
  'host_not_granted',
  /** The host resolves to a non-public address and is not in egress.privateHosts. */
  'address_refused',
  /** The gateway's own listeners (its API, this proxy): never reachable through the proxy. */
  'gateway_address',
  /** The integration has too many connections open, or opens them too fast. */
  'rate_limited',
  /** Not a request a forward proxy serves (origin-form, a bad target, an unsupported scheme). */
  'bad_request',
  /** DNS found no address. */
  'resolve_failed',
  /** The upstream did not accept the connection (refused, unreachable, timed out, TLS failed). */
  'connect_failed',
  /** A cap ended an allowed connection: bytes, total duration or idle time. */
  'limit_reached',
] as const;
export type EgressReason = (typeof EGRESS_REASONS)[number];

/** One connection (a CONNECT tunnel or one forwarded plain-HTTP request), as audited. */
export interface EgressRecord {
  /** undefined when the credentials named no known integration (reason unauthenticated). */
  integration: string | undefined;
  /** The task whose instance opened it, when the credentials carry one. */
  taskId: string | undefined;
  /** `connect` (a tunnel, usually TLS the proxy cannot see into) or `http` (a forwarded request). */
  kind: 'connect' | 'http';
  host: string;
  port: number;
  /** The address the proxy connected to (the one it checked); undefined if it never connected. */
  address: string | undefined;
  outcome: EgressOutcome;
  /** undefined for an allowed connection that ended normally. */
  reason: EgressReason | undefined;
  /** Bytes from the integration to the upstream, and back (bodies and tunnel payload). */
  bytesUp: number;
  bytesDown: number;
  startedAt: Date;
  durationMs: number;
  /** The proxy originated TLS with the integration's client certificate. */
  mtls: boolean;
}

/** Caps on each connection and on each integration: egress-config.ts, where config.ts reads them. */
export type { EgressLimits } from '../egress-config.ts';
