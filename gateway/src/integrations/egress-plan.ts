import type { Grant } from '@switchboard/policy';
import type { IntegrationEgress } from '../egress/access.ts';
import type { EgressGrant } from '../egress/types.ts';
import type { Reason } from './judge.ts';
import type { LaunchEgress } from './launch.ts';

/**
 * What the integration's state says of its egress: `isolated` (a network namespace whose only
 * way out is the proxy), `advisory` (its programs are told the proxy; one that ignores
 * HTTPS_PROXY is not stopped), `off` (SWITCHBOARD_EGRESS=off: no proxy at all).
 */
export type EgressMode = 'isolated' | 'advisory' | 'off';

export type EgressPlan =
  | { ok: true; mode: EgressMode; launch: LaunchEgress | undefined; grant: EgressGrant }
  | { ok: false; reason: Reason };

/**
 * An integration's egress from its policy decision and what this gateway can do: the proxy's
 * grant, its programs' variables and relays, or the refusal `isolation_unavailable` when the
 * policy asks for isolation this machine (or SWITCHBOARD_EGRESS=off) cannot give. Never a silent
 * fallback to advisory: the operator asked for containment.
 */
export function planEgress(
  name: string,
  decision: Grant,
  access: IntegrationEgress | undefined,
): EgressPlan {
  const { egress } = decision;
  const grant: EgressGrant = {
    hosts: decision.outboundHosts,
    privateHosts: egress.privateHosts,
    mtls: egress.mtls,
  };
  const withheld = new Set(egress.withheldSettings);
  const isolate = egress.isolation === 'network';
  if (!access) {
    if (isolate) {
      return {
        ok: false,
        reason: {
          code: 'isolation_unavailable',
          message: `integrations.${name}.egress.isolation is network, but the egress proxy is off (SWITCHBOARD_EGRESS=off): there is nothing to relay its connections to`,
        },
      };
    }
    return { ok: true, mode: 'off', launch: { env: () => ({}), withheld }, grant };
  }
  const env = (taskId?: string) => access.proxyEnv(name, taskId);
  if (!isolate) return { ok: true, mode: 'advisory', launch: { env, withheld }, grant };
  const plan = access.isolation();
  if (!plan.available) {
    return {
      ok: false,
      reason: {
        code: 'isolation_unavailable',
        message: `integrations.${name}.egress.isolation is network, but this gateway cannot isolate: ${plan.reason}`,
      },
    };
  }
  return {
    ok: true,
    mode: 'isolated',
    launch: { env, withheld, network: { relays: plan.relays } },
    grant,
  };
}
