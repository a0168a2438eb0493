import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, REPO_ROOT, runSwitchboard, useTestGateway } from '../helpers/gateway.ts';

// What the gateway checks when it judges an integration, beyond the manifest's own rules: signing
// secrets a scheme cannot use (every delivery would fail with 500), handlers and hidden tools the
// server does not list (a handler that fails at its first fire while the real one is shown to
// agents), and the reserved name `switchboard`. Each is a refusal with a reason code, visible in
// `integrations list`.
const ROOT = fs.mkdtempSync(path.join(REPO_ROOT, 'test/fixtures/.generated-judge-'));
const SERVER = path.join(REPO_ROOT, 'test/fixtures/upstreams/stdio-server.ts');
// The tools test/fixtures/upstreams/stdio-server.ts lists.
const LISTED = 'crash, flood, report_env, shout, sleep';
const STANDARD_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

function integration(folder: string, name: string, rest: string): void {
  fs.mkdirSync(path.join(ROOT, folder));
  fs.writeFileSync(
    path.join(ROOT, folder, 'switchboard.yaml'),
    `apiVersion: switchboard/v1
name: ${name}
version: 1.0.0
description: registry judge test integration
server: { transport: stdio, command: node, args: ["--import", "tsx", ${JSON.stringify(SERVER)}] }
${rest}`,
  );
}

const hook = (scheme: string) => `settings:
  - { key: HOOK_SECRET, secret: true, required: true }
webhooks:
  - { name: events, verify: { scheme: ${scheme}, secret: HOOK_SECRET }, handler: report_env }
tools: { hidden: [report_env] }
capabilities: [webhooks]
`;

integration('std-good', 'std-good', hook('standard'));
integration('std-bad', 'std-bad', hook('standard'));
integration('std-empty-key', 'std-empty-key', hook('standard'));
integration('gh-blank', 'gh-blank', hook('github'));
integration(
  'ghost-handlers',
  'ghost-handlers',
  `webhooks:
  - { name: events, verify: { scheme: none }, handler: on_webhook }
dispatchers:
  - { type: ghost, handler: report_env }
schedules:
  - { name: nightly, cron: "0 6 * * *", handler: on_schedule }
tools: { hidden: [on_webhook, report_env, on_schedule, ghost_tool] }
capabilities: [webhooks, dispatch, schedules]
`,
);
// A folder named switchboard, with the name too: the built-in task tools' namespace.
integration('switchboard', 'switchboard', '');
fs.writeFileSync(
  path.join(ROOT, 'policy.yaml'),
  `apiVersion: switchboard/policy/v1
integrations:
  std-good: { enabled: true, grants: [webhooks], settings: { HOOK_SECRET: "${STANDARD_SECRET}" } }
  std-bad: { enabled: true, grants: [webhooks], settings: { HOOK_SECRET: "dev-only-not-base64" } }
  std-empty-key: { enabled: true, grants: [webhooks], settings: { HOOK_SECRET: "whsec_" } }
  gh-blank: { enabled: true, grants: [webhooks], settings: { HOOK_SECRET: "   " } }
  ghost-handlers:
    enabled: true
    grants: [webhooks, dispatch, schedules]
    webhooks: { unsigned: true }
  switchboard: { enabled: true }
tokens: { defaultTtl: 15m, maxTtl: 2h }
`,
);

interface Summary {
  name: string;
  state: string;
  reasons: Array<{ code: string; message: string }>;
  tools: string[];
  hiddenTools: string[];
}

describe('registry: what the gateway checks when it judges an integration', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: ROOT,
    SWITCHBOARD_POLICY: path.join(ROOT, 'policy.yaml'),
  });
  afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));

  const list = async (): Promise<Map<string, Summary>> => {
    const res = await fetch(`${gw().url}/api/v1/integrations`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(res.status).toBe(200);
    const { integrations } = (await res.json()) as { integrations: Summary[] };
    return new Map(integrations.map((i) => [i.name, i]));
  };

  it('refuses a standard secret that is not whsec_<base64>, naming the setting and the format', async () => {
    const items = await list();
    expect(items.get('std-good')).toMatchObject({ state: 'ready', reasons: [] });
    const expected =
      'expected a Standard Webhooks secret: whsec_ followed by base64, e.g. whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw (or the base64 alone)';
    expect(items.get('std-bad')).toMatchObject({
      state: 'refused',
      reasons: [
        {
          code: 'setting_invalid',
          message: `setting HOOK_SECRET of integration std-bad (webhooks[0] "events", scheme standard): found a value that is not base64, ${expected}`,
        },
      ],
    });
    expect(items.get('std-empty-key')).toMatchObject({
      state: 'refused',
      reasons: [
        {
          code: 'setting_invalid',
          message: `setting HOOK_SECRET of integration std-empty-key (webhooks[0] "events", scheme standard): found whsec_ with nothing after it, ${expected}`,
        },
      ],
    });
    // The secret itself never appears in a reason.
    expect(JSON.stringify([...items.values()])).not.toContain('dev-only-not-base64');
  });

  it('refuses a github secret of only whitespace (an HMAC key anyone can guess)', async () => {
    expect((await list()).get('gh-blank')).toMatchObject({
      state: 'refused',
      reasons: [
        {
          code: 'setting_invalid',
          message:
            'setting HOOK_SECRET of integration gh-blank (webhooks[0] "events", scheme github): found only whitespace, expected a signing secret',
        },
      ],
    });
  });

  it('refuses handlers and hidden tools the server does not list, naming each field and tool', async () => {
    const ghost = (await list()).get('ghost-handlers')!;
    expect(ghost).toMatchObject({ state: 'refused', tools: [], hiddenTools: [] });
    expect(ghost.reasons).toEqual([
      {
        code: 'handler_missing',
        message: `webhooks[0].handler and tools.hidden[0] name the tool on_webhook, which the server does not list (it lists: ${LISTED})`,
      },
      {
        code: 'handler_missing',
        message: `schedules[0].handler and tools.hidden[2] name the tool on_schedule, which the server does not list (it lists: ${LISTED})`,
      },
      {
        code: 'handler_missing',
        message: `tools.hidden[3] names the tool ghost_tool, which the server does not list (it lists: ${LISTED})`,
      },
    ]);
    // Nothing of it is left running or reachable.
    const item = gw().registry.get('ghost-handlers')!;
    expect(item.upstream).toBeUndefined();
    expect(item.processes).toEqual([]);
  });

  it('refuses a manifest named switchboard, with its reason in `integrations list`', async () => {
    const items = await list();
    expect(items.get('switchboard')).toMatchObject({
      state: 'refused',
      reasons: [
        {
          code: 'manifest_invalid',
          message: expect.stringContaining(
            'name: found "switchboard", expected a name other than "switchboard" (the gateway\'s built-in task tools)',
          ),
        },
      ],
    });
    const cli = await runSwitchboard(['integrations', 'list'], {
      SWITCHBOARD_URL: gw().url,
      SWITCHBOARD_API_KEY: ADMIN_KEY,
    });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(
      /^switchboard\s+-\s+-\s+refused\s+-\s+0\s+manifest_invalid: .*name: found "switchboard", expected a name other than "switchboard"/m,
    );
  });

  it('counts only the tools agents see in the "integration ready" log line', () => {
    const ready = gw().logs.lines.filter(
      (l) => l.msg === 'integration ready' && l.integration === 'std-good',
    );
    expect(ready).toEqual([
      expect.objectContaining({ integration: 'std-good', tools: 4, hiddenTools: 1 }),
    ]);
  });
});
