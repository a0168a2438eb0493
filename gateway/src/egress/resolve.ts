import dns from 'node:dns';
import { isIP } from 'node:net';
import type { ResolveOverride } from '../net/resolve-overrides.ts';
import type { ResolvedAddress } from '../net/ssrf.ts';

export { parseResolveOverrides, type ResolveOverride } from '../net/resolve-overrides.ts';

/**
 * Where the proxy connects for a host, like curl's --connect-to: overrides written
 * `api.github.com:443=127.0.0.1:40001,api.openweathermap.org=127.0.0.1` (tests and air-gapped
 * installs point a real name at a stand-in), else DNS. An overridden address is still checked
 * like a resolved one (SSRF rules, gateway addresses): an override chooses the address, never
 * the permission.
 */

export interface Resolved {
  addresses: ResolvedAddress[];
  port: number;
}

export type EgressLookup = (host: string, port: number) => Promise<Resolved>;

/** 10 s: DNS retries within one resolv.conf timeout (5 s by default) twice. */
export const DEFAULT_LOOKUP_TIMEOUT_MS = 10_000;

/** The override for host and port: one naming the port wins over one for every port. */
export function findOverride(
  overrides: readonly ResolveOverride[],
  host: string,
  port: number,
): ResolveOverride | undefined {
  const name = host.toLowerCase().replace(/\.$/, '');
  return (
    overrides.find((o) => o.host === name && o.port === port) ??
    overrides.find((o) => o.host === name && o.port === undefined)
  );
}

/** dns.lookup with every address (happy eyeballs needs them all), bounded by a timer. */
async function dnsLookup(host: string, timeoutMs: number): Promise<ResolvedAddress[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`DNS lookup of ${host} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([dns.promises.lookup(host, { all: true, verbatim: true }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The lookup the proxy uses: an override when one matches, a literal address as itself (an IPv6
 * one with or without brackets), else DNS within timeoutMs. The port is the override's target
 * port when it names one.
 */
export function createLookup(
  overrides: readonly ResolveOverride[] = [],
  timeoutMs = DEFAULT_LOOKUP_TIMEOUT_MS,
): EgressLookup {
  return async (host, port) => {
    const override = findOverride(overrides, host, port);
    if (override) return { addresses: [override.address], port: override.toPort ?? port };
    const bare = host.startsWith('[') ? host.slice(1, -1) : host;
    const family = isIP(bare);
    if (family !== 0) return { addresses: [{ address: bare, family }], port };
    return { addresses: await dnsLookup(bare, timeoutMs), port };
  };
}
