import { hostPort, settingKey, strictObject } from '@switchboard/sdk';
import { z } from 'zod';

/**
 * A client certificate the egress proxy presents for one granted host (issue 21): the PEM texts
 * are the integration's settings named here (declare them `secret: true`); the gateway withholds
 * those settings from the server and its processes, so only the proxy ever holds the key.
 */
const mtlsIdentity = strictObject({
  host: hostPort,
  certificate: settingKey.describe('the setting holding the client certificate (PEM)'),
  key: settingKey.describe('the setting holding the client private key (PEM)'),
  ca: settingKey
    .describe('the setting holding the upstream CA (PEM); unset: Node roots')
    .optional(),
});

/**
 * How the integration's programs reach the network (gateway/src/egress/, docs/policy.md
 * "Egress"). Every connection goes through the gateway's egress proxy, which allows only
 * `outboundHosts`; `isolation: network` also runs the programs in a network namespace whose only
 * way out is that proxy (without it, egress is advisory for a program that ignores HTTPS_PROXY).
 */
const EGRESS_MTLS_MAX = 16;
export const egressPolicy = strictObject({
  isolation: z.enum(['none', 'network'], { error: 'expected none or network' }).default('none'),
  privateHosts: z
    .array(hostPort, { error: 'expected a list of host names from outboundHosts' })
    .default([]),
  mtls: z
    .array(mtlsIdentity, { error: 'expected a list of { host, certificate, key, ca } entries' })
    .max(EGRESS_MTLS_MAX, `expected at most ${EGRESS_MTLS_MAX} entries`)
    .default([]),
});

/**
 * The egress block checked against the entry's outboundHosts (a superRefine of the integration's
 * policy): a private-address or mTLS entry for a host the integration may not reach would be dead
 * configuration that reads as a grant, so it is refused where it is written.
 */
export function checkEgressHosts(
  entry: { outboundHosts: string[]; egress: z.output<typeof egressPolicy> },
  ctx: z.RefinementCtx,
): void {
  entry.egress.privateHosts.forEach((host, i) => {
    if (!entry.outboundHosts.includes(host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['egress', 'privateHosts', i],
        message: `expected a host of outboundHosts (${entry.outboundHosts.join(', ') || 'none'})`,
      });
    }
  });
  const seen = new Set<string>();
  entry.egress.mtls.forEach((identity, i) => {
    if (!entry.outboundHosts.includes(identity.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['egress', 'mtls', i, 'host'],
        message: `expected a host of outboundHosts (${entry.outboundHosts.join(', ') || 'none'})`,
      });
    }
    if (seen.has(identity.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['egress', 'mtls', i, 'host'],
        message: 'expected one entry per host; this one is listed twice',
      });
    }
    seen.add(identity.host);
  });
}
