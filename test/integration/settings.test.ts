import { settingEnvName } from '@switchboard/sdk';
import { describe, expect, it } from 'vitest';
import { maskedSettings, resolveSettings } from '../../gateway/src/settings/resolve.ts';
import { setSetting } from '../../gateway/src/settings/service.ts';
import { listSettings } from '../../gateway/src/settings/store.ts';
import { useMigratedDatabase } from '../helpers/database.ts';

const masterKey = Buffer.alloc(32, 9);
const declared = [
  { key: 'GITHUB_TOKEN', secret: true, required: true },
  { key: 'GITHUB_API_URL', secret: false, required: false, default: 'https://api.github.com' },
];

describe('integration settings in the database', () => {
  const database = useMigratedDatabase();

  it('stores a secret only encrypted, audits the key but not the value, and resolves it back', async () => {
    await setSetting(database().sql, {
      integration: 'github',
      declared,
      key: 'GITHUB_TOKEN',
      value: 'ghp_topsecret',
      masterKey,
      actor: 'cli:t',
    });
    await setSetting(database().sql, {
      integration: 'github',
      declared,
      key: 'GITHUB_API_URL',
      value: 'http://127.0.0.1:9999',
      masterKey,
      actor: 'cli:t',
    });
    const dump = await database().sql`select to_jsonb(s)::text as row from settings s`;
    expect(dump.some((r) => (r.row as string).includes('ghp_topsecret'))).toBe(false);
    const audit = await database().sql`select action, target, details from audit_log order by id`;
    expect(audit).toEqual([
      { action: 'settings.set', target: 'github/GITHUB_TOKEN', details: { secret: true } },
      { action: 'settings.set', target: 'github/GITHUB_API_URL', details: { secret: false } },
    ]);
    const resolved = resolveSettings('github', declared, {
      rows: await listSettings(database().sql, 'github'),
      env: {},
      policy: undefined,
      masterKey,
    });
    expect(resolved.map((r) => [r.key, r.value, r.source])).toEqual([
      ['GITHUB_TOKEN', 'ghp_topsecret', 'database'],
      ['GITHUB_API_URL', 'http://127.0.0.1:9999', 'database'],
    ]);
  });

  it('refuses a key the integration does not declare, naming the declared ones', async () => {
    await expect(
      setSetting(database().sql, {
        integration: 'github',
        declared,
        key: 'NOPE',
        value: 'x',
        masterKey,
        actor: 'cli:t',
      }),
    ).rejects.toMatchObject({
      code: 'setting_unknown',
      message:
        'integration github declares no setting NOPE; declared: GITHUB_TOKEN, GITHUB_API_URL',
    });
  });

  it('takes environment values only from SWITCHBOARD_SETTING_<NAME>__<KEY>, and masks them', () => {
    const resolve = (integration: string, env: NodeJS.ProcessEnv) =>
      resolveSettings(integration, declared, { rows: [], env, policy: undefined, masterKey });
    // The plain name is the gateway's own business (it might be DATABASE_URL): never read.
    expect(
      resolve('github', { GITHUB_TOKEN: 'plain', GITHUB_API_URL: 'plain' }).map((r) => [
        r.key,
        r.value,
        r.source,
      ]),
    ).toEqual([
      ['GITHUB_TOKEN', undefined, undefined],
      ['GITHUB_API_URL', 'https://api.github.com', 'default'],
    ]);
    const resolved = resolve('git-hub', {
      SWITCHBOARD_SETTING_GIT_HUB__GITHUB_TOKEN: 'ghp_env',
      SWITCHBOARD_SETTING_GIT_HUB__GITHUB_API_URL: 'http://127.0.0.1:7000',
    });
    expect(resolved.map((r) => [r.key, r.value, r.source])).toEqual([
      ['GITHUB_TOKEN', 'ghp_env', 'environment'],
      ['GITHUB_API_URL', 'http://127.0.0.1:7000', 'environment'],
    ]);
    // Not a secret, but from the environment: masked like one.
    expect(maskedSettings(resolved).map((s) => s.value)).toEqual(['******', '******']);
  });

  it('maps (integration, key) to one variable each: the first __ ends the name', () => {
    expect(settingEnvName('github', 'GITHUB_TOKEN')).toBe(
      'SWITCHBOARD_SETTING_GITHUB__GITHUB_TOKEN',
    );
    expect(settingEnvName('my-tool-2', 'API__URL')).toBe('SWITCHBOARD_SETTING_MY_TOOL_2__API__URL');
    // With one _ between them these two would share SWITCHBOARD_SETTING_FOO_BAR_BAZ.
    expect(settingEnvName('foo', 'BAR_BAZ')).not.toBe(settingEnvName('foo-bar', 'BAZ'));
  });
});
