import type { Capability } from '@switchboard/sdk';
import { appendAudit } from '../audit/store.ts';
import type { Pool } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import { generateApiKey } from './format.ts';
import type { Scope } from './scopes.ts';
import {
  type ApiKeyRow,
  insertApiKey,
  revokeInstanceKeys,
  revokeIntegrationKeys,
  revokeOtherIntegrationKeys,
} from './store.ts';

/** What each capability lets the key do through the API; a capability not listed adds nothing. */
const CAPABILITY_SCOPES: Partial<Record<Capability, readonly Scope[]>> = {
  'sessions.write': ['sessions:write'],
  'storage.kv': ['kv:read', 'kv:write'],
  documents: ['documents:read', 'documents:write'],
};

/**
 * The scopes of an integration's key: those of its capabilities (all of them granted, or it
 * would not run: policy decide()), in the order of the capabilities; empty when none calls for
 * one.
 */
export function integrationKeyScopes(capabilities: readonly Capability[]): Scope[] {
  const scopes = new Set(capabilities.flatMap((c) => CAPABILITY_SCOPES[c] ?? []));
  return [...scopes];
}

/**
 * Capabilities its MCP server uses through the API (its stdio server then receives
 * SWITCHBOARD_URL, SWITCHBOARD_INTEGRATION and SWITCHBOARD_API_KEY; integrations/launch.ts).
 */
export const SERVER_KEY_CAPABILITIES: readonly Capability[] = ['storage.kv', 'documents'];

export function serverNeedsKey(capabilities: readonly Capability[]): boolean {
  return capabilities.some((c) => SERVER_KEY_CAPABILITIES.includes(c));
}

const SYSTEM = { actor: 'system' } as const;

/**
 * The API key an integration's programs receive as SWITCHBOARD_API_KEY: source 'integration',
 * named `integration:<name>`, with the scopes its granted capabilities call for and no more
 * (integrationKeyScopes). With sessions:write, on top of the scope, only sessions whose key starts
 * with `<name>:` (a chat listener posts into `chat:room-1`, never into `github:…`); with kv:* and
 * documents:*, only its own namespace (api/namespace-access.ts).
 * One active key per integration and gateway instance: each build revokes that instance's
 * previous ones in the same transaction, so a reload leaves no older key valid. Keys are owned
 * by the instance that made them (created_by `gateway:<instance>`): with two replicas on one
 * database each runs its own processes, and one replica's start must not revoke the keys the
 * other's processes hold. A clean shutdown revokes its instance's keys (retireInstanceKeys).
 *
 * `scopes`: integrationKeyScopes of its capabilities (the registry's call); tests pass their own.
 */
export async function provisionIntegrationKey(
  sql: Pool,
  integration: string,
  instance = 'gateway',
  scopes: readonly Scope[] = ['sessions:write'],
): Promise<{ key: string; prefix: string }> {
  const generated = generateApiKey(integration);
  const createdBy = `gateway:${instance}`;
  await sql.begin(async (tx) => {
    const revoked = await revokeIntegrationKeys(tx, integration, createdBy);
    const row = await insertApiKey(tx, {
      prefix: generated.prefix,
      hash: generated.hash,
      name: `integration:${integration}`,
      scopes: [...scopes],
      source: 'integration',
      integration,
      createdBy,
    });
    // The prefix only: the key itself is in the process's environment and nowhere else.
    await appendAudit(tx, {
      ...SYSTEM,
      action: 'keys.provision',
      target: row.prefix,
      details: { integration, scopes: row.scopes, revoked: revoked.map((r) => r.prefix) },
    });
  });
  return { key: generated.key, prefix: generated.prefix };
}

/** Revokes the integration's keys once it runs no process (refused, failed, removed, no processes). */
export async function retireIntegrationKeys(
  sql: Pool,
  integration: string,
  instance = 'gateway',
): Promise<void> {
  await sql.begin(async (tx) =>
    auditRevoked(tx, await revokeIntegrationKeys(tx, integration, `gateway:${instance}`)),
  );
}

/** A clean shutdown: the keys of this instance's processes, which are stopped now. */
export async function retireInstanceKeys(sql: Pool, instance = 'gateway'): Promise<void> {
  await sql.begin(async (tx) =>
    auditRevoked(tx, await revokeInstanceKeys(tx, `gateway:${instance}`)),
  );
}

/**
 * Revokes the keys of integrations that are no longer found at all: one removed while the
 * gateway was down has no build left that would revoke them.
 */
export async function retireKeysExcept(sql: Pool, integrations: string[]): Promise<void> {
  await sql.begin(async (tx) =>
    auditRevoked(tx, await revokeOtherIntegrationKeys(tx, integrations)),
  );
}

async function auditRevoked(tx: Parameters<typeof appendAudit>[0], rows: ApiKeyRow[]) {
  for (const row of rows) {
    await appendAudit(tx, {
      ...SYSTEM,
      action: 'keys.revoke',
      target: row.prefix,
      details: { integration: row.integration, reason: 'the integration runs no process' },
    });
  }
}

/**
 * What an integration key may touch beyond its scope: sessions of its own integration. Keys of
 * any other source (integration null) pass unchanged.
 */
export function requireOwnSession(
  apiKey: { integration: string | null } | undefined,
  sessionKey: string,
): void {
  const integration = apiKey?.integration;
  if (!integration || sessionKey.startsWith(`${integration}:`)) return;
  throw new SwitchboardError(
    'forbidden',
    `this API key belongs to integration ${integration}: it may only post into sessions whose key starts with "${integration}:"`,
    // Not the session's key: it would tell the integration about another one's sessions.
    { details: { integration } },
  );
}
