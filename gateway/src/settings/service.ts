import { appendAudit } from '../audit/store.ts';
import type { Pool } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import { encryptSecret } from '../secrets/cipher.ts';
import type { SettingDeclaration } from './resolve.ts';
import { upsertSetting } from './store.ts';

/**
 * Sets one declared setting of an integration. Secret values are encrypted before they leave
 * this function; the audit row records the key, never the value.
 */
export async function setSetting(
  sql: Pool,
  input: {
    integration: string;
    declared: SettingDeclaration[];
    key: string;
    value: string;
    masterKey: Buffer;
    actor: string;
    requestId?: string | undefined;
    apiKeyId?: string | undefined;
  },
): Promise<{ secret: boolean }> {
  const declaration = input.declared.find((d) => d.key === input.key);
  if (!declaration) {
    throw new SwitchboardError(
      'setting_unknown',
      `integration ${input.integration} declares no setting ${input.key}; declared: ${input.declared.map((d) => d.key).join(', ') || 'none'}`,
    );
  }
  const secret = declaration.secret;
  await sql.begin(async (tx) => {
    await upsertSetting(tx, {
      integration: input.integration,
      key: input.key,
      secret,
      valuePlain: secret ? null : input.value,
      valueEncrypted: secret
        ? encryptSecret(input.masterKey, input.value, `${input.integration}/${input.key}`)
        : null,
      updatedBy: input.actor,
    });
    await appendAudit(tx, {
      actor: input.actor,
      apiKeyId: input.apiKeyId,
      requestId: input.requestId,
      action: 'settings.set',
      target: `${input.integration}/${input.key}`,
      details: { secret },
    });
  });
  return { secret };
}
