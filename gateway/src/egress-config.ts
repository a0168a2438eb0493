import { z } from 'zod';
import { parseResolveOverrides } from './net/resolve-overrides.ts';

export type { ResolveOverride } from './net/resolve-overrides.ts';

/** Caps on each connection and on each integration (egress/meter.ts, egress/admit.ts). */
export interface EgressLimits {
  /** Resolving plus connecting to the upstream. */
  connectTimeoutMs: number;
  /** The whole life of one tunnel or forwarded request. */
  maxDurationMs: number;
  /** No byte either way for this long ends it. */
  idleTimeoutMs: number;
  /** Bytes each way of one connection. */
  maxBytes: number;
  /** Connections one integration may have open at once. */
  maxConnectionsPerIntegration: number;
}

/**
 * The egress proxy's environment variables (issue 21, gateway/src/egress/): read by config.ts,
 * with the limits' defaults and why. Beside net/, below config.ts, which validates them; egress/
 * sits far above both.
 */

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
  // host[:port]=address[:port],…: connect a name there instead of asking DNS (net/).
  SWITCHBOARD_EGRESS_RESOLVE: z
    .string()
    .max(100_000, 'expected at most 100000 characters')
    .transform((text, ctx) => {
      try {
        return parseResolveOverrides(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
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
