import { settingEnvName } from '@switchboard/sdk';
import { decryptSecret } from '../secrets/cipher.ts';
import type { SettingRow } from './store.ts';

/** One declared setting, as the manifest states it. */
export interface SettingDeclaration {
  key: string;
  secret: boolean;
  required: boolean;
  default?: string | undefined;
  /** `port`: when nothing else sets it, the gateway picks a free port (auto-port.ts). */
  auto?: 'port' | undefined;
}

export type SettingSource = 'database' | 'environment' | 'policy' | 'default' | 'auto';

export interface ResolvedSetting {
  key: string;
  secret: boolean;
  required: boolean;
  value: string | undefined;
  source: SettingSource | undefined;
}

/**
 * Each declared setting from the first place that has it: a value set by an operator (DB) →
 * the gateway's environment, by the integration's own variable only (env-name.ts; never the
 * key's plain name, which could be one of the gateway's own) → the policy's development values →
 * the manifest's default. Undeclared rows and variables are ignored: an integration sees only
 * what it declared.
 */
export function resolveSettings(
  integration: string,
  declared: SettingDeclaration[],
  sources: {
    rows: SettingRow[];
    env: NodeJS.ProcessEnv;
    policy: Record<string, string> | undefined;
    masterKey: Buffer;
  },
): ResolvedSetting[] {
  const rows = new Map(sources.rows.map((r) => [r.key, r]));
  return declared.map((d) => {
    const row = rows.get(d.key);
    const candidates: Array<[SettingSource, string | undefined]> = [
      ['database', row ? rowValue(integration, row, sources.masterKey) : undefined],
      ['environment', sources.env[settingEnvName(integration, d.key)]],
      ['policy', sources.policy?.[d.key]],
      ['default', d.default],
    ];
    const found = candidates.find(([, v]) => v !== undefined && v !== '');
    return {
      key: d.key,
      secret: d.secret,
      required: d.required,
      value: found?.[1],
      source: found?.[0],
    };
  });
}

function rowValue(integration: string, row: SettingRow, masterKey: Buffer): string | undefined {
  if (!row.secret) return row.valuePlain ?? undefined;
  if (!row.valueEncrypted) return undefined;
  return decryptSecret(masterKey, row.valueEncrypted, `${integration}/${row.key}`);
}

/**
 * For lists and APIs: secrets, and every value from the environment (whoever put it there did
 * not mean it for the API, secret or not), are shown as set or not, never by value.
 */
export function maskedSettings(resolved: ResolvedSetting[]) {
  return resolved.map((s) => ({
    key: s.key,
    secret: s.secret,
    required: s.required,
    source: s.source ?? null,
    value:
      s.value === undefined ? null : s.secret || s.source === 'environment' ? '******' : s.value,
  }));
}
