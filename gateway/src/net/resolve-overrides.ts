import { isIP } from 'node:net';
import type { ResolvedAddress } from './ssrf.ts';

/**
 * Where a name is connected instead of asking DNS, like curl's --connect-to:
 * `api.github.com:443=127.0.0.1:40001,api.openweathermap.org=127.0.0.1` (SWITCHBOARD_EGRESS_RESOLVE:
 * tests and split-horizon installs point a real name at a stand-in). config.ts validates the
 * variable with this parser; the egress proxy's lookup (egress/resolve.ts) uses the result. An
 * overridden address is still checked like a resolved one: an override chooses the address,
 * never the permission.
 */

export interface ResolveOverride {
  /** Lowercase, no trailing dot, an IPv6 literal without brackets. */
  host: string;
  /** undefined: every port of the host. */
  port: number | undefined;
  address: ResolvedAddress;
  /** undefined: the port asked for. */
  toPort: number | undefined;
}

/** A DNS name as a grant spells it: lowercase labels, `_` tolerated (SRV-style names exist). */
export const HOST_NAME = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

/** `[::1]:443` → ['::1', '443']; `host:443` → ['host', '443']; `host` → ['host', undefined]. */
function splitHostPort(text: string): [string, string | undefined] | undefined {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return undefined;
    return [text.slice(1, close), rest === '' ? undefined : rest.slice(1)];
  }
  const colon = text.indexOf(':');
  if (colon < 0) return [text, undefined];
  if (text.indexOf(':', colon + 1) >= 0) return undefined; // an IPv6 literal needs brackets
  return [text.slice(0, colon), text.slice(colon + 1)];
}

function parsePort(text: string | undefined): number | undefined | 'bad' {
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,5}$/.test(text)) return 'bad';
  const port = Number(text);
  return port >= 1 && port <= 65_535 ? port : 'bad';
}

/**
 * Parses the override list (comma-separated `host[:port]=address[:port]`). Throws a TypeError
 * naming the entry and what was expected; the caller (config) wraps it in its own error.
 */
export function parseResolveOverrides(text: string): ResolveOverride[] {
  const overrides: ResolveOverride[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const fail = (what: string) =>
      new TypeError(
        `resolve override "${entry}": ${what} (expected host[:port]=address[:port], e.g. api.github.com:443=127.0.0.1:40001; IPv6 in brackets)`,
      );
    const equals = entry.indexOf('=');
    if (equals < 0) throw fail('no "="');
    const key = splitHostPort(entry.slice(0, equals).trim());
    const value = splitHostPort(entry.slice(equals + 1).trim());
    if (!key) throw fail('the host is not host or host:port');
    if (!value) throw fail('the target is not address or address:port');
    const host = key[0].toLowerCase().replace(/\.$/, '');
    if (!(HOST_NAME.test(host) || isIP(host) !== 0)) throw fail(`"${key[0]}" is not a host name`);
    const port = parsePort(key[1]);
    if (port === 'bad') throw fail(`"${key[1]}" is not a port (1-65535)`);
    const family = isIP(value[0]);
    if (family === 0) throw fail(`"${value[0]}" is not an IP address`);
    const toPort = parsePort(value[1]);
    if (toPort === 'bad') throw fail(`"${value[1]}" is not a port (1-65535)`);
    overrides.push({ host, port, address: { address: value[0], family }, toPort });
  }
  return overrides;
}
