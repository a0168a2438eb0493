import path from 'node:path';
import type { Manifest } from '@switchboard/sdk';
import type { ContainedNetwork } from '../containment/netns.ts';
import type { Logger } from '../log.ts';
import type { ResolvedSetting } from '../settings/resolve.ts';
import { traceExportEnv } from '../telemetry/child-env.ts';
import { BackgroundProcess } from './background-process.ts';
import type { FloodMeter } from './upstream/flood-meter.ts';
import { HttpUpstream } from './upstream/http.ts';
import { UpstreamPool } from './upstream/pool.ts';
import { StdioUpstream } from './upstream/stdio.ts';

/**
 * What an integration's programs run with: PATH and HOME from the gateway, then the
 * integration's resolved settings. Nothing else of the gateway's environment (DATABASE_URL,
 * SWITCHBOARD_MASTER_KEY, …) ever reaches them. With tracing on, the OTLP endpoint for their
 * own spans too (telemetry/child-env.ts; never the exporter's headers), named after `name`.
 */
export function integrationEnv(
  gatewayEnv: NodeJS.ProcessEnv,
  settings: ResolvedSetting[],
  name?: string,
): Record<string, string> {
  const env: Record<string, string> = name ? traceExportEnv(name) : {};
  if (gatewayEnv.PATH) env.PATH = gatewayEnv.PATH;
  if (gatewayEnv.HOME) env.HOME = gatewayEnv.HOME;
  for (const s of settings) if (s.value !== undefined) env[s.key] = s.value;
  return env;
}

/**
 * What the gateway adds to an integration's environment so that a program of it can call the
 * API: SWITCHBOARD_URL, SWITCHBOARD_INTEGRATION and, when it was given one, SWITCHBOARD_API_KEY
 * (keys/integration-key.ts). Set after the settings: a setting of the same name never replaces
 * them. Processes always get them; the stdio server only when it uses storage.kv or documents
 * (integrations/process-key.ts), in every instance the pool starts (shared, per session, per
 * task), all with the one key.
 */
export function withGatewayEnv(
  env: Record<string, string>,
  name: string,
  gateway: { url: string; apiKey?: string | undefined },
): Record<string, string> {
  const out: Record<string, string> = {
    ...env,
    SWITCHBOARD_URL: gateway.url,
    SWITCHBOARD_INTEGRATION: name,
  };
  if (gateway.apiKey !== undefined) out.SWITCHBOARD_API_KEY = gateway.apiKey;
  else delete out.SWITCHBOARD_API_KEY;
  return out;
}

/**
 * A pinned folder is re-hashed before each spawn (folder-pin.ts), so its programs must not
 * write code into it: Python would add `__pycache__/*.pyc` on the first run (hashed, since the
 * interpreter runs them) and refuse every later spawn.
 */
export function pinnedEnv(env: Record<string, string>): Record<string, string> {
  return { ...env, PYTHONDONTWRITEBYTECODE: '1' };
}

/** Checks a pinned folder before a spawn, naming what is about to start. */
export type BeforeSpawn = (what: string) => Promise<void>;

/**
 * How one integration's programs reach the network (egress/access.ts): the proxy variables for
 * each program (a task's own instance gets credentials naming its task), and with
 * `isolation: network` the relays of its network namespace.
 */
export interface LaunchEgress {
  env: (taskId?: string) => Record<string, string>;
  network?: ContainedNetwork | undefined;
  /**
   * Settings only the proxy may hold (the PEM texts of policy egress.mtls): never in a program's
   * environment, even when a process `requires` one (it is not missing: it runs without it).
   */
  withheld?: ReadonlySet<string> | undefined;
}

/**
 * A program's environment under its egress: the withheld settings (the PEM texts of egress.mtls,
 * the proxy's alone) taken out, then the proxy variables set last, so that a setting of the same
 * name never replaces them.
 */
function withEgress(
  env: Record<string, string>,
  egress: LaunchEgress | undefined,
  taskId?: string,
): Record<string, string> {
  if (!egress) return env;
  const out = { ...env };
  for (const key of egress.withheld ?? []) delete out[key];
  return { ...out, ...egress.env(taskId) };
}

/** What every spawn of an integration's programs passes: its folder pin and its flood meter. */
export interface SpawnGuards {
  /** Re-checks a pinned folder before each spawn (folder-pin.ts); a throw refuses it. */
  beforeSpawn?: BeforeSpawn | undefined;
  /** The integration's flood meter (upstream/flood-meter.ts), shared by all its programs. */
  meter?: FloodMeter | undefined;
  /** Told each time one of its stdio servers is started again (the restarts metric). */
  onRestart?: (() => void) | undefined;
  /** The egress proxy's variables and isolation (undefined: SWITCHBOARD_EGRESS=off). */
  egress?: LaunchEgress | undefined;
}

/** A relative command (./bin/server) is the integration's own; a bare one is found on PATH. */
function resolveCommand(dir: string, command: string): string {
  return command.includes('/') ? path.resolve(dir, command) : command;
}

/** `serverUrl`: an http server's URL with its settings filled in (decide's grant). */
export function buildUpstreamPool(
  name: string,
  dir: string,
  manifest: Manifest,
  serverUrl: string | undefined,
  env: Record<string, string>,
  log: Logger,
  gatewayToken?: (integration: string) => Promise<string>,
  spawn: SpawnGuards = {},
): UpstreamPool {
  const { beforeSpawn, meter, onRestart, egress } = spawn;
  const server = manifest.server;
  // decide() grants an http server only with every placeholder of its URL filled.
  const url = serverUrl;
  if (server.transport === 'http' && url === undefined) {
    throw new Error(`integration ${name}: no server URL was granted`);
  }
  const create =
    server.transport === 'http'
      ? () =>
          new HttpUpstream(
            {
              integration: name,
              url: url as string,
              requestTimeoutMs: server.timeoutMs,
              ...(gatewayToken ? { gatewayToken: () => gatewayToken(name) } : {}),
            },
            log,
          )
      : (key: string) =>
          new StdioUpstream(
            {
              integration: name,
              command: resolveCommand(dir, server.command),
              args: server.args,
              cwd: path.resolve(dir, server.cwd ?? '.'),
              env: withEgress(
                beforeSpawn ? pinnedEnv(env) : env,
                egress,
                UpstreamPool.taskOfKey(key),
              ),
              ...(egress?.network && { network: egress.network }),
              requestTimeoutMs: server.timeoutMs,
              ...(beforeSpawn && { beforeSpawn: () => beforeSpawn('the server') }),
              ...(meter && { meter }),
              ...(onRestart && { onRestart }),
            },
            log,
          );
  return new UpstreamPool(
    { integration: name, mode: server.instances, create, ...(meter && { meter }) },
    log,
  );
}

/** Settings in a process's `requires` that resolved to nothing: it waits for them. */
export function missingSettings(
  entry: Manifest['processes'][number],
  settings: ResolvedSetting[],
): string[] {
  const values = new Map(settings.map((s) => [s.key, s.value]));
  return entry.requires.filter((key) => values.get(key) === undefined);
}

/**
 * The manifest's `processes`. Each receives PATH, HOME, SWITCHBOARD_URL, SWITCHBOARD_INTEGRATION,
 * SWITCHBOARD_API_KEY when the integration was given one, and exactly the settings its
 * `requires` names (least privilege: a listener that needs an API token does not also get the
 * webhook secret). It starts once all of them resolve; until then it is `waiting`, naming them,
 * and a reload that finds them set starts it.
 */
export function buildProcesses(
  name: string,
  dir: string,
  manifest: Manifest,
  settings: ResolvedSetting[],
  gateway: { env: NodeJS.ProcessEnv; url: string; apiKey?: string | undefined },
  log: Logger,
  spawn: SpawnGuards = {},
): BackgroundProcess[] {
  const { beforeSpawn, meter, egress } = spawn;
  const values = new Map(settings.map((s) => [s.key, s.value]));
  return manifest.processes.map((p) => {
    const env = integrationEnv(gateway.env, [], name);
    for (const key of p.requires) {
      const value = values.get(key);
      if (value !== undefined) env[key] = value;
    }
    const full = withEgress(withGatewayEnv(env, name, gateway), egress);
    return new BackgroundProcess(
      {
        integration: name,
        name: p.name,
        command: resolveCommand(dir, p.command),
        args: p.args,
        cwd: dir,
        env: beforeSpawn ? pinnedEnv(full) : full,
        missing: missingSettings(p, settings),
        ...(egress?.network && { network: egress.network }),
        ...(beforeSpawn && { beforeSpawn: () => beforeSpawn(`process ${p.name}`) }),
        meter,
      },
      log,
    );
  });
}
