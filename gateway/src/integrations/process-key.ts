import type { Manifest } from '@switchboard/sdk';
import type { Pool } from '../db/connect.ts';
import {
  provisionIntegrationKey,
  retireInstanceKeys,
  retireIntegrationKeys,
  retireKeysExcept,
} from '../keys/integration-key.ts';
import type { Logger } from '../log.ts';
import type { ResolvedSetting } from '../settings/resolve.ts';
import { missingSettings } from './launch.ts';

/**
 * The SWITCHBOARD_API_KEY of an integration's processes, provisioned each time the registry
 * (re)builds the integration. Only an integration that declares (and so was granted)
 * `sessions.write` gets one, since posting into sessions is what the key is for, and only when
 * at least one of its processes will start: a key nobody holds is one more to leak. Otherwise
 * its earlier keys are revoked, so a build that runs no process leaves none valid.
 */
export async function processApiKey(
  sql: Pool,
  log: Logger,
  name: string,
  manifest: Manifest,
  settings: ResolvedSetting[],
  instance?: string,
): Promise<string | undefined> {
  const wanted =
    manifest.capabilities.includes('sessions.write') &&
    manifest.processes.some((p) => missingSettings(p, settings).length === 0);
  if (!wanted) {
    await retireIntegrationKeys(sql, name, instance);
    return undefined;
  }
  const { key, prefix } = await provisionIntegrationKey(sql, name, instance);
  log.info({ integration: name, keyPrefix: prefix }, 'provisioned the API key of its processes');
  return key;
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
 * keys valid (scope: posting into its integrations' own sessions) until an operator revokes
 * them (`switchboard keys list` shows them with source integration); see docs/operator-guide.md.
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
