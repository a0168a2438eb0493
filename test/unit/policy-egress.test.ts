import { decide, type Policy, parsePolicy } from '@switchboard/policy';
import { type Manifest, parseManifest } from '@switchboard/sdk';
import { describe, expect, it } from 'vitest';

// Issue 21: the policy's `egress` block (isolation, privateHosts, mtls) and what decide() grants.

const MANIFEST = `apiVersion: switchboard/v1
name: bank
version: 1.0.0
description: calls a bank API with a client certificate
server: { transport: stdio, command: node, args: [server.js] }
settings:
  - { key: BANK_CERT, secret: true, required: false }
  - { key: BANK_KEY, secret: true, required: false }
  - { key: BANK_CA, secret: true, required: false }
capabilities: [http.outbound]
outboundHosts: [api.bank.test, internal.bank.test:8443]
`;

const PEM = (what: string) => `-----BEGIN ${what}-----\nAAAA\n-----END ${what}-----\n`;
const SETTINGS = {
  BANK_CERT: PEM('CERTIFICATE'),
  BANK_KEY: PEM('PRIVATE KEY'),
  BANK_CA: PEM('CERTIFICATE'),
};

function manifest(): Manifest {
  const parsed = parseManifest(MANIFEST, 'switchboard.yaml');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.manifest;
}

function policy(egress: string): ReturnType<typeof parsePolicy> {
  return parsePolicy(
    `apiVersion: switchboard/policy/v1
integrations:
  bank:
    enabled: true
    grants: [http.outbound]
    outboundHosts: [api.bank.test, internal.bank.test:8443]
${egress}`,
    'policy.yaml',
  );
}

function parsed(egress: string): Policy {
  const result = policy(egress);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.policy;
}

describe('policy egress', () => {
  it('defaults to no isolation, no private hosts, no client certificates', () => {
    const decision = decide(manifest(), parsed(''), { resolvedSettings: {} });
    expect(decision).toMatchObject({
      granted: true,
      outboundHosts: ['api.bank.test', 'internal.bank.test:8443'],
      egress: { isolation: 'none', privateHosts: [], mtls: [], withheldSettings: [] },
    });
  });

  it('grants isolation, private hosts and an mTLS identity with its PEM texts, withholding the settings', () => {
    const decision = decide(
      manifest(),
      parsed(`    egress:
      isolation: network
      privateHosts: [internal.bank.test:8443]
      mtls:
        - { host: api.bank.test, certificate: BANK_CERT, key: BANK_KEY, ca: BANK_CA }
`),
      { resolvedSettings: SETTINGS },
    );
    expect(decision).toMatchObject({
      granted: true,
      egress: {
        isolation: 'network',
        privateHosts: ['internal.bank.test:8443'],
        mtls: [
          {
            host: 'api.bank.test',
            certificate: SETTINGS.BANK_CERT,
            key: SETTINGS.BANK_KEY,
            ca: SETTINGS.BANK_CA,
          },
        ],
        withheldSettings: ['BANK_CA', 'BANK_CERT', 'BANK_KEY'],
      },
    });
  });

  it('refuses privateHosts and mTLS hosts outside outboundHosts where they are written', () => {
    const result = policy(`    egress:
      privateHosts: [api.bank.test, metadata.google.internal]
      mtls:
        - { host: other.test, certificate: BANK_CERT, key: BANK_KEY }
        - { host: api.bank.test, certificate: BANK_CERT, key: BANK_KEY }
        - { host: api.bank.test, certificate: BANK_CERT, key: BANK_KEY }
`);
    expect(result.ok).toBe(false);
    const errors = result.ok ? [] : result.errors.map((e) => `${e.path}: ${e.message}`);
    expect(errors).toEqual([
      'integrations.bank.egress.privateHosts[1]: found "metadata.google.internal", expected a host of outboundHosts (api.bank.test, internal.bank.test:8443)',
      'integrations.bank.egress.mtls[0].host: found "other.test", expected a host of outboundHosts (api.bank.test, internal.bank.test:8443)',
      'integrations.bank.egress.mtls[2].host: found "api.bank.test", expected one entry per host; this one is listed twice',
    ]);
  });

  it('refuses a misspelt isolation mode and unknown keys', () => {
    const result = policy(`    egress: { isolation: netns, allowAll: true }
`);
    expect(result.ok).toBe(false);
    const text = result.ok ? '' : result.errors.map((e) => `${e.path}: ${e.message}`).join('\n');
    expect(text).toContain(
      'integrations.bank.egress.isolation: found "netns", expected none or network',
    );
    expect(text).toContain(
      'integrations.bank.egress.allowAll: found unknown key "allowAll", expected one of isolation, privateHosts, mtls',
    );
  });

  it('refuses an mTLS entry naming an undeclared setting, one without a value, and one that is not PEM', () => {
    const decision = decide(
      manifest(),
      parsed(`    egress:
      mtls:
        - { host: api.bank.test, certificate: BANK_CERT, key: NOT_DECLARED }
        - { host: internal.bank.test:8443, certificate: BANK_CA, key: BANK_KEY }
`),
      { resolvedSettings: { BANK_CERT: 'not pem', BANK_CA: PEM('CERTIFICATE') } },
    );
    expect(decision.granted).toBe(false);
    expect(decision.granted ? [] : decision.reasons).toEqual([
      {
        code: 'setting_invalid',
        message:
          'setting BANK_CERT (integrations.bank.egress.mtls[0].certificate): found a value that is not PEM, expected text starting with -----BEGIN',
      },
      {
        code: 'setting_invalid',
        message:
          'integrations.bank.egress.mtls[0].key names setting NOT_DECLARED, which the manifest does not declare (declare it with secret: true)',
      },
      {
        code: 'setting_missing',
        message:
          'setting BANK_KEY has no value, and integrations.bank.egress.mtls[1].key needs it (a PEM text)',
      },
    ]);
  });
});
