import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './gateway.ts';

const SERVER = path.join(REPO_ROOT, 'test/fixtures/mcp-servers/panel-server.ts');
/** By URL: the integration folders live in a temp dir, where `--import tsx` would not resolve. */
const TSX = import.meta.resolve('tsx');

/** Panels of the `panels` fixture integration: each a case of panel-server.ts. */
export const FIXTURE_PANELS = [
  ['table', 'table'],
  ['kv', 'kv'],
  ['timeseries', 'timeseries'],
  ['huge', 'table'],
  ['many-rows', 'table'],
  ['malformed', 'table'],
  ['extra-keys', 'table'],
  ['error', 'table'],
  ['text-only', 'kv'],
  ['slow', 'kv'],
] as const;

function manifest(name: string, panels: string[], hidden: string[]): string {
  return [
    'apiVersion: switchboard/v1',
    `name: ${name}`,
    'version: 0.1.0',
    'description: Panel data for the panel tests',
    'server:',
    '  transport: stdio',
    '  command: node',
    `  args: ${JSON.stringify(['--import', TSX, SERVER])}`,
    'panels:',
    ...panels.map((p) => `  - ${p}`),
    `tools: { hidden: ${JSON.stringify(hidden)} }`,
    '',
  ].join('\n');
}

/**
 * A temp INTEGRATION_DIRS root: `panels` (panel-server.ts with FIXTURE_PANELS on its hidden
 * panel_data), `panels-visible` (a panel on a tool agents see) and `panels-foreign` (a panel on
 * github's tool), plus a policy enabling them and servers/github (its API on a closed local
 * port: the panel calls none, and nothing leaves the machine). Returns the root (join it with servers/ in INTEGRATION_DIRS) and the policy.
 */
export const PANELS_GITHUB_SECRET = 'panels-test-github-secret';

export function panelsRoot() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-panels-'));
  const write = (name: string, text: string) => {
    fs.mkdirSync(path.join(root, name));
    fs.writeFileSync(path.join(root, name, 'switchboard.yaml'), text);
  };
  write(
    'panels',
    manifest(
      'panels',
      FIXTURE_PANELS.map(
        ([name, view]) =>
          `{ name: ${name}, title: "Panel ${name}", tool: panel_data, view: ${view} }`,
      ),
      ['panel_data'],
    ),
  );
  write(
    'panels-visible',
    manifest(
      'panels-visible',
      ['{ name: leak, title: Leak, tool: visible_tool, view: kv }'],
      ['panel_data'],
    ),
  );
  write(
    'panels-foreign',
    manifest(
      'panels-foreign',
      ['{ name: theirs, title: Theirs, tool: "github:on_webhook", view: table }'],
      ['panel_data'],
    ),
  );
  const policyPath = path.join(root, 'policy.yaml');
  fs.writeFileSync(
    policyPath,
    `apiVersion: switchboard/policy/v1
integrations:
  github:
    enabled: true
    grants: [webhooks, dispatch, schedules, sessions.write, http.outbound, documents]
    outboundHosts: [api.github.com]
    settings:
      GITHUB_TOKEN: ghp_panels_test_token
      GITHUB_WEBHOOK_SECRET: ${PANELS_GITHUB_SECRET}
      GITHUB_API_URL: http://127.0.0.1:9
  panels: { enabled: true }
  panels-visible: { enabled: true }
  panels-foreign: { enabled: true }
tokens: { defaultTtl: 15m, maxTtl: 2h }
`,
  );
  return {
    root,
    policyPath,
    integrationDirs: `${path.join(REPO_ROOT, 'servers')}:${root}`,
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}
