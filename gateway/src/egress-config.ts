import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * The egress proxy's environment variables (issue 21, gateway/src/egress/): read by config.ts,
 * with the limits' defaults and why. Here, in the bottom layer, because config.ts validates them
 * and egress/ sits far above it.
 */

/** One `SWITCHBOARD_EGRESS_RESOLVE` entry: connect to `address:port` when asked for `host[:port]`. */
export interface ResolveOverride {
  host: string;
  /** undefined: any port of the host (the connection keeps the port it asked for). */
  port: number | undefined;
  address: string;
  /** undefined: the port asked for. */
  toPort: number | undefined;
}

const HOST = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const RESOLVE_EXPECTED =
  'expected host[:port]=address[:port] entries separated by commas, e.g. api.github.com:443=127.0.0.1:40001 (IPv6 in brackets: [::1]:40001)';

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65_535 ? n : undefined;
}

/** `address[:port]` with IPv6 in brackets, or undefined. */
function parseAddress(text: string): { address: string; port: number | undefined } | undefined {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) {
    const port = v6[2] === undefined ? undefined : parsePort(v6[2]);
    if (isIP(v6[1] ?? '') !== 6 || (v6[2] !== undefined && port === undefined)) return undefined;
    return { address: v6[1] as string, port };
  }
  const [address = '', portText, extra] = text.split(':');
  const port = portText === undefined ? undefined : parsePort(portText);
  if (extra !== undefined || isIP(address) !== 4 || (portText !== undefined && port === undefined))
    return undefined;
  return { address, port };
}

/**
 * `api.github.com:443=127.0.0.1:40001,api.openweathermap.org=127.0.0.1`: the proxy connects to
 * the address instead of asking DNS (like curl's --connect-to). For split-horizon names and for
 * tests, whose "external" hosts are loopback servers. The SSRF rule still applies to the address:
 * a loopback one needs the host in the integration's egress.privateHosts.
 */
export function parseResolveOverrides(
  text: string,
): { ok: true; overrides: ResolveOverride[] } | { ok: false; message: string } {
  const overrides: ResolveOverride[] = [];
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length > 1_000) return { ok: false, message: 'expected at most 1000 entries' };
  for (const [i, entry] of entries.entries()) {
    const bad = (why: string) => ({
      ok: false as const,
      message: `entry ${i + 1} "${entry.slice(0, 100)}": ${why}; ${RESOLVE_EXPECTED}`,
    });
    const eq = entry.indexOf('=');
    if (eq < 0) return bad('no =');
    const [host = '', portText, extra] = entry.slice(0, eq).toLowerCase().split(':');
    if (extra !== undefined || !HOST.test(host) || host.length > 253)
      return bad(`"${entry.slice(0, eq)}" is not a host name with an optional :port`);
    const port = portText === undefined ? undefined : parsePort(portText);
    if (portText !== undefined && port === undefined) return bad(`"${portText}" is not a port`);
    const to = parseAddress(entry.slice(eq + 1));
    if (!to) return bad(`"${entry.slice(eq + 1)}" is not an IP address with an optional :port`);
    if (overrides.some((o) => o.host === host && o.port === port))
      return bad(`${host}${port === undefined ? '' : `:${port}`} is listed twice`);
    overrides.push({ host, port, address: to.address, toPort: to.port });
  }
  return { ok: true, overrides };
}

const whole = (expected: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,12}$/, expected)
    .transform(Number)
    .pipe(z.number().min(min, expected).max(max, expected));

export const egressEnv = {
  // on: every integration program gets HTTP(S)_PROXY pointing at the proxy; off: none (and an
  // integration whose policy asks for isolation: network is refused: nothing to relay it to).
  SWITCHBOARD_EGRESS: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
  // The proxy's loopback port; 0: one the system picks (the programs are told it).
  SWITCHBOARD_EGRESS_PORT: whole(
    'expected a TCP port, 0 to 65535 (0: any free one)',
    0,
    65_535,
  ).default(0),
  SWITCHBOARD_EGRESS_RESOLVE: z
    .string()
    .superRefine((text, ctx) => {
      const parsed = parseResolveOverrides(text);
      if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message });
    })
    .transform((text) => {
      const parsed = parseResolveOverrides(text);
      return parsed.ok ? parsed.overrides : [];
    })
    .default([]),
  // 10 s to resolve and connect: an API that takes longer to accept is down for the caller too.
  SWITCHBOARD_EGRESS_CONNECT_TIMEOUT_MS: whole('expected 100 to 120000 ms', 100, 120_000).default(
    10_000,
  ),
  // 1 h per tunnel or request: above the 10 min a tool call may last (mcp/call-bounds.ts), so
  // a keep-alive connection serves many calls; a stream held open past it reconnects.
  SWITCHBOARD_EGRESS_MAX_DURATION_MS: whole('expected 1000 ms to 24 h', 1_000, 86_400_000).default(
    3_600_000,
  ),
  // 2 min without a byte either way: HTTP clients close idle keep-alives after 4–60 s.
  SWITCHBOARD_EGRESS_IDLE_TIMEOUT_MS: whole('expected 1000 ms to 24 h', 1_000, 86_400_000).default(
    120_000,
  ),
  // 256 MiB each way per connection: far above API traffic, a bound on a runaway download.
  SWITCHBOARD_EGRESS_MAX_BYTES: whole('expected 1024 bytes to 1 TiB', 1_024, 2 ** 40).default(
    268_435_456,
  ),
  // 64 open at once per integration: clients pool a handful per host.
  SWITCHBOARD_EGRESS_MAX_CONNECTIONS: whole('expected 1 to 10000 connections', 1, 10_000).default(
    64,
  ),
};
