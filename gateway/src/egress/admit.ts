import { isIP, isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Logger } from '../log.ts';
import { rootCause } from '../net/root-cause.ts';
import { addressClass, hostPortAllowed, type ResolvedAddress } from '../net/ssrf.ts';
import { identify, type ProxyIdentity } from './credentials.ts';
import { type Refusal, refusals } from './refusal.ts';
import type { EgressLookup } from './resolve.ts';
import type { EgressGrant, EgressLimits, EgressRecord, MtlsIdentity } from './types.ts';

/**
 * The proxy's decision for one connection, in the order a refusal is cheapest and says most:
 * who (credentials) → may it (grant, connection caps) → where (resolve) → not the gateway itself
 * → not a private address unless granted. The addresses returned are the checked ones; the
 * caller connects to exactly those (pinned), never resolving again.
 */

export interface ProxyContext {
  secret: Buffer;
  grantOf(integration: string): EgressGrant | undefined;
  record(entry: EgressRecord): void;
  limits: EgressLimits;
  log: Logger;
  lookup: EgressLookup;
  /** The gateway's listeners and the proxy's own. */
  gatewayAddresses(): Array<{ host: string; port: number }>;
  slots: Slots;
}

/** Connections open at once, per integration and in all (1024: a file-descriptor budget). */
export class Slots {
  readonly #open = new Map<string, number>();
  #total = 0;
  constructor(
    private readonly perIntegration: number,
    readonly global: number,
  ) {}

  /** A refusal, or undefined with the slot taken (release it exactly once). */
  acquire(integration: string): Refusal | undefined {
    const open = this.#open.get(integration) ?? 0;
    if (open >= this.perIntegration)
      return refusals.perIntegration(integration, this.perIntegration);
    if (this.#total >= this.global) return refusals.global(this.global);
    this.#open.set(integration, open + 1);
    this.#total += 1;
    return undefined;
  }

  release(integration: string): void {
    const open = (this.#open.get(integration) ?? 1) - 1;
    if (open <= 0) this.#open.delete(integration);
    else this.#open.set(integration, open);
    this.#total = Math.max(0, this.#total - 1);
  }

  get total(): number {
    return this.#total;
  }
}

export interface Target {
  /** As a grant spells it: lowercase, no trailing dot, an IPv6 literal in brackets. */
  host: string;
  port: number;
}

/** `host:port`, `[::1]:443`: what a message and the grant check name. */
export const targetText = (target: Target) => `${target.host}:${target.port}`;

/** The mTLS identity of the grant for this host and port (entry without a port: any). */
export function mtlsFor(grant: EgressGrant, host: string, port: number): MtlsIdentity | undefined {
  return grant.mtls.find((m) => hostPortAllowed(host, port, [m.host]));
}

/** Whose connection this is (the credentials of its proxy URL), or the 407. */
export function authenticate(
  ctx: ProxyContext,
  authorization: string | undefined,
): ProxyIdentity | Refusal {
  return identify(ctx.secret, authorization) ?? refusals.unauthenticated();
}

/** The integration's grant when it lists the target (host, or host:port); the slot is not taken. */
export function grantFor(
  ctx: ProxyContext,
  identity: ProxyIdentity,
  target: Target,
): EgressGrant | Refusal {
  const grant = ctx.grantOf(identity.integration);
  if (!grant || !hostPortAllowed(target.host, target.port, grant.hosts)) {
    return refusals.notGranted(targetText(target), identity.integration);
  }
  return grant;
}

export const isRefusal = (value: object): value is Refusal =>
  'reason' in value && 'status' in value;

const unmapped = (address: string) => {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIPv4(lower.slice(7)) ? lower.slice(7) : lower;
};

function localAddresses(): Set<string> {
  const all = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) all.add(unmapped(entry.address.split('%')[0] ?? ''));
  }
  return all;
}

const UNSPECIFIED = new Set(['', '0.0.0.0', '::', 'localhost']);

/**
 * Whether address:port reaches one of the gateway's listeners. A listener on a loopback address
 * is reached by every loopback address and by 0.0.0.0/:: (Linux connects those to localhost);
 * one on every interface (0.0.0.0, ::) by any address of this machine as well.
 */
export function isGatewayAddress(
  address: string,
  port: number,
  listeners: ReadonlyArray<{ host: string; port: number }>,
): boolean {
  const target = unmapped(address);
  const kind = addressClass(target);
  const local = kind === 'loopback' || kind === 'unspecified';
  let interfaces: Set<string> | undefined;
  for (const listener of listeners) {
    if (listener.port !== port) continue;
    const host = unmapped(listener.host.replace(/^\[|\]$/g, ''));
    if (host === target) return true;
    const listenerKind = isIP(host) ? addressClass(host) : undefined;
    if (local && (UNSPECIFIED.has(host) || listenerKind === 'loopback')) return true;
    if (UNSPECIFIED.has(host) || listenerKind === 'unspecified') {
      interfaces ??= localAddresses();
      if (interfaces.has(target)) return true;
    }
  }
  return false;
}

/** Resolves and checks the addresses of an authorized target. */
export async function checkAddresses(
  ctx: ProxyContext,
  identity: ProxyIdentity,
  grant: EgressGrant,
  target: Target,
): Promise<
  { ok: true; addresses: ResolvedAddress[]; port: number } | { ok: false; refusal: Refusal }
> {
  let resolved: Awaited<ReturnType<EgressLookup>>;
  try {
    resolved = await ctx.lookup(target.host, target.port);
  } catch (error) {
    return { ok: false, refusal: refusals.resolveFailed(target.host, rootCause(error)) };
  }
  if (resolved.addresses.length === 0) {
    return { ok: false, refusal: refusals.resolveFailed(target.host, 'no address') };
  }
  const listeners = ctx.gatewayAddresses();
  for (const { address } of resolved.addresses) {
    if (isGatewayAddress(address, resolved.port, listeners)) {
      return {
        ok: false,
        refusal: refusals.gatewayAddress(targetText(target), address, resolved.port),
      };
    }
  }
  if (!hostPortAllowed(target.host, target.port, grant.privateHosts)) {
    for (const { address } of resolved.addresses) {
      const kind = addressClass(address);
      if (kind === undefined) continue;
      return {
        ok: false,
        refusal: refusals.privateAddress(
          targetText(target),
          target.host,
          address,
          kind,
          identity.integration,
        ),
      };
    }
  }
  return { ok: true, addresses: resolved.addresses, port: resolved.port };
}
