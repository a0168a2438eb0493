import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EMPTY_DIR, REPO_ROOT, spawnSwitchboard } from '../helpers/gateway.ts';
import { startGatewayProcess } from '../helpers/gateway-process.ts';

// Issue 12 item 13: "refuses the development policy in production mode". With
// SWITCHBOARD_MODE=production a real `switchboard start` refuses, before it opens any database,
// a policy that marks itself `development: true` or carries one of its `dev-only-` values (they
// are public: they are in this repository), and a master key generated into the data dir.

const DEFAULT_POLICY = path.join(REPO_ROOT, 'policy/default.yaml');
const MASTER_KEY = '7b'.repeat(32);
const dirs: string[] = [];
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-prod-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A policy file in a temp dir; `text` is the whole YAML. */
function policyFile(text: string): string {
  const file = path.join(tempDir(), 'policy.yaml');
  fs.writeFileSync(file, text);
  return file;
}

/** `switchboard start` that must refuse: its exit code and output (killed after 45 s if it runs). */
async function refusedStart(env: Record<string, string>) {
  const dataDir = tempDir();
  const child = spawnSwitchboard(['start'], {
    PORT: '0',
    INTEGRATION_DIRS: EMPTY_DIR,
    SWITCHBOARD_DATA_DIR: dataDir,
    ...env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  // A gateway that does not refuse keeps running: stop it so the assertions below report that.
  const deadline = setTimeout(() => child.kill('SIGKILL'), 45_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(deadline);
  const result = { code, stdout, stderr };
  // Refused before the database: the embedded data dir was never created.
  expect(fs.readdirSync(dataDir)).toEqual([]);
  return result;
}

describe('SWITCHBOARD_MODE=production', () => {
  it('refuses the shipped development policy, naming the file and why (exit 2)', async () => {
    const r = await refusedStart({
      SWITCHBOARD_MODE: 'production',
      SWITCHBOARD_MASTER_KEY: MASTER_KEY,
    });
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
    expect(r.stderr).toContain(`SWITCHBOARD_POLICY=${JSON.stringify(DEFAULT_POLICY)}`);
    expect(r.stderr).toContain('the policy says development: true');
    expect(r.stderr).toContain('integrations.github.settings.GITHUB_WEBHOOK_SECRET');
    expect(r.stderr).toContain('refused when SWITCHBOARD_MODE=production');
  });

  it('refuses a copy of it without the development flag: the dev-only- values give it away', async () => {
    const copy = fs
      .readFileSync(DEFAULT_POLICY, 'utf8')
      .replace(/^development: true.*$/m, '')
      .replace('dev-only-chat-signing-secret', 'a-real-looking-secret');
    expect(copy).not.toMatch(/^development:/m);
    const file = policyFile(copy);
    const r = await refusedStart({
      SWITCHBOARD_MODE: 'production',
      SWITCHBOARD_MASTER_KEY: MASTER_KEY,
      SWITCHBOARD_POLICY: file,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`SWITCHBOARD_POLICY=${JSON.stringify(file)}`);
    expect(r.stderr).not.toContain('development: true');
    expect(r.stderr).toContain(
      'integrations.github.settings.GITHUB_WEBHOOK_SECRET, integrations.github.settings.GITHUB_TOKEN hold development values (dev-only-…)',
    );
    expect(r.stderr).not.toContain('CHAT_SIGNING_SECRET');
  });

  it('refuses to generate a master key into the data dir', async () => {
    const file = policyFile('apiVersion: switchboard/policy/v1\n');
    const r = await refusedStart({ SWITCHBOARD_MODE: 'production', SWITCHBOARD_POLICY: file });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'SWITCHBOARD_MASTER_KEY=(unset): required when SWITCHBOARD_MODE=production',
    );
    expect(r.stderr).not.toContain('SWITCHBOARD_POLICY=');
  });

  it('rejects an unknown mode like any bad variable', async () => {
    const r = await refusedStart({ SWITCHBOARD_MODE: 'prod' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('SWITCHBOARD_MODE="prod": expected one of development, production');
  });

  it('starts with an operator policy and a master key, and serves', async () => {
    const file = policyFile('apiVersion: switchboard/policy/v1\ntokens: { maxTtl: 1h }\n');
    const gw = await startGatewayProcess({
      SWITCHBOARD_MODE: 'production',
      SWITCHBOARD_POLICY: file,
      SWITCHBOARD_MASTER_KEY: MASTER_KEY,
    });
    try {
      const res = await fetch(`${gw.url}/readyz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'ready' });
    } finally {
      await gw.cleanup();
    }
  });

  it('development mode (the default) still starts with the development policy', async () => {
    const gw = await startGatewayProcess({ SWITCHBOARD_POLICY: DEFAULT_POLICY });
    try {
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
    } finally {
      await gw.cleanup();
    }
  });
});
