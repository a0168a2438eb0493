import { z } from 'zod';
import { appendAudit } from '../audit/store.ts';
import type { Pool } from '../db/connect.ts';
import { notFound } from '../errors.ts';
import { parseInput } from '../validate.ts';
import { generateApiKey } from './format.ts';
import { grantDescription, isValidGrant } from './scopes.ts';
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

export interface Actor {
  actor: string;
  apiKeyId?: string | undefined;
  requestId?: string | undefined;
}

export async function createKey(
  sql: Pool,
  input: unknown,
  source: 'cli' | 'api',
  by: Actor,
): Promise<{ key: string; apiKey: ApiKeyRow }> {
  const { name, scopes } = parseInput(newKeySchema, input, 'API key');
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
      ...by,
      action: 'keys.create',
      target: row.prefix,
      details: { name, scopes: row.scopes },
    });
    return row;
  });
  return { key: generated.key, apiKey };
}

export async function revokeKey(sql: Pool, idOrPrefix: string, by: Actor): Promise<ApiKeyRow> {
  return sql.begin(async (tx) => {
    const row = await revokeApiKey(tx, idOrPrefix);
    if (!row) throw notFound(`no API key with id or prefix ${JSON.stringify(idOrPrefix)}`);
    await appendAudit(tx, { ...by, action: 'keys.revoke', target: row.prefix });
    return row;
  });
}

export { listApiKeys as listKeys };
