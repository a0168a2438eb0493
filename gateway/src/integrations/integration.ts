/**
 * An integration as the registry holds it (registry.ts builds, reloads and refuses them), what
 * the registry needs, and what it does to one integration's server and processes.
 */
import type { loadManifest, Manifest } from '@switchboard/sdk';
import type { Config } from '../config.ts';
import type { EventBus } from '../db/bus.ts';
import type { Pool } from '../db/connect.ts';
import type { IntegrationEgress } from '../egress/access.ts';
import type { EgressGrant } from '../egress/types.ts';
import type { Logger } from '../log.ts';
import type { ResolvedSetting } from '../settings/resolve.ts';
import type { BackgroundProcess } from './background-process.ts';
import type { Candidate } from './discover.ts';
import type { EgressMode } from './egress-plan.ts';
import type { Reason } from './judge.ts';
import { readToolCatalog, toolPages } from './tool-catalog.ts';
import type { ToolPinState } from './tool-pinning.ts';
import type { ToolSummary } from './tools.ts';
import { DEFAULT_BACKOFF, restartDelay } from './upstream/backoff.ts';
import type { UpstreamPool } from './upstream/pool.ts';
import { delay } from './upstream/stdio.ts';

export type IntegrationState = 'ready' | 'starting' | 'refused' | 'failed' | 'stopped';

export interface Integration {
  name: string;
  dir: string;
  manifest: Manifest | undefined;
  state: IntegrationState;
  reasons: Reason[];
  lastError: string | undefined;
  tools: ToolSummary[];
  settings: ResolvedSetting[];
  upstream: UpstreamPool | undefined;
  /** The manifest's background processes (started only when granted). */
  processes: BackgroundProcess[];
  /** Folders of same-named integrations in earlier roots that this one overrides. */
  overrides: string[];
  /** Its tools against their pins (tool-pinning.ts); pending ones are hidden from agents. */
  toolPins?: ToolPinState;
  /** How its programs reach the network (egress-plan.ts); undefined until it is granted. */
  egress?: EgressMode | undefined;
  /** What the egress proxy lets it reach; undefined while it is not granted. */
  egressGrant?: EgressGrant | undefined;
}

/** A folder found in INTEGRATION_DIRS with its manifest read, before it is built. */
export interface Found {
  candidate: Candidate;
  manifest: Awaited<ReturnType<typeof loadManifest>>;
  overrides: string[];
}

export interface RegistryDeps {
  sql: Pool;
  log: Logger;
  config: Pick<Config, 'integrationDirs' | 'policyPath'>;
  masterKey: Buffer;
  /** The gateway's environment, read for settings by their declared names only. */
  env: NodeJS.ProcessEnv;
  /** Passed to background processes as SWITCHBOARD_URL (known once the gateway listens). */
  gatewayUrl: () => string;
  /** Mints the gateway's own token for an HTTP integration (its requests outside any task). */
  gatewayToken?: (integration: string) => Promise<string>;
  /** This gateway instance: its processes' API keys are its own (keys/integration-key.ts). */
  instance?: string;
  /** Announces tool approvals to every gateway on the database (tool-pinning.ts). */
  bus?: EventBus;
  /**
   * The egress proxy (egress/start.ts), started once the gateway listens (its API is relayed to
   * isolated programs); undefined with SWITCHBOARD_EGRESS=off.
   */
  egress?: () => IntegrationEgress | undefined;
  /** Told each time a stdio server of `integration` is started again (the restarts metric). */
  onUpstreamRestart?: (integration: string) => void;
}

/**
 * How long an HTTP server started by the integration's own process may take to answer: the
 * compiled servers/chat answered initialize 1.7 s after its spawn on 2 cores under a load of 15
 * (3.6 s when it ran through tsx), so 15 s leaves room for a slow machine and for a server run
 * through a TypeScript loader without hiding one that never comes up.
 */
export const PROCESS_STARTUP_MS = 15_000;

/**
 * An HTTP server run by the integration's own process is not up yet when the process has just
 * been spawned: until PROCESS_STARTUP_MS has passed, "cannot reach" is retried with the restart
 * backoff (100 ms × 1.5) while the integration stays `starting`.
 */
export async function listToolsWithRetry(
  item: Integration,
  upstream: UpstreamPool,
  log: Logger,
  isCurrent: () => boolean,
) {
  const list = async () =>
    (
      await upstream.request((client, timeout) =>
        readToolCatalog(item.name, toolPages(client, timeout), log),
      )
    ).tools;
  const ownServer = item.manifest?.server.transport === 'http' && item.processes.length > 0;
  if (!ownServer) return list();
  const deadline = Date.now() + PROCESS_STARTUP_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await list();
    } catch (error) {
      const unavailable = (error as { code?: unknown }).code === 'upstream_unavailable';
      const current = isCurrent();
      if (!unavailable || !current || Date.now() >= deadline) throw error;
      await delay(restartDelay(DEFAULT_BACKOFF, attempt));
    }
  }
}

/** Stops its server instances and background processes. */
export async function stopItem(item: Integration): Promise<void> {
  await Promise.all([item.upstream?.stop(), ...item.processes.map((p) => p.stop())]);
}

/** A freshly found integration, before its manifest, policy and server are judged. */
export function startingItem(
  name: string,
  dir: string,
  overrides: Integration['overrides'],
): Integration {
  return {
    name,
    dir,
    manifest: undefined,
    state: 'starting',
    reasons: [],
    lastError: undefined,
    tools: [],
    settings: [],
    upstream: undefined,
    processes: [],
    overrides,
  };
}
