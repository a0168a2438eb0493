import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Registry } from 'prom-client';
import type { EgressConfig } from '../config.ts';
import { networkIsolation } from '../containment/netns.ts';
import type { Sql } from '../db/connect.ts';
import type { Logger } from '../log.ts';
import { type IntegrationEgress, type IsolationPlan, proxyVariables } from './access.ts';
import { EgressAudit } from './audit.ts';
import { egressRuntimeDir, startUnixBridge } from './bridge.ts';
import { type EgressProxy, startEgressProxy } from './proxy.ts';
import type { EgressGrant } from './types.ts';

export interface EgressDeps {
  sql: Sql;
  log: Logger;
  metrics: Registry;
  config: EgressConfig;
  /** What an integration may reach now; undefined while it is not granted (refused, removed). */
  grantOf: (integration: string) => EgressGrant | undefined;
  /** The gateway's API listener (never reachable through the proxy; relayed to isolated programs). */
  listener: { host: string; port: number };
  /** SWITCHBOARD_URL as programs are told it: NO_PROXY names it. */
  gatewayUrl: () => string;
}

export interface EgressService extends IntegrationEgress {
  proxy: EgressProxy;
  audit: EgressAudit;
  /** Stops the proxy (every tunnel ends), the bridges, and writes the log's backlog. */
  close(): Promise<void>;
}

/**
 * The egress proxy of one gateway (issue 21): listening on its own loopback port, every
 * connection recorded through EgressAudit. Network isolation is prepared at start: the machine
 * is probed once (containment/netns.ts) and, when it can isolate, the proxy and the gateway's API
 * are served on unix sockets in a private directory, which the relays inside each namespace
 * connect to; an integration whose policy asks for isolation is then judged without waiting.
 */
export async function startEgress(deps: EgressDeps): Promise<EgressService> {
  const { log, config } = deps;
  const audit = new EgressAudit(deps.sql, log, deps.metrics);
  // Per process: credentials die with the gateway, and its programs are restarted with it.
  const secret = randomBytes(32);
  let proxy: EgressProxy | undefined;
  // A wildcard HOST (0.0.0.0, ::) listens on loopback too: the relay connects there. The proxy
  // is told the wildcard itself, which makes it refuse every address of this machine on the port.
  const { host, port } = deps.listener;
  const listener = { host: host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host, port };
  proxy = await startEgressProxy({
    secret,
    grantOf: deps.grantOf,
    record: (entry) => audit.record(entry),
    limits: config.limits,
    log,
    resolve: config.resolve,
    gatewayAddresses: () => [deps.listener, { host: '127.0.0.1', port: proxy?.port ?? 0 }],
    port: config.port,
  });
  log.info({ port: proxy.port }, 'egress proxy listening');
  const started = proxy;

  let plan: IsolationPlan = { available: false, reason: 'not probed yet' };
  const closers: Array<() => Promise<void>> = [];
  /** Probes, and opens the sockets when the machine can isolate; `plan` says the outcome. */
  const prepare = async (): Promise<void> => {
    const probe = networkIsolation();
    if (!probe.available) {
      plan = { available: false, reason: probe.reason };
      return;
    }
    try {
      const dir = await egressRuntimeDir();
      closers.push(() => dir.remove());
      const proxySocket = path.join(dir.path, 'proxy.sock');
      const apiSocket = path.join(dir.path, 'api.sock');
      await started.listenUnix(proxySocket);
      const bridge = await startUnixBridge(apiSocket, listener, log);
      closers.push(() => bridge.close());
      plan = {
        available: true,
        relays: [
          { port: started.port, socket: proxySocket },
          { port: listener.port, socket: apiSocket },
        ],
      };
    } catch (error) {
      log.error({ err: error }, 'egress: could not open the sockets of network isolation');
      plan = {
        available: false,
        reason: `the relay sockets could not be opened: ${String(error)}`,
      };
    }
  };

  // Once, at start: a probe of a few ms (cached per process) and two sockets in a private
  // directory, so that an integration asking for isolation is judged without waiting.
  await prepare();
  if (plan.available) log.info('network isolation available (egress.isolation: network)');
  else log.info({ reason: plan.reason }, 'network isolation unavailable');
  return {
    proxy: started,
    audit,
    proxyEnv(integration, taskId) {
      return proxyVariables(started.proxyUrl(integration, taskId), deps.gatewayUrl());
    },
    isolation: () => plan,
    async close() {
      await started.close();
      for (const close of closers.reverse()) {
        try {
          await close();
        } catch (error) {
          log.warn({ err: error }, 'egress: closing a relay socket failed');
        }
      }
      await audit.flush();
    },
  };
}
