import { isIP, isIPv6 } from 'node:net';
import { HOST_NAME } from '../net/resolve-overrides.ts';
import type { Target } from './admit.ts';

/**
 * The target of a request to the proxy, in the form a grant is written in (lowercase host, no
 * trailing dot, IPv6 in brackets) or the words of a 400. Only two forms are served: `CONNECT
 * host:port` (authority-form) and `GET http://host[:port]/path` (absolute-form, http only).
 */

const MAX_TARGET_LENGTH = 2048;

function normalHost(raw: string): string | undefined {
  const host = raw.toLowerCase().replace(/\.$/, '');
  if (host.startsWith('[') && host.endsWith(']')) {
    return isIPv6(host.slice(1, -1)) ? host : undefined;
  }
  if (isIP(host) === 4) return host;
  return host.length <= 253 && HOST_NAME.test(host) ? host : undefined;
}

function port(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const value = Number(text);
  return value >= 1 && value <= 65_535 ? value : undefined;
}

/** `CONNECT api.github.com:443`: the port is required (RFC 9110 §9.3.6). */
export function parseConnectTarget(authority: string | undefined): Target | string {
  if (!authority || authority.length > MAX_TARGET_LENGTH) return 'CONNECT needs a host:port target';
  const colon = authority.lastIndexOf(':');
  if (colon < 0) return `CONNECT ${JSON.stringify(authority)}: no port (expected host:port)`;
  const host = normalHost(authority.slice(0, colon));
  const p = port(authority.slice(colon + 1));
  if (!host || p === undefined) {
    return `CONNECT ${JSON.stringify(authority.slice(0, 300))}: not host:port`;
  }
  return { host, port: p };
}

export interface HttpTarget extends Target {
  /** The request's own port, when it named one. */
  explicitPort: number | undefined;
  /** Path and query, as sent upstream. */
  path: string;
}

/**
 * `http://host[:port]/path?query`; an origin-form `/path` (a request meant for a server, not a
 * proxy) and any other scheme are 400. The default port is 80 here; forward.ts changes it to
 * 443 for a host with a client certificate.
 */
export function parseHttpTarget(requestTarget: string | undefined): HttpTarget | string {
  if (!requestTarget || requestTarget.length > MAX_TARGET_LENGTH) return 'no request target';
  if (requestTarget.startsWith('/')) {
    return 'a request for the proxy itself (origin-form); send absolute-form http://host/path, or CONNECT for https';
  }
  let url: URL;
  try {
    url = new URL(requestTarget);
  } catch {
    return `${JSON.stringify(requestTarget.slice(0, 300))} is not an absolute http:// URL`;
  }
  if (url.protocol !== 'http:') {
    return `${url.protocol} requests are not forwarded; only http:// (use CONNECT for https)`;
  }
  if (url.username || url.password) return 'credentials in the target URL';
  const host = normalHost(url.hostname);
  if (!host) return `${JSON.stringify(url.hostname)} is not a host name`;
  const explicitPort = url.port === '' ? undefined : Number(url.port);
  return { host, port: explicitPort ?? 80, explicitPort, path: `${url.pathname}${url.search}` };
}
