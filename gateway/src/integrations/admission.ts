import { decide, type Policy } from '@switchboard/policy';
import type { Manifest } from '@switchboard/sdk';
import { fillAutoPorts } from '../settings/auto-port.ts';
import { type ResolvedSetting, resolveSettings } from '../settings/resolve.ts';
import { listSettings } from '../settings/store.ts';
import { judgeFolder } from './folder-pin.ts';
import type { RegistryDeps } from './integration.ts';
import { unusableSigningSecrets } from './judge.ts';

/**
 * Whether an integration with a valid manifest may start, before anything of it runs: its
 * settings resolved (database, environment, policy; auto ports filled), its folder judged
 * (symlinks, `.data`/`.git`, the policy's `sha256` pin) and the policy's decide() with both.
 * registry.ts builds the integration from the answer.
 */
export async function admitIntegration(
  deps: Pick<RegistryDeps, 'sql' | 'env' | 'masterKey' | 'log'>,
  policy: Policy,
  name: string,
  dir: string,
  manifest: Manifest,
) {
  const settings: ResolvedSetting[] = await fillAutoPorts(
    manifest.settings,
    resolveSettings(name, manifest.settings, {
      rows: await listSettings(deps.sql, name),
      env: deps.env,
      policy: policy.integrations[name]?.settings,
      masterKey: deps.masterKey,
    }),
  );
  const folder = await judgeFolder(
    name,
    dir,
    manifest,
    policy.integrations[name]?.sha256,
    deps.log,
  );
  const decision = decide(manifest, policy, {
    folderSha256: folder.sha256,
    resolvedSettings: Object.fromEntries(settings.map((s) => [s.key, s.value])),
    invalidSettings: unusableSigningSecrets(manifest, settings),
  });
  return { settings, folder, decision };
}
