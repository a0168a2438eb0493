import type { Manifest } from '@switchboard/sdk';
import type { IntegrationPolicy } from './schema.ts';

/** What decide() grants an integration's egress (gateway/src/egress/ enforces it). */
export interface EgressDecision {
  /** `network`: its programs run where the egress proxy is the only way out. */
  isolation: 'none' | 'network';
  /** Granted hosts that may resolve to a loopback, private or link-local address. */
  privateHosts: string[];
  /** Client certificates the proxy presents, PEM texts from the named settings. */
  mtls: Array<{ host: string; certificate: string; key: string; ca?: string | undefined }>;
  /** The settings those PEM texts came from: never given to the server or its processes. */
  withheldSettings: string[];
}

export interface EgressProblem {
  code: 'setting_missing' | 'setting_invalid';
  message: string;
}

/**
 * The policy's `egress` block checked against the manifest and the resolved settings. An mTLS
 * entry must name settings the manifest declares (so they can be stored with the CLI or API,
 * encrypted) and that have values; privateHosts and mTLS hosts are within outboundHosts (the
 * schema checked that).
 */
export function decideEgress(
  manifest: Manifest,
  entry: IntegrationPolicy,
  at: string,
  values: Record<string, string | undefined>,
): { egress: EgressDecision; problems: EgressProblem[] } {
  const problems: EgressProblem[] = [];
  const declared = new Set(manifest.settings.map((s) => s.key));
  const withheld = new Set<string>();
  const mtls: EgressDecision['mtls'] = [];
  entry.egress.mtls.forEach((identity, i) => {
    const pem: Record<string, string | undefined> = {};
    for (const field of ['certificate', 'key', 'ca'] as const) {
      const key = identity[field];
      if (key === undefined) continue;
      withheld.add(key);
      const where = `${at}.egress.mtls[${i}].${field}`;
      if (!declared.has(key)) {
        problems.push({
          code: 'setting_invalid',
          message: `${where} names setting ${key}, which the manifest does not declare (declare it with secret: true)`,
        });
      } else if (values[key] === undefined || values[key] === '') {
        problems.push({
          code: 'setting_missing',
          message: `setting ${key} has no value, and ${where} needs it (a PEM text)`,
        });
      } else if (!values[key]?.includes('-----BEGIN ')) {
        problems.push({
          code: 'setting_invalid',
          message: `setting ${key} (${where}): found a value that is not PEM, expected text starting with -----BEGIN`,
        });
      } else pem[field] = values[key];
    }
    if (pem.certificate !== undefined && pem.key !== undefined) {
      mtls.push({ host: identity.host, certificate: pem.certificate, key: pem.key, ca: pem.ca });
    }
  });
  return {
    egress: {
      isolation: entry.egress.isolation,
      privateHosts: [...entry.egress.privateHosts],
      mtls,
      withheldSettings: [...withheld].sort(),
    },
    problems,
  };
}
