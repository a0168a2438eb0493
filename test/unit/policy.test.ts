import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type Decision,
  type DecisionContext,
  decide,
  developmentMarkers,
  formatAge,
  formatDuration,
  loadPolicy,
  type Policy,
  parseAge,
  parseDuration,
  parsePolicy,
  REFUSAL_CODES,
  type RefusalCode,
} from '@switchboard/policy';
import {
  formatManifestErrors,
  type Manifest,
  type ManifestError,
  parseManifest,
} from '@switchboard/sdk';
import { describe, expect, it } from 'vitest';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

const MANIFEST = `apiVersion: switchboard/v1
name: github
version: 1.2.0
description: GitHub pull requests and issues
server: { transport: stdio, command: node, args: [dist/server.js] }
settings:
  - { key: GITHUB_TOKEN, secret: true, required: true }
  - { key: GITHUB_WEBHOOK_SECRET, secret: true, required: true }
  - { key: GITHUB_API_URL, default: "https://api.github.com" }
webhooks:
  - { name: events, verify: { scheme: github, secret: GITHUB_WEBHOOK_SECRET }, handler: on_webhook }
dispatchers:
  - { type: github, handler: deliver }
tools: { hidden: [on_webhook, deliver] }
capabilities: [webhooks, dispatch, sessions.write, http.outbound]
outboundHosts: [api.github.com]
`;

const POLICY = `apiVersion: switchboard/policy/v1
integrations:
  github:
    enabled: true
    grants: [webhooks, dispatch, sessions.write, http.outbound]
    outboundHosts: [api.github.com]
    rateLimit: { requestsPerMinute: 600 }
`;

function manifestOf(text: string): Manifest {
  const result = parseManifest(text, 'switchboard.yaml');
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.manifest;
}

function policyOf(text: string): Policy {
  const result = parsePolicy(text, 'policy.yaml');
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.policy;
}

const SETTINGS = {
  GITHUB_TOKEN: 'token',
  GITHUB_WEBHOOK_SECRET: 'secret',
  GITHUB_API_URL: 'https://api.github.com',
};
const HASH = 'a'.repeat(64);

interface Row {
  name: string;
  manifest?: (m: Manifest) => void;
  policy?: (p: Policy) => void;
  context?: Partial<DecisionContext>;
  reasons: Array<[RefusalCode, string]>;
}

const entry = (p: Policy) => p.integrations.github!;

/** One row per reason code; the granted case and a several-reasons case are tested below. */
const ROWS: Row[] = [
  {
    name: 'policy_missing stands alone, even with other problems',
    policy: (p) => {
      delete p.integrations.github;
    },
    context: { resolvedSettings: {} },
    reasons: [
      [
        'policy_missing',
        'the policy has no entry integrations.github; add one with enabled: true and the grants its manifest requests',
      ],
    ],
  },
  {
    name: 'disabled',
    policy: (p) => {
      entry(p).enabled = false;
    },
    reasons: [['disabled', 'integrations.github.enabled is not true in the policy']],
  },
  {
    name: 'capability_not_granted, one reason per capability',
    policy: (p) => {
      entry(p).grants = ['sessions.write', 'http.outbound'];
    },
    reasons: [
      [
        'capability_not_granted',
        'the manifest requests capability "webhooks" but integrations.github.grants does not include it',
      ],
      [
        'capability_not_granted',
        'the manifest requests capability "dispatch" but integrations.github.grants does not include it',
      ],
    ],
  },
  {
    name: 'outbound_host_not_granted',
    manifest: (m) => {
      m.outboundHosts.push('uploads.github.com');
    },
    reasons: [
      [
        'outbound_host_not_granted',
        'the manifest requests outbound host "uploads.github.com" but integrations.github.outboundHosts does not include it',
      ],
    ],
  },
  {
    name: 'version_mismatch',
    policy: (p) => {
      entry(p).version = '1.1.0';
    },
    reasons: [
      [
        'version_mismatch',
        'the policy pins integrations.github.version "1.1.0" but the manifest is version "1.2.0"',
      ],
    ],
  },
  {
    name: 'hash_mismatch',
    policy: (p) => {
      entry(p).sha256 = HASH;
    },
    context: { folderSha256: 'b'.repeat(64) },
    reasons: [
      [
        'hash_mismatch',
        `the policy pins integrations.github.sha256 ${HASH} but the folder hashes to ${'b'.repeat(64)}`,
      ],
    ],
  },
  {
    name: 'hash_mismatch when no hash was computed',
    policy: (p) => {
      entry(p).sha256 = HASH;
    },
    reasons: [
      [
        'hash_mismatch',
        `the policy pins integrations.github.sha256 ${HASH} but no folder hash was computed`,
      ],
    ],
  },
  {
    name: 'setting_missing (empty counts as unset)',
    context: { resolvedSettings: { ...SETTINGS, GITHUB_TOKEN: '' } },
    reasons: [
      [
        'setting_missing',
        "required setting GITHUB_TOKEN has no value; set it with the CLI or API, or in the gateway's environment as SWITCHBOARD_SETTING_GITHUB__GITHUB_TOKEN",
      ],
    ],
  },
  {
    name: 'setting_invalid (what the gateway found wrong, without the value)',
    context: {
      resolvedSettings: SETTINGS,
      invalidSettings: [
        {
          key: 'GITHUB_WEBHOOK_SECRET',
          usedBy: 'webhooks[0] "events", scheme github',
          problem: 'found only whitespace, expected a signing secret',
        },
      ],
    },
    reasons: [
      [
        'setting_invalid',
        'setting GITHUB_WEBHOOK_SECRET of integration github (webhooks[0] "events", scheme github): found only whitespace, expected a signing secret',
      ],
    ],
  },
  {
    name: 'url_not_allowed',
    manifest: (m) => {
      m.server = {
        transport: 'http',
        url: 'http://127.0.0.1:7001/mcp',
        instances: 'shared',
        timeoutMs: 30_000,
      };
    },
    policy: (p) => {
      entry(p).allowUrls = ['http://127.0.0.1:7002'];
    },
    reasons: [
      [
        'url_not_allowed',
        'the server URL http://127.0.0.1:7001/mcp has origin http://127.0.0.1:7001, which integrations.github.allowUrls does not list',
      ],
    ],
  },
  {
    name: 'unsigned_webhook_not_allowed',
    manifest: (m) => {
      m.webhooks.push({
        name: 'ping',
        verify: { scheme: 'none' },
        handler: 'on_webhook',
        mode: 'async',
      });
    },
    reasons: [
      [
        'unsigned_webhook_not_allowed',
        'webhook "ping" uses scheme none (unsigned) but integrations.github.webhooks.unsigned is not true',
      ],
    ],
  },
];

function run(row: Omit<Row, 'reasons' | 'name'>): Decision {
  const manifest = manifestOf(MANIFEST);
  const policy = policyOf(POLICY);
  row.manifest?.(manifest);
  row.policy?.(policy);
  return decide(manifest, policy, { resolvedSettings: SETTINGS, ...row.context });
}

describe('decide (ARCHITECTURE §5)', () => {
  it.each(ROWS)('$name', (row) => {
    expect(run(row)).toEqual({
      granted: false,
      reasons: row.reasons.map(([code, message]) => ({ code, message })),
    });
  });

  it('has a row for every refusal code', () => {
    const covered = new Set(ROWS.flatMap((row) => row.reasons.map(([code]) => code)));
    covered.add('manifest_invalid');
    expect([...covered].sort()).toEqual([...REFUSAL_CODES].sort());
  });

  it('manifest_invalid stands alone and lists the errors', () => {
    const invalid: ManifestError[] = [
      {
        file: 'servers/x/switchboard.yaml',
        path: 'webhooks[1].verify.scheme',
        message: 'found "hmac", expected one of standard, github, slack, none',
      },
      { file: 'servers/x/switchboard.yaml', path: 'name', message: 'found "X", expected a name' },
    ];
    expect(decide({ invalid }, policyOf(POLICY), { resolvedSettings: {} })).toEqual({
      granted: false,
      reasons: [
        {
          code: 'manifest_invalid',
          message:
            'servers/x/switchboard.yaml is invalid (2 errors): webhooks[1].verify.scheme: found "hmac", expected one of standard, github, slack, none; name: found "X", expected a name',
        },
      ],
    });
  });

  it('grants exactly what the manifest requests, with the resolved settings', () => {
    const decision = run({
      policy: (p) => {
        entry(p).grants.push('schedules', 'processes');
        entry(p).outboundHosts.push('127.0.0.1');
        entry(p).version = '1.2.0';
        entry(p).sha256 = HASH;
      },
      context: {
        folderSha256: HASH.toUpperCase(),
        resolvedSettings: { ...SETTINGS, UNDECLARED: 'ignored' },
      },
    });
    expect(decision).toEqual({
      granted: true,
      name: 'github',
      grants: ['webhooks', 'dispatch', 'sessions.write', 'http.outbound'],
      outboundHosts: ['api.github.com'],
      egress: { isolation: 'none', privateHosts: [], mtls: [], withheldSettings: [] },
      settings: SETTINGS,
      unsignedWebhooks: false,
      rateLimit: { requestsPerMinute: 600 },
    });
  });

  it('grants an http server whose origin is allowed, and unsigned webhooks when allowed', () => {
    const decision = run({
      manifest: (m) => {
        m.server = {
          transport: 'http',
          url: 'https://mcp.example.com/v1/mcp',
          instances: 'shared',
          timeoutMs: 30_000,
        };
        m.webhooks[0]!.verify = { scheme: 'none' };
      },
      policy: (p) => {
        entry(p).allowUrls = ['https://mcp.example.com'];
        entry(p).webhooks = { unsigned: true };
      },
    });
    expect(decision).toMatchObject({ granted: true, unsignedWebhooks: true });
  });

  it('fills settings into server.url and allowUrls ports before comparing origins', () => {
    const http = (port: string | undefined, allowUrls: string[]) =>
      run({
        manifest: (m) => {
          m.settings.push({ key: 'MCP_PORT', secret: false, required: false, auto: 'port' });
          m.server = {
            transport: 'http',
            url: `http://127.0.0.1:\${MCP_PORT}/mcp`,
            instances: 'shared',
            timeoutMs: 30_000,
          };
        },
        policy: (p) => {
          entry(p).allowUrls = allowUrls;
        },
        context: { resolvedSettings: { ...SETTINGS, MCP_PORT: port } },
      });
    expect(http('40123', [`http://127.0.0.1:\${MCP_PORT}`])).toMatchObject({
      granted: true,
      serverUrl: 'http://127.0.0.1:40123/mcp',
    });
    // A literal origin matches the port the setting resolved to, and only that one.
    expect(http('40123', ['http://127.0.0.1:40123'])).toMatchObject({ granted: true });
    expect(http('40124', ['http://127.0.0.1:40123'])).toEqual({
      granted: false,
      reasons: [
        {
          code: 'url_not_allowed',
          message:
            'the server URL http://127.0.0.1:40124/mcp has origin http://127.0.0.1:40124, which integrations.github.allowUrls does not list',
        },
      ],
    });
    // The host is never a setting's to choose: a template entry fills in the port only.
    expect(http('40123', [`http://localhost:\${MCP_PORT}`])).toMatchObject({ granted: false });
    expect(http('99999', [`http://127.0.0.1:\${MCP_PORT}`])).toEqual({
      granted: false,
      reasons: [
        {
          code: 'setting_invalid',
          message: `setting MCP_PORT of integration github (in server.url): found a server URL that is not valid once \${MCP_PORT} is filled in, expected an http:// or https:// URL without credentials or #fragment, e.g. http://127.0.0.1:7001/mcp`,
        },
        {
          code: 'setting_invalid',
          message:
            'setting MCP_PORT of integration github (auto: port): found a value that is not a TCP port, expected a whole number from 1 to 65535',
        },
      ],
    });
    expect(http(undefined, [`http://127.0.0.1:\${MCP_PORT}`])).toEqual({
      granted: false,
      reasons: [
        {
          code: 'setting_missing',
          message: 'setting MCP_PORT has no value, and server.url needs it',
        },
      ],
    });
  });

  it('collects every reason at once', () => {
    const decision = run({
      policy: (p) => {
        entry(p).enabled = false;
        entry(p).version = '2.0.0';
        entry(p).grants = ['webhooks', 'dispatch', 'sessions.write'];
        entry(p).outboundHosts = [];
      },
      context: { resolvedSettings: {} },
    });
    expect(decision.granted).toBe(false);
    expect(!decision.granted && decision.reasons.map((r) => r.code)).toEqual([
      'disabled',
      'version_mismatch',
      'capability_not_granted',
      'outbound_host_not_granted',
      'setting_missing',
      'setting_missing',
    ]);
  });
});

function errorsOf(text: string): Array<[string, string]> {
  const result = parsePolicy(text, 'policy.yaml');
  if (result.ok) return [];
  return result.errors.map((e) => [e.path, e.message]);
}

const HEAD = 'apiVersion: switchboard/policy/v1\n';

describe('loadPolicy', () => {
  it('loads policy/default.yaml with its development values', () => {
    const file = path.join(REPO_ROOT, 'policy/default.yaml');
    const result = loadPolicy(file);
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    const { policy } = result;
    expect(Object.keys(policy.integrations)).toEqual([
      'github',
      'chat',
      'notes',
      'fixture',
      'weather',
    ]);
    expect(policy.integrations.github).toMatchObject({
      enabled: true,
      grants: ['webhooks', 'dispatch', 'schedules', 'sessions.write', 'http.outbound', 'documents'],
      profile: 'scripted',
      outboundHosts: ['api.github.com'],
      settings: {
        GITHUB_WEBHOOK_SECRET: 'dev-only-github-webhook-secret',
        GITHUB_TOKEN: 'dev-only-github-token',
      },
    });
    expect(policy.integrations.chat?.settings).toEqual({
      CHAT_SIGNING_SECRET: 'dev-only-chat-signing-secret',
    });
    for (const name of ['notes', 'fixture']) {
      expect(policy.integrations[name]).toMatchObject({ enabled: true, grants: [] });
    }
    expect(policy.tokens).toEqual({
      defaultTtlMs: 15 * 60_000,
      maxTtlMs: 2 * 3_600_000,
      maxInFlight: 32,
    });
    expect(policy.profiles.scripted).toEqual({
      runner: {
        driver: 'process',
        command: '{switchboard}',
        args: ['agent', '--bundle', '{workdir}'],
      },
      tools: ['*:*'],
      timeoutMs: undefined,
    });
  });

  it('parses the ARCHITECTURE §5 example', () => {
    const result = parsePolicy(
      `${HEAD}integrations:
  github:
    enabled: true
    version: "1.2.0"
    sha256: "${'A'.repeat(64)}"
    grants: [webhooks, dispatch, schedules, processes, sessions.write, http.outbound]
    outboundHosts: [api.github.com]
    settings:
      GITHUB_WEBHOOK_SECRET: dev-only-github-webhook-secret
tokens: { defaultTtl: 15m, maxTtl: 2h }
profiles:
  scripted:
    runner: { driver: process, command: switchboard, args: [agent, --bundle, "{workdir}"] }
    tools: ["*:*"]
  reviewer:
    runner: { driver: process, command: claude, args: ["-p", "{prompt}", "--mcp-config", "{mcp_json}"] }
    tools: ["github:*", "switchboard:*"]
    timeout: 20m
    concurrency: 4
schedules:
  - { name: weekly-report, cron: "0 9 * * 1", session: "ops:weekly", prompt: "Write the report", profile: reviewer }
`,
      'policy.yaml',
    );
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.policy.integrations.github?.sha256).toBe('a'.repeat(64));
    expect(result.policy.profiles.reviewer).toMatchObject({
      timeoutMs: 20 * 60_000,
      concurrency: 4,
    });
    expect(result.policy.schedules).toHaveLength(1);
  });

  it('a profile’s retry: attempts with its backoff in ms, 30s/2m/10m by default; absent by default', () => {
    const policy = policyOf(`${HEAD}profiles:
  a: { runner: { driver: process, command: x } }
  b: { runner: { driver: process, command: x }, retry: { attempts: 3 } }
  c: { runner: { driver: process, command: x }, retry: { attempts: 2, backoff: [10s, 1m30s] } }
`);
    expect(policy.profiles.a?.retry).toBeUndefined();
    expect(policy.profiles.b?.retry).toEqual({
      attempts: 3,
      backoffMs: [30_000, 120_000, 600_000],
    });
    expect(policy.profiles.c?.retry).toEqual({ attempts: 2, backoffMs: [10_000, 90_000] });
  });

  it('defaults: nothing enabled, 15m/2h tokens, no profiles', () => {
    expect(policyOf(`${HEAD}integrations: { github: {} }\n`)).toEqual({
      apiVersion: 'switchboard/policy/v1',
      development: false,
      integrations: {
        github: {
          enabled: false,
          grants: [],
          outboundHosts: [],
          egress: { isolation: 'none', privateHosts: [], mtls: [] },
        },
      },
      tokens: { defaultTtlMs: 900_000, maxTtlMs: 7_200_000, maxInFlight: 32 },
      profiles: {},
      schedules: [],
      dispatch: { allowHosts: [] },
      metrics: { requireKey: false },
      retention: {
        deliveriesMs: 30 * 86_400_000,
        taskEventsMs: 30 * 86_400_000,
        auditMs: 90 * 86_400_000,
        egressMs: 30 * 86_400_000,
        intervalMs: 3_600_000,
      },
      rules: [],
      approvals: [],
    });
  });

  it('retention: ages in days or h/m/s, off keeps rows, the interval', () => {
    expect(
      policyOf(
        `${HEAD}retention: { deliveries: 7d, taskEvents: 1d12h, audit: "off", egress: 2d, interval: 15m }\n`,
      ).retention,
    ).toEqual({
      deliveriesMs: 7 * 86_400_000,
      taskEventsMs: 36 * 3_600_000,
      auditMs: null,
      egressMs: 2 * 86_400_000,
      intervalMs: 900_000,
    });
    expect(policyOf(`${HEAD}retention: { audit: 2h }\n`).retention).toMatchObject({
      deliveriesMs: 30 * 86_400_000,
      auditMs: 7_200_000,
    });
  });

  it('retention: refuses a bad age, one under an hour, an interval under a minute', () => {
    expect(
      errorsOf(
        `${HEAD}retention: { deliveries: 30 days, taskEvents: 30m, interval: 10s, keep: 1d }\n`,
      ),
    ).toEqual([
      [
        'retention.deliveries',
        'found "30 days", expected an age such as 30d, 90d, 12h or 1d12h, or off',
      ],
      ['retention.taskEvents', 'found "30m", expected at least 1h, or off'],
      [
        'retention.keep',
        'found unknown key "keep", expected one of deliveries, taskEvents, audit, egress, interval',
      ],
    ]);
    expect(errorsOf(`${HEAD}retention: { interval: 10s }\n`)).toEqual([
      ['retention.interval', 'found "10s", expected at least 1m'],
    ]);
  });

  it('metrics.requireKey is true or false', () => {
    expect(policyOf(`${HEAD}metrics: { requireKey: true }\n`).metrics).toEqual({
      requireKey: true,
    });
    expect(errorsOf(`${HEAD}metrics: { requireKey: yes please }\n`)).toEqual([
      ['metrics.requireKey', 'found "yes please", expected true or false'],
    ]);
  });

  it('integrations.<name>.profiles must name defined profiles', () => {
    expect(
      errorsOf(
        `${HEAD}profiles: { a: { runner: { driver: process, command: x } } }\nintegrations: { github: { profile: a, profiles: [a, nope] } }\n`,
      ),
    ).toEqual([
      [
        'integrations.github.profiles[1]',
        'found "nope", expected a profile defined under profiles (defined: a)',
      ],
    ]);
  });

  it('integrations.<name>.profile must name a defined profile', () => {
    expect(errorsOf(`${HEAD}integrations: { github: { profile: nope } }\n`)).toEqual([
      [
        'integrations.github.profile',
        'found "nope", expected a profile defined under profiles (none is defined)',
      ],
    ]);
  });

  it.each<[string, string, { defaultTtlMs: number; maxTtlMs: number }]>([
    [
      'only maxTtl, longer than 15m',
      'tokens: { maxTtl: 1h }',
      { defaultTtlMs: 900_000, maxTtlMs: 3_600_000 },
    ],
    [
      'only maxTtl, shorter than 15m',
      'tokens: { maxTtl: 5m }',
      { defaultTtlMs: 300_000, maxTtlMs: 300_000 },
    ],
    [
      'only defaultTtl',
      'tokens: { defaultTtl: 30m }',
      { defaultTtlMs: 1_800_000, maxTtlMs: 7_200_000 },
    ],
  ])('a partial tokens block takes the defaults for the rest: %s', (_name, yaml, expected) => {
    expect(policyOf(`${HEAD}${yaml}\n`).tokens).toEqual({ ...expected, maxInFlight: 32 });
  });

  it('tokens.maxInFlight: a whole number from 1 to 10000 (default 32)', () => {
    expect(policyOf(`${HEAD}tokens: { maxInFlight: 4 }\n`).tokens.maxInFlight).toBe(4);
    expect(errorsOf(`${HEAD}tokens: { maxInFlight: 0 }\n`)).toEqual([
      ['tokens.maxInFlight', expect.stringContaining('expected a whole number of requests ≥ 1')],
    ]);
    expect(errorsOf(`${HEAD}tokens: { maxInFlight: 1.5 }\n`)).toHaveLength(1);
  });

  it.each<[string, string, Array<[string, string]>]>([
    [
      'wrong apiVersion',
      'apiVersion: switchboard/v1\n',
      [['apiVersion', 'found "switchboard/v1", expected "switchboard/policy/v1"']],
    ],
    [
      'unknown key in an integration',
      `${HEAD}integrations: { github: { enabled: true, grant: [webhooks] } }\n`,
      [
        [
          'integrations.github.grant',
          'found unknown key "grant", expected one of enabled, version, sha256, grants, outboundHosts, egress, allowUrls, settings, webhooks, profile, profiles, audit, rateLimit, maxCallDuration, toolPinning',
        ],
      ],
    ],
    [
      'a webhook ingress limit that is not a whole number ≥ 1',
      `${HEAD}integrations: { hooks: { webhooks: { requestsPerMinute: 0 } } }\n`,
      [
        [
          'integrations.hooks.webhooks.requestsPerMinute',
          'found 0, expected a whole number of requests ≥ 1',
        ],
      ],
    ],
    [
      'a bad integration name',
      `${HEAD}integrations: { GitHub: {} }\n`,
      [
        [
          'integrations.GitHub',
          'found key "GitHub", expected a name of 2 to 41 characters: a lowercase letter, then lowercase letters or digits, with single - between them (my-tool)',
        ],
      ],
    ],
    [
      'an unknown capability',
      `${HEAD}integrations: { github: { grants: [webhooks, sessions.read] } }\n`,
      [
        [
          'integrations.github.grants[1]',
          'found "sessions.read", expected one of webhooks, dispatch, schedules, processes, sessions.write, http.outbound, events, events.all, storage.kv, documents',
        ],
      ],
    ],
    [
      'a bad sha256 and a bad allowUrl',
      `${HEAD}integrations: { github: { sha256: abc, allowUrls: ["http://127.0.0.1:7001/mcp"] } }\n`,
      [
        [
          'integrations.github.sha256',
          'found "abc", expected 64 hex digits: the sha256 of the integration folder',
        ],
        [
          'integrations.github.allowUrls[0]',
          `found "http://127.0.0.1:7001/mcp", expected an origin: http(s)://host[:port] with no path or trailing slash, e.g. http://127.0.0.1:7001 (the port may be a setting: http://127.0.0.1:\${CHAT_PORT})`,
        ],
      ],
    ],
    [
      'a setting anywhere but in the port of an allowUrl',
      `${HEAD}integrations: { chat: { allowUrls: ["http://127.0.0.1:\${CHAT_PORT}", "http://\${HOST}:7001"] } }\n`,
      [
        [
          'integrations.chat.allowUrls[1]',
          `found "http://\${HOST}:7001", expected an origin: http(s)://host[:port] with no path or trailing slash, e.g. http://127.0.0.1:7001 (the port may be a setting: http://127.0.0.1:\${CHAT_PORT})`,
        ],
      ],
    ],
    [
      'a setting value that is not a string',
      `${HEAD}integrations: { github: { settings: { PORT: 8080, bad-key: x } } }\n`,
      [
        [
          'integrations.github.settings.PORT',
          'found 8080, expected a string (quote numbers and booleans, e.g. "8080")',
        ],
        [
          'integrations.github.settings.bad-key',
          'found key "bad-key", expected a setting key: an uppercase letter, then uppercase letters, digits or _ (e.g. GITHUB_TOKEN)',
        ],
      ],
    ],
    [
      'a bad duration',
      `${HEAD}tokens: { defaultTtl: 15 minutes, maxTtl: 2h }\n`,
      [
        [
          'tokens.defaultTtl',
          'found "15 minutes", expected a duration such as 30s, 15m, 2h or 1h30m',
        ],
      ],
    ],
    [
      'defaultTtl above maxTtl',
      `${HEAD}tokens: { defaultTtl: 3h, maxTtl: 1h30m }\n`,
      [['tokens.defaultTtl', 'found "3h", expected at most maxTtl (1h30m)']],
    ],
    [
      'an unknown runner driver',
      `${HEAD}profiles: { p: { runner: { driver: podman, image: x } } }\n`,
      [['profiles.p.runner.driver', 'found "podman", expected one of process, docker, kubernetes']],
    ],
    [
      'a field of another driver',
      `${HEAD}profiles: { p: { runner: { driver: process, command: x, image: y } } }\n`,
      [
        [
          'profiles.p.runner.image',
          'found unknown key "image", expected one of driver, command, args, extraArgs, env, cwd, stdin',
        ],
      ],
    ],
    [
      'a bad tool pattern and concurrency',
      `${HEAD}profiles: { p: { runner: { driver: docker, image: x }, tools: [github], concurrency: 0 } }\n`,
      [
        [
          'profiles.p.tools[0]',
          'found "github", expected a tool pattern integration:tool, where either side may be * (e.g. github:get_pr, github:*)',
        ],
        ['profiles.p.concurrency', 'found 0, expected a whole number of tasks ≥ 1'],
      ],
    ],
    [
      'a toolPinning that is not a mode',
      `${HEAD}integrations: { github: { enabled: true, toolPinning: always } }\n`,
      [
        [
          'integrations.github.toolPinning',
          'found "always", expected first-sight, operator or off',
        ],
      ],
    ],
    [
      'a bad retry',
      `${HEAD}profiles: { p: { runner: { driver: docker, image: x }, retry: { attempts: 0, backoff: [5 seconds] } } }\n`,
      [
        ['profiles.p.retry.attempts', 'found 0, expected a whole number of runs from 1 to 100'],
        [
          'profiles.p.retry.backoff[0]',
          'found "5 seconds", expected a duration such as 30s, 15m, 2h or 1h30m',
        ],
      ],
    ],
    [
      'a process runner without a command, and an unknown agent',
      `${HEAD}profiles:
  p: { runner: { driver: process } }
  q: { agent: claude, runner: { driver: process } }
`,
      [
        [
          'profiles.p.runner.command',
          'missing, expected the program to start, e.g. switchboard (or name an agent: claude-code, codex, goose, generic)',
        ],
        ['profiles.q.agent', 'found "claude", expected one of claude-code, codex, goose, generic'],
      ],
    ],
    [
      'an agent under kubernetes, a generic agent without its program, docker without an image',
      `${HEAD}profiles:
  k: { agent: claude-code, runner: { driver: kubernetes, image: x } }
  g: { agent: generic, runner: { driver: process } }
  d: { agent: claude-code, runner: { driver: docker } }
`,
      [
        [
          'profiles.k.agent',
          'found "claude-code", expected a runner with driver process or docker: agent presets do not run under kubernetes (give runner.command and args there)',
        ],
        [
          'profiles.g.runner.command',
          'missing, expected the program to start: agent generic is any MCP-capable CLI, so name it',
        ],
        [
          'profiles.d.runner.image',
          'missing, expected a container image, e.g. ghcr.io/acme/agent:1.4',
        ],
      ],
    ],
    [
      'extraArgs without an agent, and beside args',
      `${HEAD}profiles:
  n: { runner: { driver: process, command: x, extraArgs: [-v] } }
  b: { agent: codex, runner: { driver: process, args: [exec], extraArgs: [-v] } }
`,
      [
        [
          'profiles.n.runner.extraArgs',
          "found a list, expected args instead: extraArgs adds to an agent preset's args, and this profile names no agent (claude-code, codex, goose, generic)",
        ],
        [
          'profiles.b.runner.extraArgs',
          "found a list, expected args or extraArgs, not both: args replaces the preset's list, extraArgs adds to it",
        ],
      ],
    ],
    [
      'a schedule naming an undefined profile, twice',
      `${HEAD}profiles: { p: { runner: { driver: process, command: x } } }
schedules:
  - { name: weekly, cron: "0 9 * * 1", session: "ops:weekly", prompt: go, profile: reviewer }
  - { name: weekly, cron: "0 9 * * 1", session: "ops:weekly", prompt: go, profile: p }
`,
      [
        [
          'schedules[0].profile',
          'found "reviewer", expected a profile defined under profiles (defined: p)',
        ],
        [
          'schedules[1].name',
          'found "weekly" again, expected a unique schedule name (schedules[0].name is already "weekly")',
        ],
      ],
    ],
  ])('reports %s', (_name, text, errors) => {
    expect(errorsOf(text)).toEqual(errors);
  });

  it('names a missing file and a YAML error with its line', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'policy-'));
    const missing = path.join(dir, 'missing.yaml');
    expect(loadPolicy(missing)).toEqual({
      ok: false,
      file: missing,
      errors: [
        {
          file: missing,
          path: '',
          message:
            'found no such file, expected a policy (a mapping starting with apiVersion: switchboard/policy/v1)',
          found: 'no such file',
          expected: 'a policy (a mapping starting with apiVersion: switchboard/policy/v1)',
        },
      ],
    });
    const broken = path.join(dir, 'broken.yaml');
    writeFileSync(broken, `${HEAD}integrations:\n  github: { enabled: true\n`);
    const result = loadPolicy(broken);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors.map((e) => [e.file, e.path, e.message])).toEqual([
      [broken, '', expect.stringMatching(/^invalid YAML at line 4, column 1: /)],
    ]);
  });
});

describe('developmentMarkers (refused by SWITCHBOARD_MODE=production)', () => {
  it('the shipped policy: its flag and every dev-only- setting, by path', () => {
    const shipped = loadPolicy(path.join(REPO_ROOT, 'policy/default.yaml'));
    if (!shipped.ok) throw new Error(formatManifestErrors(shipped.errors));
    expect(developmentMarkers(shipped.policy)).toEqual([
      'the policy says development: true',
      'integrations.github.settings.GITHUB_WEBHOOK_SECRET, integrations.github.settings.GITHUB_TOKEN, integrations.chat.settings.CHAT_SIGNING_SECRET hold development values (dev-only-…)',
    ]);
  });

  it('one dev-only- value alone; none for an operator policy (a dev-only- inside a value is fine)', () => {
    expect(
      developmentMarkers(
        policyOf(`${HEAD}integrations: { ab: { settings: { K: dev-only-x, L: real } } }\n`),
      ),
    ).toEqual(['integrations.ab.settings.K holds a development value (dev-only-…)']);
    expect(
      developmentMarkers(
        policyOf(
          `${HEAD}development: false\nintegrations: { ab: { settings: { K: not-dev-only-x } } }\n`,
        ),
      ),
    ).toEqual([]);
  });
});

describe('durations', () => {
  it.each([
    ['30s', 30_000],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
  ])('%s is %i ms and formats back', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(formatDuration(ms)).toBe(text);
  });

  it.each(['', '0s', '90', '15 m', '1m30h', '2d', '-1h'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it.each([
    ['30d', 30 * 86_400_000],
    ['1d12h', 36 * 3_600_000],
    ['12h', 12 * 3_600_000],
    ['2h30m', 9_000_000],
  ])('age %s is %i ms and formats back', (text, ms) => {
    expect(parseAge(text)).toBe(ms);
    expect(formatAge(ms)).toBe(text);
  });

  it.each(['', '0d', 'd', '30', '30 d', '1h2d', '-1d', 'off'])('age refuses %j', (text) => {
    expect(parseAge(text)).toBeUndefined();
  });
});
