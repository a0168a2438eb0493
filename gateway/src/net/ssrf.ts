import dns from 'node:dns';
import { isIP, isIPv4, isIPv6, type LookupFunction } from 'node:net';
import { SwitchboardError } from '../errors.ts';
import { rootCause } from './root-cause.ts';

/**
 * Which addresses an outbound connection may reach (the outbox's webhook POSTs here, the egress
 * proxy's tunnels in egress/). Built-in `webhook` dispatches and event
 * subscriptions POST to URLs an operator or an integration typed in; without this check such a
 * URL could reach the gateway's own admin API on 127.0.0.1, a database on 10.x or the cloud
 * metadata service at 169.254.169.254 (which hands out credentials). Everything that is not
 * public unicast is refused unless the operator lists the host in policy `dispatch.allowHosts`.
 * `checkedAddresses` resolves a hop and checks every address; `pinnedLookup` then makes the
 * socket connect to exactly those addresses (http-post.ts).
 */

export type AddressClass =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'shared'
  | 'multicast'
  | 'broadcast'
  | 'reserved'
  | 'invalid';

const DESCRIPTIONS: Record<AddressClass, string> = {
  unspecified: 'an unspecified',
  loopback: 'a loopback',
  private: 'a private',
  'link-local': 'a link-local',
  shared: 'a shared (CGNAT 100.64.0.0/10)',
  multicast: 'a multicast',
  broadcast: 'a broadcast',
  reserved: 'a reserved',
  invalid: 'an invalid',
};

/** "a link-local address": the words of a refusal message. */
export function describeClass(kind: AddressClass): string {
  return `${DESCRIPTIONS[kind]} address`;
}

/**
 * IPv4 ranges that are not public unicast, first match wins (broadcast before 240/4). Sources:
 * RFC 6890 (special-purpose registry), RFC 1918, RFC 6598 (CGNAT), RFC 3927 (link-local).
 */
const V4_RANGES: ReadonlyArray<readonly [string, number, AddressClass]> = [
  ['0.0.0.0', 8, 'unspecified'], // "this network"; 0.0.0.0 connects to localhost on Linux
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'], // includes the cloud metadata service 169.254.169.254
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'], // IETF protocol assignments
  ['192.0.2.0', 24, 'reserved'], // TEST-NET-1
  ['192.88.99.0', 24, 'reserved'], // 6to4 relay anycast (RFC 7526, deprecated)
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'], // benchmarking (RFC 2544)
  ['198.51.100.0', 24, 'reserved'], // TEST-NET-2
  ['203.0.113.0', 24, 'reserved'], // TEST-NET-3
  ['224.0.0.0', 4, 'multicast'],
  ['255.255.255.255', 32, 'broadcast'],
  ['240.0.0.0', 4, 'reserved'],
];

function v4ToNumber(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

const V4_TABLE = V4_RANGES.map(([base, bits, kind]) => ({
  base: v4ToNumber(base),
  size: 2 ** (32 - bits),
  kind,
}));

function classifyV4Number(n: number): AddressClass | undefined {
  for (const range of V4_TABLE) {
    if (n >= range.base && n < range.base + range.size) return range.kind;
  }
  return undefined;
}

/** Eight 16-bit groups; a dotted IPv4 tail (::ffff:1.2.3.4) and a zone id (%eth0) are handled. */
function v6Groups(ip: string): number[] | undefined {
  let text = ip.toLowerCase();
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (!isIPv6(text)) return undefined;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const n = v4ToNumber(tail);
    text = `${text.slice(0, lastColon + 1)}${Math.floor(n / 65536).toString(16)}:${(n % 65536).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const fill = rest === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((group) => Number.parseInt(group, 16));
}

function classifyV6(g: number[]): AddressClass | undefined {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const embedded = (hi: number, lo: number) => classifyV4Number(hi * 65536 + lo);
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroTo(8)) return 'unspecified';
  if (zeroTo(7) && g7 === 1) return 'loopback';
  // IPv4-mapped ::ffff:a.b.c.d reaches the IPv4 address itself: judge it as that address.
  if (zeroTo(5) && g5 === 0xffff) return embedded(g6, g7);
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return embedded(g6, g7); // SIIT (RFC 6052)
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) {
    return embedded(g6, g7); // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052)
  }
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return 'private'; // local-use NAT64 (RFC 8215)
  if (g0 === 0x2002) return embedded(g1, g2); // 6to4 2002:a.b.c.d::/48
  if (g0 === 0x2001 && g1 === 0) return 'reserved'; // Teredo: the embedded IPv4 is obfuscated
  if (g0 === 0x2001 && g1 === 0xdb8) return 'reserved'; // documentation
  if ((g0 & 0xfe00) === 0xfc00) return 'private'; // unique local fc00::/7
  if ((g0 & 0xffc0) === 0xfe80) return 'link-local'; // fe80::/10
  if ((g0 & 0xffc0) === 0xfec0) return 'private'; // site-local fec0::/10 (RFC 3879, deprecated)
  if ((g0 & 0xff00) === 0xff00) return 'multicast';
  // Only 2000::/3 is global unicast; the rest (IPv4-compatible ::a.b.c.d, 100::/64 discard,
  // unassigned space) has no business receiving webhooks.
  if ((g0 & 0xe000) !== 0x2000) return 'reserved';
  return undefined;
}

/** The class of an address that is not public unicast; undefined for a public one. */
export function addressClass(ip: string): AddressClass | undefined {
  if (isIPv4(ip)) return classifyV4Number(v4ToNumber(ip));
  const groups = v6Groups(ip);
  return groups ? classifyV6(groups) : 'invalid';
}

/** True for every address a webhook must not reach unless allowed; also for a non-address. */
export function isForbiddenAddress(ip: string): boolean {
  return addressClass(ip) !== undefined;
}

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

/**
 * Whether the operator allowed this URL's host in policy `dispatch.allowHosts`: an entry without
 * a port allows the host on any port, `host:port` only on that port (the scheme's default when
 * the URL names none). Entries are lowercase (sdk `hostPort`), and so is URL.hostname; one
 * trailing dot (`example.com.`, the same DNS name) is ignored.
 */
export function hostAllowed(url: URL, allowHosts: readonly string[]): boolean {
  const port = url.port || DEFAULT_PORTS[url.protocol] || '';
  return hostPortAllowed(url.hostname, port, allowHosts);
}

/**
 * The one hostPort matcher (the outbox's allowHosts, the egress proxy's grants): `host` as
 * URL.hostname spells it (an IPv6 literal in brackets), lowercased here, one trailing dot
 * ignored; an entry without a port matches every port.
 */
export function hostPortAllowed(
  hostname: string,
  port: number | string,
  entries: readonly string[],
): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  const withPort = `${host}:${port}`;
  return entries.some((entry) => entry === host || entry === withPort);
}

export interface ResolvedAddress {
  address: string;
  family: number;
}

const defaultLookup = (hostname: string) =>
  dns.promises.lookup(hostname, { all: true, verbatim: true });

/** The URL, or url_invalid. A redirect may not downgrade https to http (the body would leak). */
export function parseTarget(text: string, from?: URL): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SwitchboardError('url_invalid', 'not a URL');
  }
  const where = from ? `redirect from ${originOf(from)} to ${originOf(url)}` : originOf(url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SwitchboardError('url_invalid', `${where}: only http and https URLs`);
  }
  if (url.username || url.password) {
    throw new SwitchboardError('url_invalid', `${where}: credentials in the URL`);
  }
  if (from?.protocol === 'https:' && url.protocol === 'http:') {
    throw new SwitchboardError('url_invalid', `${where}: https to http is refused`);
  }
  return url;
}

/** Path and query stay out of messages: webhook URLs often carry their secret there. */
export function originOf(url: URL): string {
  return `${url.protocol}//${url.host}/`;
}

/** The addresses to connect to, every one of them checked unless the host is allowed. */
export async function checkedAddresses(
  url: URL,
  allowHosts: readonly string[],
  lookup: (hostname: string) => Promise<ResolvedAddress[]> = defaultLookup,
): Promise<ResolvedAddress[]> {
  const host = bareHost(url);
  const family = isIP(host);
  let addresses: ResolvedAddress[];
  if (family !== 0) addresses = [{ address: host, family }];
  else {
    try {
      addresses = await lookup(host);
    } catch (error) {
      throw new SwitchboardError('network', `cannot resolve ${host}: ${rootCause(error)}`, {
        cause: error,
      });
    }
    if (addresses.length === 0) {
      throw new SwitchboardError('network', `cannot resolve ${host}: no address`);
    }
  }
  if (hostAllowed(url, allowHosts)) return addresses;
  for (const { address } of addresses) {
    const kind = addressClass(address);
    if (kind === undefined) continue;
    const what = family !== 0 ? address : `${host} resolves to ${address}, which`;
    throw new SwitchboardError(
      'ssrf_refused',
      `refused ${originOf(url)}: ${what} is ${describeClass(kind)} (allow the host in policy dispatch.allowHosts)`,
      { details: { host, address, class: kind } },
    );
  }
  return addresses;
}

/** URL.hostname keeps the brackets of an IPv6 literal; connecting needs the address alone. */
export function bareHost(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/** A lookup that answers with the checked addresses only, whatever DNS says by now. */
export function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return (_hostname, lookupOptions, callback) => {
    // Node 20 asks with all: true (autoSelectFamily, happy eyeballs), older callers without.
    if (lookupOptions.all) callback(null, addresses);
    else callback(null, addresses[0]?.address ?? '', addresses[0]?.family);
  };
}
