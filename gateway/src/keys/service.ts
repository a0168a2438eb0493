import { z } from 'zod';
import { type AuditActor, appendAudit } from '../audit/store.ts';
import type { Pool } from '../db/connect.ts';
import { notFound, SwitchboardError } from '../errors.ts';
import { parseInput } from '../validate.ts';
import { generateApiKey } from './format.ts';
import { grantDescription, grantWithin, isValidGrant } from './scopes.ts';
import { type ApiKeyRow, insertApiKey, listApiKeys, revokeApiKey } from './store.ts';

/** Key operations shared by the CLI and the API: each change and its audit row commit together. */

export const newKeySchema = z.strictObject({
  name: z
    .string({ error: 'expected a name (a string)' })
    .trim()
    .min(1, 'expected a non-empty name')
    .max(100, 'expected at most 100 characters'),
  scopes: z
    .array(
      z.string().refine(isValidGrant, {
        error: (issue) =>
          `unknown scope ${JSON.stringify(issue.input)}: expected ${grantDescription()}`,
      }),
      { error: 'expected a list of scopes' },
    )
    .min(1, 'expected at least one scope'),
});

/**
 * A key made through the API holds at most what the key that made it holds: otherwise
 * `keys:write` alone would be `*`. The CLI has no creating key (it holds the database itself).
 */
function requireWithin(scopes: readonly string[], held: readonly string[]): void {
  const wider = [...new Set(scopes)].filter((grant) => !grantWithin(grant, held));
  if (wider.length === 0) return;
  throw new SwitchboardError(
    'forbidden',
    `this API key may only grant scopes it holds itself (${held.join(', ')}): ${wider.map((g) => JSON.stringify(g)).join(', ')} ${wider.length === 1 ? 'is' : 'are'} wider`,
    { details: { scopes: wider } },
  );
}

export async function createKey(
  sql: Pool,
  input: unknown,
  source: 'cli' | 'api',
  by: AuditActor & { scopes?: readonly string[] | undefined },
): Promise<{ key: string; apiKey: ApiKeyRow }> {
  const { name, scopes } = parseInput(newKeySchema, input, 'API key');
  if (source === 'api') requireWithin(scopes, by.scopes ?? []);
  const generated = generateApiKey();
  const apiKey = await sql.begin(async (tx) => {
    const row = await insertApiKey(tx, {
      prefix: generated.prefix,
      hash: generated.hash,
      name,
      scopes: [...new Set(scopes)],
      source,
      createdBy: by.actor,
    });
    await appendAudit(tx, {
      actor: by.actor,
      apiKeyId: by.apiKeyId,
      requestId: by.requestId,
      action: 'keys.create',
      target: row.prefix,
      details: { name, scopes: row.scopes },
    });
    return row;
  });
  return { key: generated.key, apiKey };
}

export async function revokeKey(sql: Pool, idOrPrefix: string, by: AuditActor): Promise<ApiKeyRow> {
  return sql.begin(async (tx) => {
    const row = await revokeApiKey(tx, idOrPrefix);
    if (!row) throw notFound(`no API key with id or prefix ${JSON.stringify(idOrPrefix)}`);
    await appendAudit(tx, { ...by, action: 'keys.revoke', target: row.prefix });
    return row;
  });
}

export { listApiKeys as listKeys };
