import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ReloadQueue } from '../../gateway/src/cli/dev/watch.ts';
import type { DoctorState } from '../../gateway/src/cli/doctor/finding.ts';
import { checkPort } from '../../gateway/src/cli/doctor/port.ts';
import { loadConfig } from '../../gateway/src/config.ts';
import { ADMIN_KEY, REPO_ROOT, spawnSwitchboard, useTestGateway } from '../helpers/gateway.ts';

// `switchboard dev` against a real gateway: editing a tool's description in an integration folder
// reloads that integration, and tools/list (the API's tool details) shows the new description.
// The folder is a copy of test/fixtures/doctor/greeter inside the repository (tsx does not run
// servers from /tmp).
const ROOT = fs.mkdtempSync(path.join(REPO_ROOT, 'test/fixtures/.generated-dev-'));
const DIR = path.join(ROOT, 'greeter');
fs.cpSync(path.join(REPO_ROOT, 'test/fixtures/doctor/greeter'), DIR, { recursive: true });
const POLICY = path.join(ROOT, 'policy.yaml');
fs.writeFileSync(
  POLICY,
  'apiVersion: switchboard/policy/v1\nintegrations:\n  greeter: { enabled: true }\ntokens: { defaultTtl: 15m, maxTtl: 2h }\n',
);

afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));

const gateway = useTestGateway({ INTEGRATION_DIRS: ROOT, SWITCHBOARD_POLICY: POLICY });

async function greetDescription(): Promise<string | undefined> {
  const res = await fetch(`${gateway().url}/api/v1/integrations/greeter`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  const json = (await res.json()) as {
    integration: { state: string; toolDetails: Array<{ name: string; description?: string }> };
  };
  return json.integration.toolDetails.find((t) => t.name === 'greet')?.description;
}

describe('switchboard dev', () => {
  it('reloads the integration whose folder changed; SIGINT stops it with exit 0', async () => {
    expect(await greetDescription()).toBe('Says hello');
    const child = spawnSwitchboard(['dev'], {
      SWITCHBOARD_URL: gateway().url,
      SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
      INTEGRATION_DIRS: ROOT,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await expect.poll(() => stdout, { timeout: 20_000 }).toMatch(/^watching /m);

      // A change under an ignored folder reloads nothing: after more than the 300 ms quiet
      // period, no reload was printed (this can only miss a bug on a slow run, never fail).
      fs.mkdirSync(path.join(DIR, 'node_modules'));
      fs.writeFileSync(path.join(DIR, 'node_modules', 'noise.js'), '');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(stdout).not.toMatch(/greeter:/);

      const server = path.join(DIR, 'server.ts');
      fs.writeFileSync(
        server,
        fs
          .readFileSync(server, 'utf8')
          .replace("'Says hello'", "'Says hello, edited while watched'"),
      );
      await expect
        .poll(greetDescription, { timeout: 20_000 })
        .toBe('Says hello, edited while watched');
      // The default pinning (first-sight) hides a changed tool until approved: the watcher says so.
      await expect
        .poll(() => stdout, { timeout: 20_000 })
        .toMatch(
          / greeter: ready \(0 tools; changed, awaiting approval: greet; review: switchboard integrations tools-diff greeter\)$/m,
        );
      // One save, one reload.
      expect(stdout.match(/greeter:/g)).toHaveLength(1);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(stdout).toMatch(/stopped watching/);
    expect(stderr).toBe('');
  }, 60_000);

  it('doctor: a port held by a running Switchboard is fine', async () => {
    const state: DoctorState = {
      env: {},
      config: loadConfig({ PORT: new URL(gateway().url).port }),
      sql: undefined,
      masterKey: undefined,
      policy: undefined,
      integrationNames: new Set(),
      probe: false,
    };
    expect(await checkPort(state)).toEqual([
      {
        severity: 'ok',
        check: 'port',
        found: `127.0.0.1:${new URL(gateway().url).port} is held by a running Switchboard (GET /healthz answers)`,
      },
    ]);
  });

  it('runs at most one reload per key, plus one queued, whatever the storm', async () => {
    const started: string[] = [];
    const releases: Array<() => void> = [];
    const queue = new ReloadQueue(async (key) => {
      started.push(key);
      await new Promise<void>((resolve) => releases.push(resolve));
    });
    for (let i = 0; i < 50; i++) queue.request('a');
    queue.request('b');
    expect(started).toEqual(['a', 'b']);
    releases.shift()!(); // a's first reload ends: the queued one (for all 49 requests) starts
    await expect.poll(() => started).toEqual(['a', 'b', 'a']);
    releases.shift()!();
    releases.shift()!();
    await queue.drain();
    expect(started).toEqual(['a', 'b', 'a']);
  });
});
