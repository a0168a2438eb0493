import path from 'node:path';
import { decide, type Refusal } from '@switchboard/policy';
import {
  formatManifestErrors,
  loadManifest,
  type Manifest,
  settingEnvName,
} from '@switchboard/sdk';
import { discoverCandidates } from '../../integrations/discover.ts';
import { judgeFolder } from '../../integrations/folder-pin.ts';
import { unusableSigningSecrets } from '../../integrations/judge.ts';
import { createLogger } from '../../log.ts';
import { fillAutoPorts } from '../../settings/auto-port.ts';
import { type ResolvedSetting, resolveSettings } from '../../settings/resolve.ts';
import { listSettings, type SettingRow } from '../../settings/store.ts';
import { findCommand } from './commands.ts';
import { type DoctorState, error, type Finding, ok, warning } from './finding.ts';
import { probeServer } from './probe.ts';

const silent = createLogger('silent');

/** The fix for one of decide()'s refusals (its message says what; this says where to change it). */
function fixFor(reason: Refusal, name: string, manifest: Manifest, policyFile: string): string {
  const at = `integrations.${name}`;
  const setting = /setting (\S+)/.exec(reason.message)?.[1];
  const secret = manifest.settings.find((s) => s.key === setting)?.secret;
  const setIt = setting
    ? secret
      ? `switchboard integrations settings set ${name} ${setting} --stdin (or set ${settingEnvName(name, setting)} in the gateway's environment)`
      : `switchboard integrations settings set ${name} ${setting}=VALUE (or set ${settingEnvName(name, setting)} in the gateway's environment)`
    : '';
  switch (reason.code) {
    case 'policy_missing':
      return `add to ${policyFile}: ${at}: { enabled: true, grants: [${manifest.capabilities.join(', ')}]${manifest.outboundHosts.length > 0 ? `, outboundHosts: [${manifest.outboundHosts.join(', ')}]` : ''} }`;
    case 'disabled':
      return `set ${at}.enabled: true in ${policyFile}`;
    case 'capability_not_granted':
      return `add the capability to ${at}.grants in ${policyFile} (or drop it from capabilities in the manifest)`;
    case 'outbound_host_not_granted':
      return `add the host to ${at}.outboundHosts in ${policyFile}`;
    case 'url_not_allowed':
      return `add the origin to ${at}.allowUrls in ${policyFile}`;
    case 'unsigned_webhook_not_allowed':
      return `set ${at}.webhooks.unsigned: true in ${policyFile}, or give the webhook a signature scheme`;
    case 'version_mismatch':
      return `update ${at}.version in ${policyFile} once you have reviewed the new version`;
    case 'hash_mismatch':
      return `update ${at}.sha256 in ${policyFile} once you have reviewed the folder's change`;
    case 'setting_missing':
      return setIt;
    case 'setting_invalid':
      return reason.message.includes('Standard Webhooks') && setting
        ? `${setIt.replace(/\bVALUE\b/, 'whsec_…')}, with the secret the sender shows (whsec_ and base64; generate one: echo whsec_$(openssl rand -base64 32))`
        : setIt;
    default:
      return `change what the message names, in the manifest or in ${policyFile}`;
  }
}

/** The programs the gateway would spawn: the stdio server and each background process. */
function commandFindings(
  check: string,
  dir: string,
  manifest: Manifest,
  env: NodeJS.ProcessEnv,
): Finding[] {
  const commands: Array<[string, string]> = [];
  if (manifest.server.transport === 'stdio')
    commands.push(['server.command', manifest.server.command]);
  for (const [index, p] of manifest.processes.entries())
    commands.push([`processes[${index}].command`, p.command]);
  const manifestFile = path.join(dir, 'switchboard.yaml');
  return commands.flatMap(([field, command]) => {
    if (findCommand(command, dir, env)) return [];
    return [
      error(
        check,
        command.includes('/')
          ? `${field} "${command}" is not an executable file in ${dir}`
          : `${field} "${command}" is not on PATH`,
        command.includes('/')
          ? `create it (and chmod +x it), or change ${field} in ${manifestFile}`
          : `install ${command} (or add its folder to the gateway's PATH), or change ${field} in ${manifestFile}`,
      ),
    ];
  });
}

async function resolved(
  state: DoctorState,
  name: string,
  manifest: Manifest,
  check: string,
): Promise<{ settings: ResolvedSetting[]; findings: Finding[] }> {
  let rows: SettingRow[] = [];
  const findings: Finding[] = [];
  if (state.sql && state.masterKey) rows = await listSettings(state.sql, name);
  try {
    const settings = resolveSettings(name, manifest.settings, {
      rows,
      env: state.env,
      policy: state.policy?.integrations[name]?.settings,
      masterKey: state.masterKey ?? Buffer.alloc(32),
    });
    return { settings: await fillAutoPorts(manifest.settings, settings), findings };
  } catch (caught) {
    findings.push(
      error(
        check,
        `a stored secret cannot be decrypted: ${(caught as Error).message}`,
        'set SWITCHBOARD_MASTER_KEY to the key the secrets were stored with, or set them again: switchboard integrations settings set NAME KEY --stdin',
      ),
    );
    return { settings: [], findings };
  }
}

/**
 * Every folder of INTEGRATION_DIRS as the registry would judge it at start, without starting
 * anything: the manifest (the `integrations validate` code: loadManifest), its commands on PATH
 * or in the folder, its settings (stored, environment, policy, default), its webhooks' signing
 * secrets (judge.ts) and the policy's decide() with all of it: the refusal reasons the gateway
 * would give, each with its fix. Tool names in handlers are checked for form by the manifest
 * schema; whether the server lists them needs the server running (integrations list shows
 * `handler_missing` then).
 */
export async function checkIntegrations(state: DoctorState): Promise<Finding[]> {
  const config = state.config;
  if (!config) return [];
  const findings: Finding[] = [];
  const candidates = discoverCandidates(config.integrationDirs, silent);
  if (candidates.length === 0) {
    findings.push(
      warning(
        'integrations',
        `no integration folder (a folder with switchboard.yaml) in INTEGRATION_DIRS=${config.integrationDirs.join(':')}`,
        'set INTEGRATION_DIRS to the folder(s) holding your integrations, colon-separated',
      ),
    );
  }
  const seen = new Map<string, string>();
  for (const candidate of candidates) {
    const loaded = await loadManifest(candidate.dir);
    if (!loaded.ok) {
      seen.set(candidate.folder, candidate.dir);
      findings.push(
        error(
          `integration ${candidate.folder}`,
          `manifest invalid:\n${formatManifestErrors(loaded.errors)}`,
          `fix each field named in ${loaded.file}, then: switchboard integrations validate ${candidate.dir}`,
        ),
      );
      continue;
    }
    const manifest = loaded.manifest;
    const name = manifest.name;
    const check = `integration ${name}`;
    const earlier = seen.get(name);
    if (earlier) {
      findings.push(
        warning(
          check,
          `${candidate.dir} overrides ${earlier} (same name, later in INTEGRATION_DIRS)`,
          `rename one of them (name in switchboard.yaml), or drop one root from INTEGRATION_DIRS`,
        ),
      );
    }
    seen.set(name, candidate.dir);
    state.integrationNames.add(name);
    const own: Finding[] = commandFindings(check, candidate.dir, manifest, state.env);
    const { settings, findings: settingProblems } = await resolved(state, name, manifest, check);
    own.push(...settingProblems);
    if (state.policy) {
      const folder = await judgeFolder(
        name,
        candidate.dir,
        manifest,
        state.policy.integrations[name]?.sha256,
        silent,
      );
      for (const reason of folder.reasons) {
        own.push(
          error(
            check,
            `${reason.code}: ${reason.message}`,
            'keep every path inside the integration folder',
          ),
        );
      }
      const decision = decide(manifest, state.policy, {
        folderSha256: folder.sha256,
        resolvedSettings: Object.fromEntries(settings.map((s) => [s.key, s.value])),
        invalidSettings: unusableSigningSecrets(manifest, settings),
      });
      if (decision.granted && state.probe && own.length === 0) {
        own.push(...(await probeServer(state, check, name, candidate.dir, manifest, settings)));
      }
      if (!decision.granted) {
        for (const reason of decision.reasons) {
          own.push(
            error(
              check,
              `${reason.code}: ${reason.message}`,
              fixFor(reason, name, manifest, config.policyPath),
            ),
          );
        }
      }
    }
    // Only a probe's success is an `ok` of its own: then both lines show.
    findings.push(
      ...(own.some((f) => f.severity !== 'ok')
        ? own
        : [
            ok(check, `${manifest.version}: manifest valid, commands found, the policy grants it`),
            ...own,
          ]),
    );
  }
  return findings;
}
