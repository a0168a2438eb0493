import type { Manifest } from '@switchboard/sdk';
import type { Pool } from '../db/connect.ts';
import {
  integrationKeyScopes,
  provisionIntegrationKey,
  retireInstanceKeys,
  retireIntegrationKeys,
  retireKeysExcept,
  serverNeedsKey,
} from '../keys/integration-key.ts';
import type { Logger } from '../log.ts';
import type { ResolvedSetting } from '../settings/resolve.ts';
import { missingSettings } from './launch.ts';

/**
 * The SWITCHBOARD_API_KEY of an integration's programs, provisioned each time the registry
 * (re)builds the integration, with the scopes of its granted capabilities and no more
 * (keys/integration-key.ts integrationKeyScopes: sessions.write, storage.kv, documents). Its
 * processes receive it when at least one of them will start; its stdio server receives it when
 * it uses storage.kv or documents (serverNeedsKey). A key nobody would hold is one more to leak:
 * then none is provisioned, and its earlier keys are revoked, so a build that runs no holder
 * leaves none valid.
 */
export async function integrationApiKey(
  sql: Pool,
  log: Logger,
  name: string,
  manifest: Manifest,
  settings: ResolvedSetting[],
  instance?: string,
): Promise<{ key: string; forServer: boolean; forProcesses: boolean } | undefined> {
  const scopes = integrationKeyScopes(manifest.capabilities);
  const forProcesses = manifest.processes.some((p) => missingSettings(p, settings).length === 0);
  // An http server is not spawned by the gateway: it has no environment to put the key in.
  const forServer = manifest.server.transport === 'stdio' && serverNeedsKey(manifest.capabilities);
  if (scopes.length === 0 || !(forProcesses || forServer)) {
    await retireIntegrationKeys(sql, name, instance);
    return undefined;
  }
  const { key, prefix } = await provisionIntegrationKey(sql, name, instance, scopes);
  log.info(
    { integration: name, keyPrefix: prefix, scopes },
    'provisioned the API key of its programs',
  );
  return { key, forServer, forProcesses };
}

/**
 * Revokes the integration's keys when it is refused, failed to build or removed. A failure is
 * logged, not thrown: the integration is already out of service, and the next build retries.
 * Only this gateway instance's keys: another replica's processes keep theirs.
 */
export async function retireProcessKey(
  sql: Pool,
  log: Logger,
  name: string,
  instance?: string,
): Promise<void> {
  try {
    await retireIntegrationKeys(sql, name, instance);
  } catch (error) {
    log.warn({ integration: name, err: error }, 'could not revoke the API key of its processes');
  }
}

/**
 * At shutdown, once the processes are stopped. A gateway killed without a shutdown leaves its
 * keys valid (the scopes of its grants, in its own sessions and namespace only) until an
 * operator revokes them (`switchboard keys list` shows them with source integration); see
 * docs/operator-guide.md.
 */
export async function retireProcessKeysOf(
  sql: Pool,
  log: Logger,
  instance?: string,
): Promise<void> {
  try {
    await retireInstanceKeys(sql, instance);
  } catch (error) {
    log.warn({ err: error }, 'could not revoke the API keys of the stopped processes');
  }
}

/** At each full discovery: the keys of integrations no longer found (removed while down). */
export async function retireUnknownProcessKeys(
  sql: Pool,
  log: Logger,
  names: string[],
): Promise<void> {
  try {
    await retireKeysExcept(sql, names);
  } catch (error) {
    log.warn({ err: error }, 'could not revoke the API keys of removed integrations');
  }
}
