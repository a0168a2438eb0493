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

/**
 * The API key an integration's processes receive as SWITCHBOARD_API_KEY: source 'integration',
 * named `integration:<name>`, scope sessions:write and, on top of the scope, only sessions whose
 * key starts with `<name>:` (a chat listener posts into `chat:room-1`, never into `github:…`).
 * One active key per integration and gateway instance: each build revokes that instance's
 * previous ones in the same transaction, so a reload leaves no older key valid. Keys are owned
 * by the instance that made them (created_by `gateway:<instance>`): with two replicas on one
 * database each runs its own processes, and one replica's start must not revoke the keys the
 * other's processes hold. A clean shutdown revokes its instance's keys (retireInstanceKeys).
 */
export const INTEGRATION_KEY_SCOPES: Scope[] = ['sessions:write'];

const SYSTEM = { actor: 'system' } as const;

export async function provisionIntegrationKey(
  sql: Pool,
  integration: string,
  instance = 'gateway',
): Promise<{ key: string; prefix: string }> {
  const generated = generateApiKey(integration);
  const createdBy = `gateway:${instance}`;
  await sql.begin(async (tx) => {
    const revoked = await revokeIntegrationKeys(tx, integration, createdBy);
    const row = await insertApiKey(tx, {
      prefix: generated.prefix,
      hash: generated.hash,
      name: `integration:${integration}`,
      scopes: INTEGRATION_KEY_SCOPES,
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
