import {
  type Capability,
  fillPlaceholders,
  HTTP_URL_EXPECTED,
  isHttpUrl,
  type Manifest,
  type ManifestError,
  placeholdersOf,
  settingEnvName,
} from '@switchboard/sdk';
import { decideEgress, type EgressDecision } from './egress-grant.ts';
import type { Policy } from './schema.ts';

/**
 * Whether one integration may run, and with what: a pure function of its manifest, the policy
 * and facts the caller gathered (folder hash, resolved settings). It collects every reason at
 * once, so an operator fixes a refusal in one pass instead of one restart per reason.
 */

export const REFUSAL_CODES = [
  'manifest_invalid',
  'policy_missing',
  'disabled',
  'version_mismatch',
  'hash_mismatch',
  'capability_not_granted',
  'outbound_host_not_granted',
  'url_not_allowed',
  'unsigned_webhook_not_allowed',
  'setting_missing',
  'setting_invalid',
] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

export interface Refusal {
  code: RefusalCode;
  message: string;
}

export interface Grant {
  granted: true;
  name: string;
  /** The capabilities the manifest requested (all of them granted): never more than asked. */
  grants: Capability[];
  /** The hosts the manifest requested (all of them granted). */
  outboundHosts: string[];
  /** How those hosts are reached: isolation, private addresses, client certificates. */
  egress: EgressDecision;
  /** An http server's URL with its `${KEY}` placeholders filled in (the one the gateway calls). */
  serverUrl: string | undefined;
  /** Each declared setting that has a value, by key. */
  settings: Record<string, string>;
  /** The policy allows this integration's scheme-none webhooks. */
  unsignedWebhooks: boolean;
  rateLimit: { requestsPerMinute: number } | undefined;
}

export interface Refused {
  granted: false;
  reasons: Refusal[];
}

export type Decision = Grant | Refused;

export interface DecisionContext {
  /** The integration folder's sha256; needed only when the policy pins one. */
  folderSha256?: string;
  /**
   * Final value of each declared setting, as the caller resolved it (database → environment
   * → policy development value → manifest default). Empty strings count as unset.
   */
  resolvedSettings: Record<string, string | undefined>;
  /**
   * Values the caller found unusable with what it knows and decide does not (e.g. a signing
   * secret its webhook scheme cannot use): each becomes a `setting_invalid` reason.
   */
  invalidSettings?: InvalidSetting[];
}

/** A resolved setting value that cannot work. The value itself is never part of it (it may be secret). */
export interface InvalidSetting {
  key: string;
  /** What uses the value, e.g. `webhooks[0] "events", scheme standard`. */
  usedBy: string;
  /** `found …, expected …`, without the value. */
  problem: string;
}

// A refusal reason is one line in `switchboard integrations list`: five errors fit, and the
// count says how many more the manifest has.
const MAX_LISTED_ERRORS = 5;

function invalidManifest(errors: readonly ManifestError[]): Refusal {
  const file = errors[0]?.file ?? 'switchboard.yaml';
  const listed = errors
    .slice(0, MAX_LISTED_ERRORS)
    .map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
  const more = errors.length - listed.length;
  return {
    code: 'manifest_invalid',
    message: `${file} is invalid (${errors.length} error${errors.length === 1 ? '' : 's'}): ${listed.join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
  };
}

function isPort(value: string): boolean {
  return /^[0-9]{1,5}$/.test(value) && Number(value) >= 1 && Number(value) <= 65_535;
}

/** An invalid manifest is always refused, whatever the policy says. */
export function decide(
  manifest: { invalid: ManifestError[] },
  policy: Policy,
  context: DecisionContext,
): Refused;
export function decide(
  manifest: Manifest | { invalid: ManifestError[] },
  policy: Policy,
  context: DecisionContext,
): Decision;
export function decide(
  manifest: Manifest | { invalid: ManifestError[] },
  policy: Policy,
  context: DecisionContext,
): Decision {
  if ('invalid' in manifest)
    return { granted: false, reasons: [invalidManifest(manifest.invalid)] };
  const { name } = manifest;
  const entry = policy.integrations[name];
  const at = `integrations.${name}`;
  if (!entry) {
    return {
      granted: false,
      reasons: [
        {
          code: 'policy_missing',
          message: `the policy has no entry ${at}; add one with enabled: true and the grants its manifest requests`,
        },
      ],
    };
  }

  const reasons: Refusal[] = [];
  const refuse = (code: RefusalCode, message: string) => reasons.push({ code, message });

  if (!entry.enabled) refuse('disabled', `${at}.enabled is not true in the policy`);

  if (entry.version !== undefined && entry.version !== manifest.version) {
    refuse(
      'version_mismatch',
      `the policy pins ${at}.version "${entry.version}" but the manifest is version "${manifest.version}"`,
    );
  }

  if (entry.sha256 !== undefined) {
    const actual = context.folderSha256?.toLowerCase();
    if (actual !== entry.sha256) {
      refuse(
        'hash_mismatch',
        actual === undefined
          ? `the policy pins ${at}.sha256 ${entry.sha256} but no folder hash was computed`
          : `the policy pins ${at}.sha256 ${entry.sha256} but the folder hashes to ${actual}`,
      );
    }
  }

  for (const capability of manifest.capabilities) {
    if (!entry.grants.includes(capability)) {
      refuse(
        'capability_not_granted',
        `the manifest requests capability "${capability}" but ${at}.grants does not include it`,
      );
    }
  }

  for (const host of manifest.outboundHosts) {
    if (!entry.outboundHosts.includes(host)) {
      refuse(
        'outbound_host_not_granted',
        `the manifest requests outbound host "${host}" but ${at}.outboundHosts does not include it`,
      );
    }
  }

  const invalid: InvalidSetting[] = [...(context.invalidSettings ?? [])];
  const values = context.resolvedSettings;
  let serverUrl: string | undefined;
  if (manifest.server.transport === 'http') {
    const template = manifest.server.url;
    const keys = placeholdersOf(template);
    const url = fillPlaceholders(template, values);
    if (url !== undefined && !isHttpUrl(url)) {
      for (const key of keys) {
        invalid.push({
          key,
          usedBy: 'in server.url',
          problem: `found a server URL that is not valid once ${keys.map((k) => `\${${k}}`).join(', ')} ${keys.length === 1 ? 'is' : 'are'} filled in, expected ${HTTP_URL_EXPECTED}`,
        });
      }
    } else if (url === undefined) {
      // A required one is reported as missing below; the manifest rules leave only an empty default.
      for (const key of keys) {
        const required = manifest.settings.find((s) => s.key === key)?.required;
        if (!required && (values[key] === undefined || values[key] === '')) {
          refuse('setting_missing', `setting ${key} has no value, and server.url needs it`);
        }
      }
    } else {
      serverUrl = url;
      const origin = new URL(url).origin;
      const allowed = (entry.allowUrls ?? []).map((allow) => fillPlaceholders(allow, values));
      if (!allowed.includes(origin)) {
        refuse(
          'url_not_allowed',
          `the server URL ${url} has origin ${origin}, which ${at}.allowUrls does not list`,
        );
      }
    }
  }

  const unsignedWebhooks = entry.webhooks?.unsigned === true;
  for (const webhook of manifest.webhooks) {
    if (webhook.verify.scheme === 'none' && !unsignedWebhooks) {
      refuse(
        'unsigned_webhook_not_allowed',
        `webhook "${webhook.name}" uses scheme none (unsigned) but ${at}.webhooks.unsigned is not true`,
      );
    }
  }

  const settings: Record<string, string> = {};
  for (const setting of manifest.settings) {
    const value = context.resolvedSettings[setting.key];
    if (value !== undefined && value !== '') {
      settings[setting.key] = value;
      if (setting.auto === 'port' && !isPort(value)) {
        invalid.push({
          key: setting.key,
          usedBy: 'auto: port',
          problem: 'found a value that is not a TCP port, expected a whole number from 1 to 65535',
        });
      }
    } else if (setting.required) {
      refuse(
        'setting_missing',
        `required setting ${setting.key} has no value; set it with the CLI or API, or in the gateway's environment as ${settingEnvName(name, setting.key)}`,
      );
    }
  }

  for (const setting of invalid) {
    refuse(
      'setting_invalid',
      `setting ${setting.key} of integration ${name} (${setting.usedBy}): ${setting.problem}`,
    );
  }

  const { egress, problems } = decideEgress(manifest, entry, at, context.resolvedSettings);
  for (const problem of problems) refuse(problem.code, problem.message);

  if (reasons.length > 0) return { granted: false, reasons };
  return {
    granted: true,
    name,
    grants: [...manifest.capabilities],
    outboundHosts: [...manifest.outboundHosts],
    egress,
    serverUrl,
    settings,
    unsignedWebhooks,
    rateLimit: entry.rateLimit,
  };
}
